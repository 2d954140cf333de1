"""Engine and session factory. Services take a Session and never commit; callers own the scope."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from geo.core.clock import install_city_zone
from geo.core.config import database_settings

# Every engine hides statement parameters from its error messages: a traceback or log line
# must never carry an ID number, a phone or a name that a query was given.
HIDE_PARAMETERS = {"hide_parameters": True}
# JIT off on every connection: the app's statements are short, and compiling a plan costs more
# than it saves (busy MVT tiles: 20 ms -> 75 ms with JIT, whose cost estimates ST_AsMVTGeom
# crosses). Set at connect, not per statement: a `SET LOCAL` per request is a round trip.
# libpq's PGOPTIONS (the frozen test clock rides on it) is kept: an `options` argument replaces it.


def connect_args() -> dict[str, str]:
    return {"options": f"{os.environ.get('PGOPTIONS', '')} -c jit=off".strip()}


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    engine = create_engine(
        url or database_settings().sqlalchemy_url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args=connect_args(),
        **HIDE_PARAMETERS,
    )
    return install_city_zone(engine)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _admin(url: URL) -> Engine:
    return create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", **HIDE_PARAMETERS
    )


def drop_database(url: URL, *, create: bool = False) -> None:
    """Drop the database of `url` (ending its sessions) and, with `create`, make it anew empty.

    For tests and benchmarks, which work on scratch databases beside the real one.
    """
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
            if create:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def recreate_database(url: URL) -> None:
    drop_database(url, create=True)


def analyze_own_tables(session: Session) -> None:
    """Planner statistics for this database's own tables after a bulk load (inside its
    transaction, which autovacuum cannot see into). Not a database-wide ANALYZE: that also locks
    the server's shared catalogs (pg_authid) until the transaction ends, stalling every other
    database's ANALYZE."""
    tables = session.scalars(
        text(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname = 'public'"
        )
    ).all()
    session.execute(text("ANALYZE " + ", ".join(tables)))
