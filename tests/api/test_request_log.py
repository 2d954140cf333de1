"""Structured logs (geo/core/logs.py): one JSON line per request with the route template, status,
duration and account id, never the path as sent, its query string or a person's data; and one
per scheduler pass, resident import and boundary release."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from api import scheduler
from geo.access.principal import Principal
from geo.accounts import tokens
from geo.accounts.models import Account
from geo.core import logs
from geo.residents.intake import excel, imports
from geo.spatial.boundaries import importing, releases

PHONE = "13800138000"  # a person's number a caller might put in a URL


def _read(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure(stream=out)
    try:
        yield out
    finally:
        logs.configure()


def test_one_line_per_request_with_template_status_duration_and_account(client, session, captured):
    account = Account(name="log-dispatcher", display_name="log", role="dispatcher")
    session.add(account)
    session.flush()
    token = tokens.start_session(session, account).access_token
    session.commit()

    r = client.get(
        f"/api/v1/cases/987654321?note={PHONE}", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 404
    raw = captured.getvalue()
    requests = [x for x in _read(captured) if x["event"] == "request"]
    assert len(requests) == 1
    (line,) = requests
    assert line["logger"] == "houniao.request" and line["level"] == "info"
    assert line["method"] == "GET" and line["status"] == 404
    assert line["route"] == "/api/v1/cases/{case_id}"
    assert line["user_id"] == account.id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["ts"].endswith("+00:00")
    # Neither the query string nor the id as sent reaches the log.
    assert PHONE not in raw and "987654321" not in raw and "note=" not in raw


def test_a_request_that_waited_on_no_lock_has_no_lock_field(client, captured):
    assert client.get("/healthz").status_code == 200
    (line,) = [x for x in _read(captured) if x["event"] == "request"]
    assert "lock_wait_ms" not in line


def test_anonymous_and_unmatched_requests_are_logged_without_their_path(client, captured):
    assert client.get(f"/no/such/{PHONE}").status_code == 404
    assert client.get("/healthz").status_code == 200
    first, second = [x for x in _read(captured) if x["event"] == "request"]
    assert (first["route"], first["status"], first["user_id"]) == ("(unmatched)", 404, None)
    assert (second["route"], second["status"]) == ("/healthz", 200)
    assert PHONE not in captured.getvalue()


def test_a_scheduler_pass_is_one_line(monkeypatch, session, captured):
    @contextmanager
    def test_database() -> Iterator[Session]:  # the test database, not DATABASE_URL
        yield session

    monkeypatch.setattr(scheduler, "session_scope", test_database)
    escalated = scheduler.run_once()
    (line,) = [x for x in _read(captured) if x["event"] == "scheduler.pass"]
    assert line["logger"] == "houniao.scheduler"
    assert line["escalated"] == escalated == len(line["case_ids"])
    assert line["duration_ms"] >= 0


def test_a_resident_import_logs_counts_only(session, captured):
    csv = f"姓名,手机号,经度,纬度,坐标系,入住日期\n王秀英,{PHONE},128.9,47.7,wgs84,2026-06-01\n"
    table = excel.read_table(csv.encode(), "王秀英名单.csv")
    report = imports.run_import(session, Principal.system("test"), table, channel="police")
    (line,) = [x for x in _read(captured) if x["event"] == "import.residents"]
    assert line["logger"] == "houniao.imports" and line["channel"] == "police"
    assert line["rows"] == 1 and line["committed"] is False  # a dry run
    assert line["counts"] == {k: n for k, n in report["counts"].items() if n}
    raw = captured.getvalue()
    assert PHONE not in raw and "王秀英" not in raw  # not the number, the name or the file name


def test_a_boundary_release_logs_written_and_activated(session, captured, tmp_path: Path):
    cells = gpd.read_postgis(
        text(
            "SELECT code, name, geom FROM grid_cell"
            " WHERE community_code = '230717001001' AND release_high IS NOT NULL ORDER BY code"
        ),
        session.connection(),
        geom_col="geom",
    ).rename_geometry("geometry")
    path = tmp_path / "cells.geojson"
    cells.to_file(path, engine="pyogrio")
    releases.stage(session, importing.read_boundaries(path, "grid", None))
    report = releases.validate(session)
    previous = releases.active_release_id(session)
    rid = releases.write_release(session, name="t", level="grid", source="t", report=report)
    events = {x["event"]: x for x in _read(captured) if x["logger"] == "houniao.releases"}
    assert events["release.written"]["release_id"] == rid
    assert events["release.written"]["rows"] == len(cells)
    assert events["release.activated"] == {
        **events["release.activated"],
        "release_id": rid,
        "previous": previous,
    }
