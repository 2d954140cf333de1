"""Typed dependencies so handler signatures read like declarations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from geo.access.principal import app_engine
from geo.core import replica
from geo.core.db import session_factory
from geo.core.errors import DomainError

_sessions = None


# A write's WAL position for read-your-writes (api.reads.ReadYourWrites sets it per write): the
# request's commits read it in their own round trip. Worker threads see it (anyio copies context).
WRITE_POSITION: ContextVar[replica.PositionAtCommit | None] = ContextVar(
    "houniao_write_position", default=None
)


def request_scope(session: Session) -> Iterator[Session]:
    """Commit when the handler succeeds, roll back otherwise: no half-written rows.

    Errors with `keep_writes` (failed logins, lockouts, denied access) commit what the request
    wrote before them: their counters and audit rows must survive the failure.
    """
    try:
        yield session
        _commit(session)
    except DomainError as exc:
        if exc.keep_writes:
            _commit(session)
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise


def _commit(session: Session) -> None:
    wanted = WRITE_POSITION.get()
    if wanted is None:
        session.commit()
        return
    with replica.position_read_by_commit(wanted):
        session.commit()


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


@contextmanager
def lookup_session_for(request: Request) -> Iterator[Session]:
    """`session_for` without a transaction of its own (autocommit): for a handler's one read
    that needs neither a snapshot nor transaction-local settings (a token's check before a cached
    answer), so it costs one round trip, not BEGIN, the read and COMMIT. Never for scoped reads:
    `houniao.*` settings set with `set_config(..., true)` would end with their own statement. A
    session already in a transaction, or bound to a connection in one (a test's shared one), is
    used as it is."""
    with session_for(request) as session:
        bind = session.get_bind()
        joined = isinstance(bind, Connection) and bind.in_transaction()
        if not session.in_transaction() and not joined:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
