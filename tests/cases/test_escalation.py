"""Escalation by the clock: per-tier limits, skipping a tier whose limit also passed, only running
cases, and `houniao cases escalate-overdue` through the installed CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import as_system
from geo.cases import clock, service
from geo.cases.schemas import CaseCreate
from tests.cases.conftest import CELL, dispatcher_principal, point_in
from tests.db import test_database_url

T0 = datetime(2025, 7, 20, 0, 0, tzinfo=UTC)
HOUNIAO = str(Path(sys.executable).with_name("houniao"))


def _mine(result: list[dict], *ids: int) -> list[tuple[int, str, str]]:
    return [(r["id"], r["from_tier"], r["to_tier"]) for r in result if r["id"] in ids]


def test_tier_limits_escalate_grid_then_community_then_stop(session, new_case):
    case = new_case("dispatched", at=T0, category="medical")  # complex: grid 4 h, community 12 h
    cid = case["properties"]["id"]
    assert _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=3)), cid) == []
    assert _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=5)), cid) == [
        (cid, "grid", "community")
    ]
    assert _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=5)), cid) == []
    assert _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=13)), cid) == [
        (cid, "community", "street")
    ]
    assert _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=30)), cid) == []
    tiers = session.execute(
        text(
            "SELECT from_tier, to_tier, actor_role, at FROM case_event"
            " WHERE case_id = :i AND action = 'escalate' ORDER BY id"
        ),
        {"i": cid},
    ).all()
    assert [(str(a), str(b), r) for a, b, r, _ in tiers] == [
        ("grid", "community", "system"),
        ("community", "street", "system"),
    ]
    assert tiers[0].at == T0 + timedelta(hours=5)


def test_a_case_past_both_limits_goes_straight_to_the_street(session, new_case):
    case = new_case("reported", at=T0, category="medical")
    cid = case["properties"]["id"]
    assert _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=20)), cid) == [
        (cid, "grid", "street")
    ]
    status = session.execute(text("SELECT status FROM cases WHERE id = :i"), {"i": cid}).scalar()
    assert status == "dispatched"


def test_finished_and_cancelled_cases_are_never_escalated(session, new_case):
    done = new_case("feedback_given", at=T0, category="medical")["properties"]["id"]
    gone = new_case("cancelled", at=T0, category="medical")["properties"]["id"]
    closed = new_case("closed", at=T0, category="medical")["properties"]["id"]
    assert (
        _mine(clock.escalate_overdue(session, now=T0 + timedelta(hours=40)), done, gone, closed)
        == []
    )


def test_cli_escalate_overdue_with_now(committed):
    with Session(committed) as s:
        as_system(s)
        lon, lat = point_in(s, CELL)
        cid = service.create_case(
            s,
            dispatcher_principal(),
            CaseCreate(category="other", description="CLI 测试", lon=lon, lat=lat),
            now=T0,
        )["case"]["id"]
        s.commit()
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HOUNIAO, *a], capture_output=True, text=True, env=env, timeout=120)

    bad = run("cases", "escalate-overdue", "--now", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
    at = (T0 + timedelta(hours=25)).isoformat()
    first = run("cases", "escalate-overdue", "--now", at)
    assert first.returncode == 0, first.stderr
    assert (cid, "grid", "community") in [
        (r["id"], r["from_tier"], r["to_tier"]) for r in json.loads(first.stdout)
    ]
    again = run("cases", "escalate-overdue", "--now", at)
    assert again.returncode == 0 and cid not in [r["id"] for r in json.loads(again.stdout)]


def test_a_backlog_is_escalated_in_committed_batches_each_case_once(session, new_case, monkeypatch):
    from contextlib import contextmanager

    from api import scheduler

    @contextmanager
    def test_database():  # the test's database and transaction, not DATABASE_URL's
        yield session

    monkeypatch.setattr(scheduler, "session_scope", test_database)
    monkeypatch.setattr(scheduler, "ESCALATION_BATCH", 2)
    ids = [new_case("reported", at=T0, category="medical")["properties"]["id"] for _ in range(5)]
    due = session.scalar(
        text(
            "SELECT count(*) FROM cases WHERE status = ANY(CAST(:s AS case_status[]))"
            " AND tier <> 'street' AND CASE tier WHEN 'grid' THEN grid_due_at"
            " ELSE community_due_at END < city_now()"
        ),
        {"s": [s.value for s in clock.ESCALATABLE]},
    )
    assert scheduler.run_once() == due >= 5
    events = session.execute(
        text(
            "SELECT case_id, count(*) FROM case_event WHERE action = 'escalate'"
            " AND case_id = ANY(:ids) GROUP BY 1"
        ),
        {"ids": ids},
    ).all()
    assert sorted(events) == [(i, 1) for i in sorted(ids)]
    assert scheduler.run_once() == 0  # nothing left, and nothing twice
