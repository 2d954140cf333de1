"""Engine and session factory. Services take a Session and never commit; callers own the scope."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from geo.core.clock import install_city_zone
from geo.core.config import database_settings
from geo.core.replica import install_position_at_commit

# Every engine hides statement parameters from its error messages: a traceback or log line
# must never carry an ID number, a phone or a name that a query was given.
HIDE_PARAMETERS = {"hide_parameters": True}
# JIT off on every connection: the app's statements are short, and compiling a plan costs more
# than it saves (busy MVT tiles: 20 ms -> 75 ms with JIT, whose cost estimates ST_AsMVTGeom
# crosses). Set at connect, not per statement: a `SET LOCAL` per request is a round trip.
# libpq's PGOPTIONS (the frozen test clock rides on it) is kept: an `options` argument replaces it.


def connect_args() -> dict[str, str]:
    return {"options": f"{os.environ.get('PGOPTIONS', '')} -c jit=off".strip()}


# A pooled connection idle this long is pinged before it is handed out (a restarted server or a
# dropped idle socket is found there, not in a request). One used more recently is not: a ping on
# every checkout was a round trip per request (~0.2-0.8 ms of a ~10 ms case write). A connection
# that died within this window fails its request with 503 + Retry-After (as a connection cut
# mid-request does), and SQLAlchemy then replaces every connection of the pool.
PING_AFTER_IDLE_SECONDS = 2.0


def ping_when_idle(engine: Engine, after: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    """Pre-ping `engine`'s pooled connections that sat idle for `after` seconds; returns it."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError() from error  # the pool connects afresh and retries

    return engine


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    engine = create_engine(
        url or database_settings().sqlalchemy_url,
        pool_size=10,
        max_overflow=20,
        connect_args=connect_args(),
        **HIDE_PARAMETERS,
    )
    return install_position_at_commit(install_city_zone(ping_when_idle(engine)))


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
