"""KPIs against values computed by hand for a small fixture (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geo.cases import kpis, service
from geo.cases.schemas import CaseCreate, TransitionRequest
from tests.cases.conftest import CELL

NOW = datetime(2025, 8, 10, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)

# (category, reported_at, [(hours after report, who, action, extra)])
GW, D, CS = "grid_worker", "dispatcher", "community_staff"
FIXTURE = {
    "A": (
        "other",
        datetime(2025, 7, 1, tzinfo=UTC),
        [
            (1, D, "accept", {}),
            (2, D, "dispatch", {}),
            (3, GW, "start", {}),
            (10, GW, "give_feedback", {"note": "ok"}),
            (12, D, "confirm", {"solved": True, "satisfaction": 5}),
            (13, D, "close", {}),
        ],
    ),
    "B": (
        "other",
        datetime(2025, 7, 2, tzinfo=UTC),
        [
            (3, D, "accept", {}),
            (4, D, "dispatch", {}),
            (5, GW, "start", {}),
            (25, D, "escalate", {}),
            (26, CS, "start", {}),
            (50, CS, "give_feedback", {"note": "ok"}),
            (52, D, "confirm", {"solved": False, "satisfaction": 2}),
            (53, D, "close", {}),
        ],
    ),
    "C": (
        "other",
        datetime(2025, 7, 3, tzinfo=UTC),
        [
            (1, D, "accept", {}),
            (1.5, D, "dispatch", {}),
            (2, GW, "start", {}),
            (20, GW, "give_feedback", {"note": "ok"}),
            (21, D, "reopen", {"note": "没修好", "satisfaction": 1}),
            (30, GW, "give_feedback", {"note": "ok"}),
            (31, D, "confirm", {"solved": False, "satisfaction": 4}),
            (32, D, "close", {}),
        ],
    ),
    "D": (
        "other",
        datetime(2025, 7, 4, tzinfo=UTC),
        [(1, D, "cancel", {"reason": "invalid", "note": "无效"})],
    ),
    "E": (
        "other",
        datetime(2025, 8, 9, 12, tzinfo=UTC),
        [(1, D, "accept", {}), (2, D, "dispatch", {}), (3, GW, "start", {})],
    ),
    "F": (
        "other",
        datetime(2025, 8, 5, tzinfo=UTC),
        [(1.5, D, "accept", {}), (2, D, "dispatch", {}), (3, GW, "start", {})],
    ),
    "G": (
        "tourism",
        datetime(2025, 7, 5, tzinfo=UTC),
        [
            (0.5, D, "accept", {}),
            (1, D, "dispatch", {}),
            (1, GW, "start", {}),
            (5, GW, "give_feedback", {"note": "ok"}),
            (6, D, "confirm", {"solved": True, "satisfaction": 3}),
            (7, D, "close", {}),
        ],
    ),
}


@pytest.fixture
def fixture_cases(session, callers, inside):
    for category, t0, steps in FIXTURE.values():
        cid = service.create_case(
            session,
            callers["channel"].principal,
            CaseCreate(category=category, description="KPI 测试", lon=inside[0], lat=inside[1]),
            now=t0,
        )["case"]["id"]
        for hours, who, action, extra in steps:
            service.transition(
                session,
                callers[who].principal,
                cid,
                TransitionRequest(action=action, **extra),
                now=t0 + hours * H,
            )
    session.commit()


def _rows(session, who, callers, **kw):
    rows = kpis.kpis(
        session,
        callers[who].principal,
        cell=CELL,
        month_from="2025-07",
        month_to="2025-08",
        now=NOW,
        **kw,
    )
    return {tuple(r[k] for k in kw.get("group_by", ())): r for r in rows}


def test_kpis_match_hand_computed_values(session, callers, fixture_cases):
    rows = _rows(session, "dispatcher", callers, group_by=["category", "month"])
    assert set(rows) == {("other", "2025-07"), ("other", "2025-08"), ("tourism", "2025-07")}

    july = rows[("other", "2025-07")]  # A, B, C; D cancelled
    assert (july["cases"], july["cancelled"]) == (3, 1)
    assert july["response_rate"] == 0.6667  # A 1 h, C 1 h within 2 h; B 3 h late
    assert july["on_time_rate"] == 0.6667  # A 10 h, C 30 h (after reopen) <= 48 h; B 50 h
    assert july["resolution_rate"] == 0.3333  # solved: A yes, B no, C no
    assert july["satisfaction_rate"] == 0.6667  # 5, 2, 4 -> two of three >= 4
    assert (july["overdue_count"], july["overdue_open"], july["escalated"]) == (1, 0, 1)
    assert july["median_hours"] == {
        "response": 1.0,  # 1, 3, 1
        "dispatch": 1.0,  # 1, 1, 0.5
        "handling": 28.5,  # 10-2, 50-4, 30-1.5
        "confirmation": 2.0,  # 2, 2, 1
        "total": 32.0,  # 13, 53, 32
    }

    aug = rows[("other", "2025-08")]  # E running within its limit, F running past due
    assert (aug["cases"], aug["cancelled"]) == (2, 0)
    assert aug["response_rate"] == 1.0
    assert aug["on_time_rate"] == 0.0  # decided: only F (due 08-07 < now), late
    assert aug["resolution_rate"] is None and aug["satisfaction_rate"] is None
    assert (aug["overdue_count"], aug["overdue_open"], aug["escalated"]) == (1, 1, 0)
    assert aug["median_hours"] == {
        "response": 1.25,
        "dispatch": 0.75,
        "handling": None,
        "confirmation": None,
        "total": None,
    }

    tour = rows[("tourism", "2025-07")]
    assert (
        tour["response_rate"],
        tour["on_time_rate"],
        tour["resolution_rate"],
        tour["satisfaction_rate"],
    ) == (1.0, 1.0, 1.0, 0.0)
    assert tour["median_hours"] == {
        "response": 0.5,
        "dispatch": 0.5,
        "handling": 4.0,
        "confirmation": 1.0,
        "total": 7.0,
    }


def test_kpis_overall_and_per_area(session, callers, fixture_cases):
    (overall,) = _rows(session, "dispatcher", callers).values()
    assert (overall["cases"], overall["cancelled"]) == (6, 1)
    assert overall["response_rate"] == round(5 / 6, 4)  # all but B
    by_street = _rows(session, "street_staff", callers, group_by=["street"])
    assert list(by_street) == [(CELL[:9],)] and by_street[(CELL[:9],)]["cases"] == 6
    assert _rows(session, "other_grid", callers) == {}  # another cell: nothing


def test_planner_sees_small_groups_suppressed(session, callers, fixture_cases):
    # Planners read fixed windows of whole tables (tests/security/test_small_counts.py).
    rows = kpis.kpis(
        session, callers["planner"].principal, group_by=["category"], season=2025, now=NOW
    )
    rows = {(r["category"],): r for r in rows}
    assert rows[("other",)] == {"category": "other", "suppressed": True, "cases": None}
