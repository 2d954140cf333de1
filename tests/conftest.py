"""Fixtures: one migrated, demo-loaded database per run; each test rolled back; the city clock
real, or frozen for the whole run (HOUNIAO_TEST_CLOCK / --city-clock) or for one test
(@pytest.mark.city_clock): see tests/cityclock.py."""

from __future__ import annotations

import os
from pathlib import Path

# Before anything reads the settings (the app and its CLI subprocesses inherit these): the
# suite runs on the repository's development keys, which need HOUNIAO_ENV=development named
# explicitly, and no test depends on the in-app scheduler (api/scheduler.py), which would run
# against DATABASE_URL.
os.environ["HOUNIAO_ENV"] = "development"
os.environ["HOUNIAO_SCHEDULER"] = "0"
# The tile cache reads DATABASE_URL's case events, which are not the test's (rolled back, or
# another database): off, but in its own tests (tests/spatial/features/test_tile_cache.py).
os.environ["HOUNIAO_TILE_CACHE_MB"] = "0"
# `houniao serve` starts one worker per CPU unless told; the suite's servers (tests/live.py, the
# README walk, the fault site) run one each: many of them share the machine's cores, and two
# workers importing the app at once under that load outlast the tests' wait for /healthz.
os.environ.setdefault("HOUNIAO_WORKERS", "1")

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.core import clock, migrate
from geo.demo.load import load_yichun
from tests import cityclock
from tests.db import engine_for, recreate_database, request_sessions, test_database_url
from tests.hmac_keys import use_keys  # noqa: F401 - a fixture (HMAC key rotation tests)
from tests.site import Site, SiteDatabase, build_once_per_run, serve_site

_FROZEN = pytest.StashKey[object]()  # the session's time-machine traveller, when frozen
SITE_TIMEOUT = 1500  # seconds for a test of the demo site: the build, shared, plus its own 600
_SITE = pytest.StashKey[Future[SiteDatabase]]()  # the demo site's database, building early
SITE_GROUP = "demo-site"  # its users run on one pytest-xdist worker (--dist loadgroup)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--city-clock",
        default=os.environ.get(cityclock.ENV_CLOCK),
        help="run the whole suite with every clock frozen (ticking) at this Yichun wall-clock"
        f" time, e.g. 2026-04-30T23:30, or 'real' (default ${cityclock.ENV_CLOCK})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "city_clock(at): run the test with Python's and its session's SQL clock at `at`"
    )
    at = config.getoption("--city-clock")
    if at and at != "real" and not _xdist_controller(config):
        # before any connection is opened: PGOPTIONS is read when one is
        config.stash[_FROZEN] = cityclock.freeze_session(cityclock.city_time(at))


def _xdist_controller(config: pytest.Config) -> bool:
    """The process that hands tests to pytest-xdist's workers and runs none: it leaves the
    clocks alone, since its workers inherit its environment and each freezes its own."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"


# Marks by folder or file, so a run can leave a kind out (scripts/test's second clock run does).
# tests/e2e's browser and GDAL tests carry their own markers (`browser`, `gdal`).
FOLDER_MARKS = {"faults": "faults", "e2e/test_readme_walk.py": "walk"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads xdist_group to group tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        where = item.path.relative_to(tests).as_posix()
        for prefix, mark in FOLDER_MARKS.items():
            if where == prefix or where.startswith(prefix + "/"):
                item.add_marker(mark)
        if _uses_demo_site(item):  # one server, on one worker: its tests share what they write
            item.add_marker(pytest.mark.xdist_group(SITE_GROUP))


def _check_groups_reach_xdist(session: pytest.Session) -> None:
    """Under --dist loadgroup pytest-xdist tags each grouped test's id with its group; a pytest it
    does not know (9.2 with xdist 3.8) drops the tag silently, and the demo site's tests and the
    many-connection races then run on every worker at once. Refuse the run instead."""
    if not getattr(session.config.option, "loadgroup", False):
        return  # the controller, or a run without workers
    lost = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
    ]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}): this pytest and"
            " pytest-xdist do not work together; install the versions pyproject.toml names"
        )


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: only when a selected test needs it
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the demo site (minutes: a real `houniao load yichun`) in the background as
    the run starts, so it is ready when the browser tests and the README walk come; the load is
    mostly the database server's and a subprocess's work, beside the other tests."""
    _check_groups_reach_xdist(session)
    users = [item for item in session.items if _uses_demo_site(item)]
    if session.config.option.collectonly or not users:
        return
    for item in users:  # the first of them may wait for the build: its minutes, then its own
        item.add_marker(pytest.mark.timeout(SITE_TIMEOUT))
    # Under pytest-xdist every worker starts this; one builds, the others wait on its lock.
    workerinput = getattr(session.config, "workerinput", None)
    run_id = workerinput["testrunuid"] if workerinput is not None else None
    pool = ThreadPoolExecutor(1, thread_name_prefix="demo-site")
    session.config.stash[_SITE] = pool.submit(build_once_per_run, run_id)
    pool.shutdown(wait=False)  # its one thread ends with the build


def _uses_demo_site(item: pytest.Item) -> bool:
    """Whether `item` gets this module's `site` (tests/faults and others define their own)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get("site", ()) if info is not None else ()
    return bool(defs) and defs[-1].func.__module__ == __name__


def pytest_sessionfinish(session: pytest.Session) -> None:
    started = session.config.stash.get(_SITE, None)
    if started is not None:
        started.exception()  # wait for the build: its subprocesses must not outlive the run


def pytest_report_header(config: pytest.Config) -> str:
    at = config.getoption("--city-clock")
    if _xdist_controller(config) and at and at != "real":  # its workers' clock
        city, host = cityclock.city_time(at), cityclock.city_time(at).astimezone()
        return (
            f"city clock (frozen, in every worker): {city:%Y-%m-%d %H:%M} {clock.CITY_TZ_NAME};"
            f" host {host:%Y-%m-%d %H:%M %z}"
        )
    frozen = "frozen" if _FROZEN in config.stash else "real"
    host = datetime.now().astimezone()  # the host's own zone, to show how far off it is
    return (
        f"city clock ({frozen}): {clock.now():%Y-%m-%d %H:%M} {clock.CITY_TZ_NAME};"
        f" host {host:%Y-%m-%d %H:%M %z}"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _FROZEN in config.stash:
        config.stash[_FROZEN].stop()


@pytest.fixture(autouse=True)
def _city_clock_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """@pytest.mark.city_clock(at): Python's clock at `at` for this test (the `session` fixture
    moves the database's)."""
    marker = request.node.get_closest_marker("city_clock")
    if marker is None:
        yield
        return
    with cityclock.travel(cityclock.city_time(marker.args[0])):
        yield


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    url = test_database_url()
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    eng = engine_for(url)
    with Session(eng) as session:
        load_yichun(session)
        session.commit()
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """The whole demo site served by uvicorn (tests/site.py): browser tests and the README walk.
    Built from the start of the run (`pytest_collection_finish`); a failed build fails here."""
    started = request.config.stash.get(_SITE, None)  # None: requested dynamically, unforeseen
    built = started.result() if started is not None else build_once_per_run(None)
    with serve_site(built) as s:  # each worker that runs its users serves it (one, by group)
        yield s


@pytest.fixture
def session(engine: Engine, request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session whose every commit is a SAVEPOINT inside one transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    marker = request.node.get_closest_marker("city_clock")
    if marker is not None:  # city_now() at the marker's instant until the rollback below
        at = cityclock.city_time(marker.args[0])
        connection.execute(text(cityclock.OFFSET_SQL), {"at": at})
    sess = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def client(session: Session) -> Iterator[TestClient]:
    """Real HTTP through the ASGI app, sharing the test's rolled-back session."""
    app = create_app()

    app.dependency_overrides[get_session] = request_sessions(session)
    with TestClient(app) as c:
        yield c
