"""Typed dependencies so handler signatures read like declarations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from geo.access.principal import app_engine
from geo.core.db import session_factory
from geo.core.errors import DomainError

_sessions = None


def request_scope(session: Session) -> Iterator[Session]:
    """Commit when the handler succeeds, roll back otherwise: no half-written rows.

    Errors with `keep_writes` (failed logins, lockouts, denied access) commit what the request
    wrote before them: their counters and audit rows must survive the failure.
    """
    try:
        yield session
        session.commit()
    except DomainError as exc:
        if exc.keep_writes:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise


def get_session() -> Iterator[Session]:
    """One session per request."""
    global _sessions
    if _sessions is None:
        # The API's own engine: connections switch to the application role (HOUNIAO_DB_ROLE),
        # which owns no table, so row-level security applies to every request.
        _sessions = session_factory(app_engine())
    with _sessions() as session:
        yield from request_scope(session)


# scope="function": commit (or roll back) before the response is sent, so a client never sees a
# 2xx for a write that failed to commit, nor reads a row its previous request created but whose
# commit has not landed yet (FastAPI's default "request" scope ends after the response).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def session_for(request: Request) -> AbstractContextManager[Session]:
    """The request's session, opened by a handler only when it needs one (an async handler that
    mostly answers from memory): the same source and unit of work as SessionDep, and the same
    override (tests)."""
    provider = request.app.dependency_overrides.get(get_session, get_session)
    return contextmanager(provider)()
