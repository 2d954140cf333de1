"""What every engine the app makes sets on its connections."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from geo.access.rls import app_engine
from geo.core.db import get_engine, ping_when_idle
from tests.db import test_database_url


def test_the_app_engines_run_without_jit():
    """JIT is off at connect (geo/core/db.py connect_args): the tile path no longer spends a
    round trip per request on `SET LOCAL jit = off`."""
    engines = (get_engine(test_database_url().render_as_string(hide_password=False)), app_engine())
    for engine in engines:
        with engine.connect() as conn:
            assert conn.scalar(text("SHOW jit")) == "off"


def _engine(after: float):
    engine = create_engine(test_database_url(), pool_size=1, max_overflow=0)
    return ping_when_idle(engine, after=after)


def _terminate_pooled(engine) -> int:
    """End the backend of the pool's one idle connection from outside; its pid."""
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    with get_engine(test_database_url().render_as_string(hide_password=False)).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    return int(pid)


def test_a_connection_idle_past_the_window_is_pinged_and_replaced():
    """A pooled connection that died while idle longer than `after` is found by the ping at
    checkout and replaced: the request gets a fresh connection, not an error."""
    engine = _engine(after=0)
    try:
        dead = _terminate_pooled(engine)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != dead
    finally:
        engine.dispose()


def test_a_connection_used_within_the_window_is_not_pinged():
    """Within the window there is no ping (no round trip per request): a connection that died
    meanwhile fails its statement as a disconnect (the API answers 503), and the pool then
    hands out a fresh one."""
    engine = _engine(after=3600)
    try:
        dead = _terminate_pooled(engine)
        with pytest.raises(OperationalError) as failed, engine.connect() as conn:
            conn.scalar(text("SELECT 1"))
        assert failed.value.connection_invalidated
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != dead
    finally:
        engine.dispose()
