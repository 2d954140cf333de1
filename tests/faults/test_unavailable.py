"""Which database errors are outages (503 with Retry-After) and which are bugs (500), without a
cluster: the classification, and the answer the app gives when its session cannot connect."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.ops.unavailable import unavailable
from tests.db import request_sessions
from tests.live import free_port


def wrapped(sqlstate: str | None, kind: type[Exception] = OperationalError) -> Exception:
    driver = psycopg.errors.lookup(sqlstate)("x") if sqlstate else psycopg.OperationalError("x")
    return kind("SELECT 1", {}, driver)


@pytest.mark.parametrize(
    ("sqlstate", "says"),
    [
        (None, "cannot be reached"),
        ("08006", "connection to the database was lost"),
        ("57P01", "ended the connection"),
        ("57P03", "starting up"),
        ("53100", "out of disk space"),
        ("53300", "no free connections"),
        ("40P01", "deadlocked"),
        ("25006", "read-only"),
    ],
)
def test_outages_are_503_with_retry_after(sqlstate: str | None, says: str) -> None:
    outage = unavailable(wrapped(sqlstate))
    assert outage is not None and says in outage.detail
    assert outage.extra["headers"]["Retry-After"] == "1"
    # psycopg's own exception (COPY on the raw connection) is classified alike
    if sqlstate:
        assert unavailable(psycopg.errors.lookup(sqlstate)("x")) is not None


@pytest.mark.parametrize("sqlstate", ["42P01", "42703", "22P02"])
def test_bugs_are_not_outages(sqlstate: str) -> None:
    assert unavailable(wrapped(sqlstate, ProgrammingError)) is None


@pytest.fixture
def unreachable() -> Iterator[TestClient]:
    """The app whose request sessions point at a port where nothing listens."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/houniao")
    app = create_app()

    app.dependency_overrides[get_session] = request_sessions(engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


def test_an_unreachable_database_answers_503(unreachable: TestClient) -> None:
    answer = unreachable.get("/api/v1/case-catalogue")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert "cannot be reached" in answer.json()["detail"]


def test_a_bug_still_answers_500(unreachable: TestClient) -> None:
    app = unreachable.app

    def broken() -> Iterator[Session]:
        raise ProgrammingError("SELECT nope", {}, psycopg.errors.UndefinedTable("nope"))
        yield  # pragma: no cover

    app.dependency_overrides[get_session] = broken  # type: ignore[attr-defined]
    assert unreachable.get("/api/v1/case-catalogue").status_code == 500
