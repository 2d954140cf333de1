"""Fixtures: one migrated, demo-loaded database per run; each test rolled back."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session, request_scope
from geo import migrate
from geo.demo.load import load_yichun
from tests.db import engine_for, recreate_database, test_database_url
from tests.site import Site, demo_site

# No test depends on the in-app scheduler (api/scheduler.py); it would run against DATABASE_URL.
os.environ["HOUNIAO_SCHEDULER"] = "0"


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
def site() -> Iterator[Site]:
    """The whole demo site served by uvicorn (tests/site.py): browser tests and the README walk."""
    with demo_site() as s:
        yield s


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose every commit is a SAVEPOINT inside one transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
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

    def _session() -> Iterator[Session]:
        yield from request_scope(session)

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as c:
        yield c
