"""Test databases on the real PostgreSQL + PostGIS server named by DATABASE_URL.

A missing server is a failure, never a skip. Each test run gets a fresh database, migrated with
Alembic and loaded with the Yichun demo through the real loader.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url

from geo.core.clock import install_city_zone
from geo.core.config import database_settings
from geo.core.db import recreate_database  # noqa: F401  (re-exported for the tests)


def server_url() -> URL:
    return make_url(database_settings().sqlalchemy_url)


def test_database_url(suffix: str = "") -> URL:
    name = os.environ.get("HOUNIAO_TEST_DB", "houniao_test") + suffix
    return server_url().set(database=name)


def engine_for(url: URL) -> Engine:
    """The tests' engine: the app's (city TimeZone on every connection), smaller."""
    return install_city_zone(create_engine(url, pool_size=5, max_overflow=10))


test_database_url.__test__ = False  # a helper, not a test (pytest collects test_* names)
