"""A whole demo site for browser tests: its own database, migrated and loaded with
`houniao load yichun` (boundaries, cases, residents, demo accounts) through the real CLI,
and the API served by uvicorn in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.browser import launch_chromium
from tests.db import recreate_database, test_database_url
from tests.live import houniao, live_api

PASSWORD = "map-test-password-1"
OWN_CELL = "230717001001001"
# Accounts made with the documented CLI (the demo's own passwords are random).
ACCOUNTS = [
    ("users", "add", "t-dispatcher", "--role", "dispatcher", "--password", PASSWORD),
    ("users", "add", "t-planner", "--role", "planner", "--password", PASSWORD),
    ("users", "add", "t-grid", "--role", "grid_worker", "--cell", OWN_CELL, "--password", PASSWORD),
]


@dataclass
class Site:
    base: str
    database_url: str
    engine: Engine  # the owner's connection, for checking what the pages show
    password: str  # of every t-* account


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    url = test_database_url("_site")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    for args in (("db", "upgrade"), ("load", "yichun"), *ACCOUNTS):
        result = houniao(dsn, *args)
        assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(url)
    with live_api(dsn) as base:
        yield Site(base, dsn, engine, PASSWORD)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b
