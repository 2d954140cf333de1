"""`houniao kpis` through the installed CLI, and the in-app scheduler's switch (no test depends
on the scheduler running)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api import scheduler
from api.app import create_app
from api.deps import get_session
from geo.access.principal import as_system
from geo.cases import service
from geo.cases.schemas import CaseCreate, TransitionRequest
from tests.cases.conftest import CELL, dispatcher_principal, point_in
from tests.db import request_sessions, test_database_url

HOUNIAO = str(Path(sys.executable).with_name("houniao"))
T0 = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)


def test_cli_kpis_groups_and_refuses_bad_months(committed):
    with Session(committed) as s:
        as_system(s)
        lon, lat = point_in(s, CELL)
        cid = service.create_case(
            s,
            dispatcher_principal(),
            CaseCreate(category="transport", description="CLI KPI", lon=lon, lat=lat),
            now=T0,
        )["case"]["id"]
        service.transition(
            s,
            dispatcher_principal(),
            cid,
            TransitionRequest(action="accept"),
            now=T0 + timedelta(minutes=30),
        )
        s.commit()
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HOUNIAO, *a], capture_output=True, text=True, env=env, timeout=120)

    out = run(
        "kpis",
        "-g",
        "category",
        "-g",
        "month",
        "--cell",
        CELL,
        "--from",
        "2024-06",
        "--to",
        "2024-06",
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [(r["category"], r["month"], r["cases"], r["response_rate"]) for r in rows] == [
        ("transport", "2024-06", 1, 1.0)
    ]
    bad = run("kpis", "--from", "June")
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr


@pytest.mark.parametrize("value,on", [("0", False), ("off", False), ("1", True), (None, True)])
def test_scheduler_switch(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv("HOUNIAO_SCHEDULER", raising=False)
    else:
        monkeypatch.setenv("HOUNIAO_SCHEDULER", value)
    assert scheduler.enabled() is on


def test_app_starts_without_the_scheduler_in_tests(monkeypatch, session):
    calls = []
    monkeypatch.setattr(scheduler, "run_once", lambda: calls.append(1) or 0)
    assert os.environ["HOUNIAO_SCHEDULER"] == "0"  # set by tests/conftest.py
    app = create_app()

    # the test database, not the developer's
    app.dependency_overrides[get_session] = request_sessions(session)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
    assert calls == []
