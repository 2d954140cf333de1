"""Filing and reading cases through the service: placement, clock, duplicates, privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from geo.cases import queries, service
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.core.errors import Forbidden, InvalidInput, OutsideCoverage
from geo.spatial.crs import Crs, from_wgs84
from tests.cases.conftest import CELL, COMMUNITY, STREET, city_iso

T0 = datetime(2025, 7, 10, 2, 0, tzinfo=UTC)  # 10:00 in Yichun


def test_create_places_case_in_cell_and_starts_clock_in_db(session, callers, inside):
    body = CaseCreate(
        category="medical",
        description="老人摔倒",
        lon=inside[0],
        lat=inside[1],
        reporter={"name": "王秀英", "phone": "+86 138-0013-5678"},
    )
    out = service.create_case(session, callers["channel"].principal, body, now=T0)
    props = out["case"]["properties"]
    assert (props["cell_code"], props["community_code"], props["street_code"]) == (
        CELL,
        COMMUNITY,
        STREET,
    )
    assert props["status"] == "reported" and props["tier"] == "grid" and props["grade"] == "complex"
    # medical/complex: total 24 h, grid 4 h (seeded catalogue), set by the trigger
    assert props["due_at"] == city_iso(T0 + timedelta(hours=24))
    assert props["tier_due_at"] == city_iso(T0 + timedelta(hours=4))
    assert props["reporter"]["phone"] == "138****5678"
    assert out["case"]["geometry"]["type"] == "Point"
    stored = session.execute(
        text("SELECT reporter_phone_enc, reporter_phone_hash FROM cases WHERE id = :i"),
        {"i": props["id"]},
    ).one()
    assert stored[0].startswith("v1:") and "13800135678" not in stored[0] and len(stored[1]) == 64


def test_gcj02_point_is_converted_before_placing(session, callers, inside):
    glon, glat = (float(v) for v in from_wgs84(*inside, Crs.gcj02))
    body = CaseCreate(category="tourism", description="景区预约", lon=glon, lat=glat, crs="gcj02")
    out = service.create_case(session, callers["dispatcher"].principal, body)
    assert out["case"]["properties"]["cell_code"] == CELL


def test_outside_coverage_and_bad_input_are_refused(session, callers):
    me = callers["dispatcher"].principal
    with pytest.raises(OutsideCoverage):
        service.create_case(
            session, me, CaseCreate(category="other", description="xx", lon=116.4, lat=39.9)
        )
    with pytest.raises(InvalidInput, match="unknown category"):
        service.create_case(
            session, me, CaseCreate(category="nope", description="xx", lon=128.9, lat=47.7)
        )
    with pytest.raises(InvalidInput, match="location"):
        service.create_case(session, me, CaseCreate(category="other", description="xx"))
    with pytest.raises(InvalidInput, match="mobile"):
        service.create_case(
            session,
            me,
            CaseCreate(
                category="other", description="xx", lon=128.9, lat=47.7, reporter={"phone": "12345"}
            ),
        )


def test_public_may_not_grade_and_planner_may_not_file(session, callers, inside):
    with pytest.raises(InvalidInput, match="grade"):
        service.create_case(
            session,
            callers["public"].principal,
            CaseCreate(
                category="other", description="xx", lon=inside[0], lat=inside[1], grade="urgent"
            ),
        )
    with pytest.raises(Forbidden):
        service.create_case(
            session,
            callers["planner"].principal,
            CaseCreate(category="other", description="xx", lon=inside[0], lat=inside[1]),
        )


def test_grid_worker_files_only_in_own_cells(session, callers):
    from tests.cases.conftest import OTHER_CELL, point_in

    lon, lat = point_in(session, OTHER_CELL)
    with pytest.raises(InvalidInput, match="outside your scope"):
        service.create_case(
            session,
            callers["grid_worker"].principal,
            CaseCreate(category="other", description="xx", lon=lon, lat=lat),
        )


def test_clock_states_are_computed_in_the_database(session, new_case):
    case = new_case("reported", at=T0, category="other")  # simple: 48 h
    cid = case["properties"]["id"]
    me_state = lambda now: session.execute(  # noqa: E731
        text("SELECT case_clock(status, due_at, resolved_at, :now) FROM cases WHERE id = :i"),
        {"now": now, "i": cid},
    ).scalar()
    assert me_state(T0 + timedelta(hours=1)) == "on_track"
    assert me_state(T0 + timedelta(hours=36, minutes=1)) == "due_soon"
    assert me_state(T0 + timedelta(hours=48, seconds=1)) == "overdue"
    # and the service reports the same through its queries
    seen = queries.get_case(session, _dispatcher(new_case), cid, now=T0 + timedelta(hours=40))
    assert seen["properties"]["clock_state"] == "due_soon"


def _dispatcher(new_case):
    # the factory closes over `callers`; reach the dispatcher through it
    return new_case.__closure__[0].cell_contents["dispatcher"].principal


def test_regrading_on_accept_recomputes_deadlines_from_report_time(session, callers, new_case):
    case = new_case("reported", at=T0, category="other")
    cid = case["properties"]["id"]
    out = service.transition(
        session,
        callers["dispatcher"].principal,
        cid,
        TransitionRequest(action="accept", grade="urgent"),
        now=T0 + timedelta(hours=1),
    )
    assert out["properties"]["grade"] == "urgent"
    assert out["properties"]["due_at"] == city_iso(T0 + timedelta(hours=24))


def test_reopen_keeps_the_original_clock(session, callers, new_case):
    case = new_case("feedback_given", at=T0, category="other")
    cid = case["properties"]["id"]
    due = case["properties"]["due_at"]
    assert case["properties"]["clock_state"] == "met"
    later = T0 + timedelta(hours=50)
    out = service.transition(
        session,
        callers["channel"].principal,
        cid,
        TransitionRequest(action="reopen", note="问题没有解决", satisfaction=2),
        now=later,
    )
    p = out["properties"]
    assert p["status"] == "in_handling" and p["due_at"] == due and p["reopen_count"] == 1
    assert p["reported_at"] == city_iso(T0) and p["resolved_at"] is None
    state = session.execute(
        text("SELECT case_clock(status, due_at, resolved_at, :now) FROM cases WHERE id = :i"),
        {"now": later, "i": cid},
    ).scalar()
    assert state == "overdue"  # the clock runs again against the original due time


def test_possible_duplicates_offered_within_radius_and_window(session, callers, new_case, inside):
    first = new_case("accepted", category="public_facility", description="楼道灯坏了")
    out = service.create_case(
        session,
        callers["dispatcher"].principal,
        CaseCreate(
            category="public_facility",
            description="3单元楼道灯不亮",
            lon=inside[0] + 0.0002,
            lat=inside[1],
        ),
    )
    dups = out["possible_duplicates"]
    assert [d["id"] for d in dups] == [first["properties"]["id"]]
    assert 0 < dups[0]["distance_m"] < 50
    # another category, or too far: not offered
    other = service.create_case(
        session,
        callers["dispatcher"].principal,
        CaseCreate(category="medical", description="头晕", lon=inside[0], lat=inside[1]),
    )
    assert other["possible_duplicates"] == []


def test_cancel_as_duplicate_links_both_cases(session, callers, new_case):
    primary = new_case("accepted", category="environment", description="垃圾未清运")
    dup = new_case("reported", category="environment", description="垃圾堆积")
    pid, did = primary["properties"]["id"], dup["properties"]["id"]
    out = service.transition(
        session,
        callers["dispatcher"].principal,
        did,
        TransitionRequest(action="cancel", reason="duplicate", duplicate_of=pid, note="同一处垃圾"),
    )
    assert out["properties"]["status"] == "cancelled" and out["properties"]["duplicate_of"] == pid
    timeline = queries.timeline(session, callers["dispatcher"].principal, pid)
    assert timeline[-1]["action"] == "link_duplicate" and timeline[-1]["data"] == {"duplicate": did}


def test_event_log_is_append_only(session, new_case):
    case = new_case("accepted")
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(
            text("UPDATE case_event SET note = 'x' WHERE case_id = :i"),
            {"i": case["properties"]["id"]},
        )
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(
            text("DELETE FROM case_event WHERE case_id = :i"), {"i": case["properties"]["id"]}
        )


def test_timeline_records_who_when_from_to(session, callers, new_case):
    case = new_case("in_handling", at=T0)
    events = queries.timeline(session, callers["grid_worker"].principal, case["properties"]["id"])
    assert [e["action"] for e in events] == ["report", "accept", "dispatch", "start"]
    assert events[0]["to_status"] == "reported" and events[0]["actor_role"] == "channel"
    assert events[3]["from_status"] == "dispatched" and events[3]["to_status"] == "in_handling"
    assert events[3]["actor"] == "case-grid-worker" and events[3]["at"] == city_iso(T0)
