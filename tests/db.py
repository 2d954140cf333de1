"""Test databases on the real PostgreSQL + PostGIS server named by DATABASE_URL.

A missing server is a failure, never a skip. Each test run gets a fresh database, migrated with
Alembic and loaded with the Yichun demo through the real loader.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from geo.config import database_settings


def server_url() -> URL:
    return make_url(database_settings().sqlalchemy_url)


def test_database_url(suffix: str = "") -> URL:
    name = os.environ.get("HOUNIAO_TEST_DB", "houniao_test") + suffix
    return server_url().set(database=name)


def recreate_database(url: URL) -> None:
    admin = create_engine(server_url().set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": url.database},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def engine_for(url: URL) -> Engine:
    return create_engine(url, pool_size=5, max_overflow=10)


test_database_url.__test__ = False  # a helper, not a test (pytest collects test_* names)
