"""Test databases on the real PostgreSQL + PostGIS server named by DATABASE_URL.

A missing server is a failure, never a skip. Each test run gets a fresh database, migrated with
Alembic and loaded with the Yichun demo through the real loader.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session

from api.deps import request_scope
from geo.core import migrate
from geo.core.clock import install_city_zone
from geo.core.config import database_settings
from geo.core.db import (
    drop_database,
    recreate_database,  # noqa: F401  (re-exported for the tests)
)
from geo.demo import grid
from geo.spatial.boundaries import releases


def server_url() -> URL:
    return make_url(database_settings().sqlalchemy_url)


def shared_database_url(suffix: str = "") -> URL:
    """A database of the whole run, shared by its pytest-xdist workers (the demo site's)."""
    return server_url().set(database=os.environ.get("HOUNIAO_TEST_DB", "houniao_test") + suffix)


def test_database_url(suffix: str = "") -> URL:
    """This process's own test database (each pytest-xdist worker has one: `_gw0`, `_gw1` ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return shared_database_url((f"_{worker}" if worker else "") + suffix)


def engine_for(url: URL) -> Engine:
    """The tests' engine: the app's (city TimeZone on every connection), smaller."""
    return install_city_zone(create_engine(url, pool_size=5, max_overflow=10))


test_database_url.__test__ = False  # a helper, not a test (pytest collects test_* names)


def request_sessions(
    source: Session | Engine | Connection,
    *,
    before: Callable[[Session], object] | None = None,
    **session_options: Any,
) -> Callable[[], Iterator[Session]]:
    """An override of the API's `get_session` (or the intake's system session) for tests.

    Given a Session, every request shares it (the test's, rolled back at the end); given an
    engine or connection, each request gets a fresh Session on it (`session_options`). `before`
    runs on the session first (commit what the test wrote, clear scope settings, act as the
    system ...). The request's unit of work is the app's own `api.deps.request_scope`.
    """

    def override() -> Iterator[Session]:
        if isinstance(source, Session):
            if before is not None:
                before(source)
            yield from request_scope(source)
            return
        with Session(source, **session_options) as session:
            if before is not None:
                before(session)
            yield from request_scope(session)

    return override


def race(engine: Engine, n: int, work: Callable[[Session, int], Any]) -> list[Any]:
    """`work(session, i)` by n threads at once, each in its own transaction on its own (already
    open) connection, committed; per thread its result, or the exception it raised."""
    barrier = threading.Barrier(n, timeout=60)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        with Session(engine) as s:
            try:
                s.connection()  # connected before the start, so all n really race
            except Exception as exc:  # noqa: BLE001 - e.g. too many clients: fail, never hang
                barrier.abort()
                out[i] = exc
                return
            try:
                barrier.wait()
                out[i] = work(s, i)
                s.commit()
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test counts
                s.rollback()
                out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@contextmanager
def demo_release_database(suffix: str) -> Iterator[Engine]:
    """A scratch database at the migrations' head with the demo grid as its active release and
    nobody in it, committed (for what listens to or polls another connection's commits)."""
    url = test_database_url(suffix)
    drop_database(url, create=True)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    eng = engine_for(url)
    with Session(eng) as s:
        releases.stage(s, grid.generate().all())
        report = releases.validate(s)
        releases.write_release(s, name="demo", level="full", source="test", report=report)
        s.commit()
    try:
        yield eng
    finally:
        eng.dispose()
        drop_database(url)
