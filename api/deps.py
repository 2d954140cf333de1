"""Typed dependencies so handler signatures read like declarations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from geo.db import session_factory

_sessions = None


def request_scope(session: Session) -> Iterator[Session]:
    """Commit when the handler succeeds, roll back otherwise: no half-written rows."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def get_session() -> Iterator[Session]:
    """One session per request."""
    global _sessions
    if _sessions is None:
        _sessions = session_factory()
    with _sessions() as session:
        yield from request_scope(session)


SessionDep = Annotated[Session, Depends(get_session)]
