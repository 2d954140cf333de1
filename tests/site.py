"""A whole demo site: its own database, migrated and loaded with `houniao load yichun`
(boundaries, cases, residents, demo accounts) through the real CLI, one account per role made
with the documented `houniao users add`, and the API served by uvicorn in a subprocess.

Built once per test run by the session fixture `site` (tests/conftest.py) and shared by the
browser tests of the maps and the README walk (tests/e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.db import recreate_database, test_database_url
from tests.live import houniao, live_api

PASSWORD = "map-test-password-1"
OWN_CELL = "230717001001001"
# Accounts made with the documented CLI (the demo's own passwords are random), by role.
ACCOUNTS = {
    "dispatcher": ("t-dispatcher",),
    "planner": ("t-planner",),
    "grid_worker": ("t-grid", "--cell", OWN_CELL),
    "community_staff": ("t-community", "--community", OWN_CELL[:12]),
    "street_staff": ("t-street", "--street", OWN_CELL[:9]),
    "admin": ("t-admin",),
    "department": ("t-health", "--department", "health"),
    "channel": ("t-police", "--channel", "police"),
}


@dataclass
class Site:
    base: str
    database_url: str
    engine: Engine  # the owner's connection, for checking what the pages show
    password: str  # of every t-* account
    load_output: str = ""  # stderr of `houniao load yichun` (progress, demo accounts)
    names: dict[str, str] = field(default_factory=dict)  # role -> login name
    api_key: str = ""  # of the channel account (X-API-Key)


@contextmanager
def demo_site() -> Iterator[Site]:
    url = test_database_url("_site")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    outputs = {}
    for args in (("db", "upgrade"), ("load", "yichun")):
        result = houniao(dsn, *args)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[args[0]] = result
    names, api_key = {}, ""
    for role, (name, *scope) in ACCOUNTS.items():
        result = houniao(dsn, "users", "add", name, "--role", role, *scope, "--password", PASSWORD)
        assert result.returncode == 0, result.stderr[-3000:]
        names[role] = name
        if role == "channel":  # printed once, on the last line of stdout
            api_key = result.stdout.strip().splitlines()[-1].strip()
    engine = create_engine(url)
    try:
        with live_api(dsn) as base:
            yield Site(base, dsn, engine, PASSWORD, outputs["load"].stderr, names, api_key)
    finally:
        engine.dispose()
