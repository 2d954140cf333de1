"""Map reads from a streaming read replica (HOUNIAO_READ_DATABASE_URL), writes on the primary.

    def get_tile(session: ReadSessionDep, viewer: ViewerDep, ...): ...   # scoped reads
    def get_card(session: PublicReadSessionDep, ...): ...                 # no caller, no scope

Without HOUNIAO_READ_DATABASE_URL both give the request's own primary session (`SessionDep`):
nothing changes. With it, a read opens a session on the replica's engine (the application role,
as on the primary) and, in the same round trip, sets the caller's `houniao.*` row-level-security
settings for that transaction and asks the replica how it is (`geo.core.replica.begin_read`).
The caller is still resolved on the primary (tokens, API keys, revocations, the audit row of a
denied role), and so is everything that writes.

The primary serves the read instead when the replica
- cannot be reached, or errs like an outage (`geo.ops.unavailable`): "unreachable";
- is not in recovery (promoted, or the URL names a primary): "not_a_replica";
- has no WAL receiver running (its stream is broken: it cannot know how stale it is):
  "not_streaming";
- is behind by more than HOUNIAO_MAX_REPLICA_LAG_SECONDS: "lagging".
Each of these is logged once when it starts (`replica.fallback`, a warning with the reason) and
once when the replica serves again (`replica.restored`); meanwhile the replica is left alone for
HOUNIAO_READ_RETRY_SECONDS, then tried again. Every request line of the log says which served
its reads (`read`: replica | primary, `read_reason` when the primary stood in).

Read your own writes: after a successful write (POST, PUT, PATCH, DELETE under 400) the answer
carries the primary's WAL position read after the commit, as a cookie (`houniao_lsn`, 60 s) and a
header (`X-Houniao-LSN`; clients without cookies send it back as a request header). A read that
carries a position the replica has not replayed waits for it, polling, at most
HOUNIAO_READ_WAIT_MS, then reads from the primary ("behind_own_write"). A forged position only
sends its own sender's reads to the primary, after the wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import MaybeUser
from api.csrf import SAFE_METHODS
from api.deps import WRITE_POSITION, SessionDep, request_scope
from geo.access.principal import Principal, app_engine, rls_settings
from geo.core import logs, replica
from geo.core.config import ReplicaSettings, replica_settings, security_settings
from geo.core.db import get_engine, session_factory
from geo.ops.unavailable import unavailable

LOGGER = "houniao.replica"
LSN_COOKIE = "houniao_lsn"
LSN_HEADER = "X-Houniao-LSN"
LSN_MAX_AGE = 60  # s; longer than the lag bound: a replica that old falls back anyway
CONNECT_TIMEOUT = 2  # s, to a replica host that does not answer


@dataclass
class ReadRouter:
    """Where this process sends map reads; the replica's health as last seen (thread-safe)."""

    sessions: sessionmaker[Session]
    settings: ReplicaSettings
    _lock: threading.Lock
    _failing: str | None = None  # the reason the primary stands in, None while the replica serves
    _since: float = 0.0  # when `_failing` began (monotonic)
    _retry_at: float = 0.0  # before this, do not try the replica

    def open(self, rls: dict[str, str] | None, min_lsn: str | None) -> tuple[Session | None, str]:
        """A session on the replica ready for this caller, or (None, why the primary reads)."""
        if self._failing and time.monotonic() < self._retry_at:
            return None, self._failing
        session = self.sessions()
        try:
            state = replica.begin_read(session, rls, min_lsn)
            reason = self._verdict(state)
            if reason is None and not state.replayed:
                reason = self._wait(session, min_lsn)
        except DBAPIError as exc:
            session.close()
            if unavailable(exc) is None:
                raise  # a bug, not an outage: say so
            self._fail("unreachable", error=type(exc.orig).__name__)
            return None, "unreachable"
        except BaseException:
            session.close()
            raise
        if reason is None:
            self._restore()
            return session, "replica"
        session.close()
        if reason != "behind_own_write":  # the replica's state, not this caller's
            self._fail(reason, lag_seconds=state.lag_seconds)
        return None, reason

    def _verdict(self, state: replica.ReplicaState) -> str | None:
        if not state.standby:
            return "not_a_replica"
        if not state.streaming:
            return "not_streaming"
        if state.lag_seconds is None or state.lag_seconds > self.settings.max_replica_lag_seconds:
            return "lagging"
        return None

    def _wait(self, session: Session, lsn: str | None) -> str | None:
        """Poll until the replica has replayed `lsn` (1, 2, 4 ... 16 ms apart), within the bound."""
        assert lsn is not None
        deadline = time.monotonic() + self.settings.read_wait_ms / 1000
        pause = 0.001
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(pause, left))
            if replica.replayed(session, lsn):
                return None
            pause = min(pause * 2, 0.016)
        return "behind_own_write"

    def _fail(self, reason: str, **detail: object) -> None:
        now = time.monotonic()
        with self._lock:
            self._retry_at = now + self.settings.read_retry_seconds
            if self._failing == reason:
                return
            self._failing, self._since = reason, now
        logs.event(
            "replica.fallback", logger=LOGGER, level=logging.WARNING, reason=reason, **detail
        )

    def _restore(self) -> None:
        if self._failing is None:
            return
        with self._lock:
            if self._failing is None:
                return
            reason, since = self._failing, self._since
            self._failing = None
        logs.event(
            "replica.restored",
            logger=LOGGER,
            after=reason,
            primary_seconds=round(time.monotonic() - since, 1),
        )


@lru_cache
def read_router() -> ReadRouter | None:
    """This process's router; None without HOUNIAO_READ_DATABASE_URL."""
    settings = replica_settings()
    if not settings.read_url:
        return None
    engine = app_engine(settings.read_url, connect_timeout=CONNECT_TIMEOUT)
    return ReadRouter(session_factory(engine), settings, threading.Lock())


def _reading(request: Request, primary: Session, rls: dict[str, str] | None) -> Iterator[Session]:
    router = read_router()
    if router is None:
        yield primary
        return
    started = time.perf_counter()
    session, source = router.open(rls, requested_lsn(request))
    # for the request's log line; the time includes a read-your-writes wait
    log = {"read_open_ms": round((time.perf_counter() - started) * 1000, 1)}
    if session is None:
        request.state.read_log = {"read": "primary", "read_reason": source, **log}
        yield primary  # its caller's settings were applied when the caller was resolved
        return
    request.state.read_log = {"read": "replica", **log}
    with session:
        yield from request_scope(session)


def get_read_session(request: Request, primary: SessionDep, me: MaybeUser) -> Iterator[Session]:
    """The caller's map reads: on the replica with their scope, or on the primary."""
    yield from _reading(request, primary, rls_settings(me))


def read_session_for(
    request: Request, primary: Session, me: Principal
) -> AbstractContextManager[Session]:
    """`get_read_session` for a handler that opens its own sessions (api/tile_cache.py)."""
    return contextmanager(_reading)(request, primary, rls_settings(me))


def public_read_session_for(request: Request, primary: Session) -> AbstractContextManager[Session]:
    """`get_public_read_session` for a handler that opens its own sessions (api/tile_cache.py)."""
    return contextmanager(_reading)(request, primary, None)


def get_public_read_session(request: Request, primary: SessionDep) -> Iterator[Session]:
    """Reads of public data for anyone (the service card): no caller, no scope settings."""
    yield from _reading(request, primary, None)


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
PublicReadSessionDep = Annotated[Session, Depends(get_public_read_session, scope="function")]


def requested_lsn(request: Request) -> str | None:
    """The WAL position the caller's last write left (header, else cookie), if well-formed."""
    return replica.parse_lsn(request.headers.get(LSN_HEADER) or request.cookies.get(LSN_COOKIE))


def _primary_position() -> str | None:
    try:  # the pooled engine: a new one per write cost each write a fresh connection
        # autocommit: the read alone, without BEGIN and the ROLLBACK that returns the connection
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return replica.wal_position(conn)
    except SQLAlchemyError as exc:  # the write stands; its writer may read a stale map once
        logs.event(
            "replica.no_position", logger=LOGGER, level=logging.WARNING, error=type(exc).__name__
        )
        return None


class ReadYourWrites:
    """ASGI middleware: a successful write's answer carries the primary's WAL position.

    The request's session commits before the answer starts (`SessionDep` is function-scoped,
    `in_one_thread` commits in its thread), reading the position in the COMMIT's own round trip
    (`api.deps.WRITE_POSITION`). A write committed otherwise (or as a savepoint, in tests) has
    the position read here, after it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        committed = replica.PositionAtCommit()

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                lsn = committed.lsn or await run_in_threadpool(_primary_position)
                if lsn:
                    headers = MutableHeaders(scope=message)
                    headers.append(LSN_HEADER, lsn)
                    headers.append("set-cookie", _cookie(lsn))
            await send(message)

        token = WRITE_POSITION.set(committed)
        try:
            await self.app(scope, receive, send_with_position)
        finally:
            WRITE_POSITION.reset(token)


def _cookie(lsn: str) -> str:
    secure = "; Secure" if security_settings().secure_cookies else ""
    return f"{LSN_COOKIE}={lsn}; Max-Age={LSN_MAX_AGE}; Path=/; HttpOnly; SameSite=Strict{secure}"
