"""What every engine the app makes sets on its connections."""

from __future__ import annotations

from sqlalchemy import text

from geo.access.rls import app_engine
from geo.core.db import get_engine
from tests.db import test_database_url


def test_the_app_engines_run_without_jit():
    """JIT is off at connect (geo/core/db.py connect_args): the tile path no longer spends a
    round trip per request on `SET LOCAL jit = off`."""
    engines = (get_engine(test_database_url().render_as_string(hide_password=False)), app_engine())
    for engine in engines:
        with engine.connect() as conn:
            assert conn.scalar(text("SHOW jit")) == "off"
