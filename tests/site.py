"""A whole demo site: its own database, migrated and loaded with `houniao load yichun`
(boundaries, cases, residents, demo accounts) through the real CLI, one account per role made
with the documented `houniao users add`, and the API served by uvicorn in a subprocess.

Built once per test run (once for all pytest-xdist workers) by the session fixture `site`
(tests/conftest.py) and shared by the browser tests of the maps and the README walk (tests/e2e),
which run on one worker (xdist group `demo-site`)."""

from __future__ import annotations

import fcntl
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.db import recreate_database, shared_database_url
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
    "centre_staff": ("t-centre", "--area"),  # + the demo centre's area, known after the load
}
DEMO_CENTRE_AREA_SQL = "SELECT service_area_id FROM account WHERE name = 'demo-centre'"


@dataclass
class Site:
    base: str
    database_url: str
    engine: Engine  # the owner's connection, for checking what the pages show
    password: str  # of every t-* account
    load_output: str = ""  # stderr of `houniao load yichun` (progress, demo accounts)
    names: dict[str, str] = field(default_factory=dict)  # role -> login name
    api_key: str = ""  # of the channel account (X-API-Key)


@dataclass(frozen=True)
class SiteDatabase:
    """A loaded demo database with its accounts: what the build leaves for a server."""

    database_url: str
    load_output: str
    names: dict[str, str]
    api_key: str


def build_site_database() -> SiteDatabase:
    """The minutes of a site: migrate, `houniao load yichun`, one account per role."""
    url = shared_database_url("_site")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    outputs = {}
    for args in (("db", "upgrade"), ("load", "yichun")):
        result = houniao(dsn, *args)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[args[0]] = result
    names, api_key = {}, ""
    engine = create_engine(dsn)
    with engine.connect() as conn:  # the area `houniao load yichun` gave its centre account
        centre_area = str(conn.exec_driver_sql(DEMO_CENTRE_AREA_SQL).scalar_one())
    engine.dispose()
    for role, (name, *scope) in ACCOUNTS.items():
        if role == "centre_staff":
            scope = [*scope, centre_area]
        result = houniao(dsn, "users", "add", name, "--role", role, *scope, "--password", PASSWORD)
        assert result.returncode == 0, result.stderr[-3000:]
        names[role] = name
        if role == "channel":  # printed once, on the last line of stdout
            api_key = result.stdout.strip().splitlines()[-1].strip()
    return SiteDatabase(dsn, outputs["load"].stderr, names, api_key)


def build_once_per_run(run_id: str | None) -> SiteDatabase:
    """The site database, built once per run: with pytest-xdist (`run_id`, the run's id shared by
    its workers) the first worker builds under a file lock and the others read what it left."""
    if run_id is None:
        return build_site_database()
    lock = Path(tempfile.gettempdir()) / f"houniao-site-{run_id}.lock"
    done = lock.with_suffix(".json")
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released when the file closes
        if done.exists():
            return SiteDatabase(**json.loads(done.read_text()))
        built = build_site_database()
        done.write_text(json.dumps(asdict(built)))
        return built


@contextmanager
def serve_site(built: SiteDatabase) -> Iterator[Site]:
    """The API served by uvicorn on the built database."""
    engine = create_engine(built.database_url)
    try:
        with live_api(built.database_url) as base:
            yield Site(
                base,
                built.database_url,
                engine,
                PASSWORD,
                built.load_output,
                built.names,
                built.api_key,
            )
    finally:
        engine.dispose()
