"""Hole 7 of issue 9: the system unit of work (intake, review, merge, split, departure, edit,
import) must commit before the response is sent, so a commit that fails is never answered 2xx.

The system session here is a real connection of its own, and its COMMIT really fails: a deferred
constraint trigger armed in the transaction raises at commit time, as a serialization failure or
a lost connection would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.routes import intake as intake_routes
from geo.access.principal import as_system
from geo.residents.models import IntakeReport
from tests.db import request_sessions
from tests.security.intake.helpers import IMPORT, INTAKE, at
from tests.security.intake.test_payloads import _xlsx

ARM = [
    "CREATE TEMP TABLE commit_refused (x int) ON COMMIT DROP",
    "CREATE FUNCTION pg_temp.refuse_commit() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'commit refused (test)'; END $$",
    "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON commit_refused DEFERRABLE INITIALLY"
    " DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_commit()",
    "INSERT INTO commit_refused VALUES (1)",
]


@pytest.fixture
def failing_commits(session: Session, engine: Engine) -> Iterator[TestClient]:
    """Requests read through the test's session; the system unit of work runs on a connection
    of its own whose COMMIT fails."""
    app = create_app()

    def armed(system: Session) -> None:
        as_system(system, "intake")
        for statement in ARM:
            system.execute(text(statement))

    app.dependency_overrides[get_session] = request_sessions(session)
    app.dependency_overrides[intake_routes.system_session] = request_sessions(engine, before=armed)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _stored(engine: Engine, name: str) -> int:
    with Session(engine) as s:
        as_system(s)
        return s.scalar(select(func.count()).where(IntakeReport.name == name))


def test_an_intake_whose_commit_fails_is_not_answered_2xx(failing_commits, engine, callers, here):
    response = failing_commits.post(
        INTAKE,
        headers=callers["grid_worker"].headers,
        json={
            "channel": "grid_worker",
            "crs": "wgs84",
            "report": {"name": "皇甫秀珍", "phone": "13588889999", **at(here["point"])},
        },
    )
    assert not 200 <= response.status_code < 300, response.text
    assert _stored(engine, "皇甫秀珍") == 0


def test_an_import_whose_commit_fails_is_not_answered_2xx(failing_commits, engine, callers, here):
    data = _xlsx(["姓名", "手机号", "地址"], [["皇甫建国", "13588880000", here["address"]]])
    response = failing_commits.post(
        IMPORT,
        headers=callers["community_staff"].headers,
        files={"file": ("名单.xlsx", data, "application/octet-stream")},
        data={"channel": "grid_worker", "commit": "true"},
    )
    assert not 200 <= response.status_code < 300, response.text
    assert _stored(engine, "皇甫建国") == 0
