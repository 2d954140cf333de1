"""A write's whole request in one worker thread: its session, caller, role check, work, commit
and the primary's WAL position for read-your-writes (read by the COMMIT's own round trip).

The same steps as dependencies (`SessionDep`, `CurrentUser`, `access()`) and a sync handler
cost FastAPI five hops between the event loop and its threads (a generator dependency's enter
and exit, the caller, the handler, the middleware's WAL read), ~0.11 ms each, and its
dependency solving: a third of what HTTP added to a case's transition
(bench/case_request_profile.py). The hot writes (file a case, a case's workflow step) use this
instead; declare their roles with `api.auth.access_in_handler`, the same OpenAPI as `access`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import Credentials, allowed_roles, check_role, resolve_caller
from api.deps import session_for
from geo.access.principal import Principal

T = TypeVar("T")


async def in_one_thread(
    request: Request,
    credentials: Credentials,
    work: Callable[[Session, Principal], T],
    *,
    roles: Iterable[str] | None = None,
) -> T:
    """`work(session, caller)` in one worker thread, committed (rolled back when it raises, as
    `SessionDep`). `roles`: who may call (anonymous callers get 401, other roles an audited
    403); None: anyone, signed in or not."""
    allowed = None if roles is None else allowed_roles(*roles)

    def run() -> T:
        with session_for(request) as session:
            me = resolve_caller(request, session, credentials)
            if allowed is not None:
                check_role(request, session, me, allowed)
            return work(session, me)  # committed on leaving, with the WAL position

    return await run_in_threadpool(run)
