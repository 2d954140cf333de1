"""Every action x every role x every status at the grid tier, against an expectation written out
by hand here (not derived from geo/cases/workflow.py), plus the street tier's summons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geo.cases import service
from geo.cases.schemas import TransitionRequest
from geo.cases.workflow import ACTIONS
from geo.core.errors import InvalidInput, InvalidTransition, NotFound
from tests.cases.conftest import city_iso

D, GW, CH = "dispatcher", "grid_worker", "channel"
IN_SCOPE = ("dispatcher", "street_staff", "community_staff", "grid_worker", "channel")
OUT_OF_SCOPE = (
    "department",
    "other_department",
    "other_channel",
    "other_grid",
    "planner",
    "admin",
    "public",
)

# status -> action -> the callers that may do it (grid tier; the channel filed the case)
EXPECTED: dict[str, dict[str, set[str]]] = {
    "reported": {"accept": {D, GW}, "cancel": {D, GW}, "escalate": {D, GW}},
    "accepted": {"cancel": {D, GW}, "dispatch": {D, GW}, "escalate": {D, GW}},
    "dispatched": {"start": {GW}, "escalate": {D, GW}},
    "in_handling": {"escalate": {D, GW}, "give_feedback": {GW}},
    "feedback_given": {"confirm": {D, CH}, "reopen": {D, CH}},
    "confirmed": {"close": {D, GW}},
    "closed": {},
    "cancelled": {},
}
TARGET = {
    "accept": "accepted",
    "cancel": "cancelled",
    "dispatch": "dispatched",
    "start": "in_handling",
    "escalate": "dispatched",
    "give_feedback": "feedback_given",
    "confirm": "confirmed",
    "reopen": "in_handling",
    "close": "closed",
    "summon": "in_handling",
    "acknowledge": "in_handling",
    "report_back": "in_handling",
}
PAYLOAD = {
    "cancel": {"reason": "invalid", "note": "不属于受理范围"},
    "summon": {"departments": ["health"]},
    "report_back": {"report": "已派医生"},
    "give_feedback": {"note": "已处理完毕"},
    "confirm": {"solved": True, "satisfaction": 5},
    "reopen": {"note": "仍未解决"},
}


def test_expectation_covers_every_action():
    assert set(TARGET) == set(ACTIONS)


@pytest.mark.parametrize("status", list(EXPECTED))
def test_every_action_for_every_role(session, callers, new_case, status):
    case = new_case(status)
    cid = case["properties"]["id"]
    version = case["properties"]["version"]
    for who, caller in callers.items():
        for action in sorted(ACTIONS):
            req = TransitionRequest(action=action, **PAYLOAD.get(action, {}))
            with session.begin_nested() as sp:
                try:
                    out = service.transition(
                        session, caller.principal, cid, req, expected_version=version
                    )
                    outcome = ("ok", out["properties"]["status"])
                except NotFound:
                    outcome = ("404", None)
                except InvalidTransition as exc:
                    outcome = ("409", exc.extra)
                except InvalidInput as exc:  # pragma: no cover - a payload mistake in this test
                    outcome = ("422", exc.detail)
                sp.rollback()
            where = f"{who} {action} from {status}: {outcome}"
            if who in OUT_OF_SCOPE:
                assert outcome[0] == "404", where
            elif who in EXPECTED[status].get(action, set()):
                assert outcome == ("ok", TARGET[action]), where
            else:
                assert outcome[0] == "409", where
                allowed = {a["action"] for a in outcome[1]["allowed"]}
                mine = {a for a, roles in EXPECTED[status].items() if who in roles}
                assert allowed == mine, where
                assert set(outcome[1]["allowed_next_states"]) == {TARGET[a] for a in mine}, where


def test_a_case_escalated_to_community_is_handled_by_community_staff(session, callers, new_case):
    case = new_case("dispatched")
    cid = case["properties"]["id"]
    out = service.transition(
        session, callers[GW].principal, cid, TransitionRequest(action="escalate")
    )
    assert (out["properties"]["tier"], out["properties"]["status"]) == ("community", "dispatched")
    with pytest.raises(InvalidTransition) as exc:
        service.transition(session, callers[GW].principal, cid, TransitionRequest(action="start"))
    assert exc.value.extra["allowed"] == []
    out = service.transition(
        session, callers["community_staff"].principal, cid, TransitionRequest(action="start")
    )
    assert out["properties"]["status"] == "in_handling"


def test_street_tier_summons_departments_who_acknowledge_and_report(session, callers, new_case):
    t0 = datetime(2025, 8, 1, 1, 0, tzinfo=UTC)
    case = new_case("in_handling", at=t0)
    cid = case["properties"]["id"]
    step = lambda who, action, minutes, **kw: service.transition(  # noqa: E731
        session,
        callers[who].principal,
        cid,
        TransitionRequest(action=action, **kw),
        now=t0 + timedelta(minutes=minutes),
    )
    step(D, "escalate", 10)
    step("community_staff", "start", 20)
    with pytest.raises(InvalidTransition, match="street tier"):
        step(D, "summon", 25, departments=["health"])
    step("community_staff", "escalate", 30)
    step("street_staff", "start", 40)
    with pytest.raises(InvalidTransition, match="no higher tier"):
        step(D, "escalate", 45)
    # the department sees nothing until summoned
    with pytest.raises(NotFound):
        service.transition(
            session, callers["department"].principal, cid, TransitionRequest(action="acknowledge")
        )
    out = step("street_staff", "summon", 50, departments=["health", "civil_affairs"])
    summons = {s["department_code"]: s for s in out["properties"]["summons"]}
    assert summons["health"]["ack_due_at"] == city_iso(t0 + timedelta(minutes=50, hours=2))
    assert summons["civil_affairs"]["ack_due_at"] == city_iso(t0 + timedelta(minutes=50, hours=4))
    with pytest.raises(InvalidTransition, match="acknowledge"):
        step("department", "report_back", 55, report="已处理")
    step("department", "acknowledge", 60)  # 卫健委 is `health` by its short name
    with pytest.raises(NotFound):  # 公安局 was not summoned: the case does not exist for it
        service.transition(
            session,
            callers["other_department"].principal,
            cid,
            TransitionRequest(action="acknowledge"),
        )
    step("department", "report_back", 90, report="已派家庭医生上门")
    with pytest.raises(InvalidTransition, match="not reported back"):
        step("street_staff", "give_feedback", 95, note="处理完毕")
    dept = callers["department"].principal.__class__(
        role="department", name="case-civil", department="民政局"
    )
    service.transition(
        session, dept, cid, TransitionRequest(action="acknowledge"), now=t0 + timedelta(minutes=100)
    )
    service.transition(
        session,
        dept,
        cid,
        TransitionRequest(action="report_back", report="已协调"),
        now=t0 + timedelta(minutes=110),
    )
    out = step("street_staff", "give_feedback", 120, note="处理完毕")
    assert out["properties"]["status"] == "feedback_given"
    assert out["properties"]["clock_state"] == "met"


def test_payload_mistakes_are_422_and_change_nothing(session, callers, new_case):
    case = new_case("reported")
    cid = case["properties"]["id"]
    with pytest.raises(InvalidInput, match="reason"):
        service.transition(session, callers[D].principal, cid, TransitionRequest(action="cancel"))
    with pytest.raises(InvalidInput, match="duplicate_of"):
        service.transition(
            session,
            callers[D].principal,
            cid,
            TransitionRequest(action="cancel", reason="duplicate"),
        )
    with pytest.raises(NotFound):
        service.transition(
            session,
            callers[D].principal,
            cid,
            TransitionRequest(action="cancel", reason="duplicate", duplicate_of=2_000_000_000),
        )
    after = service.transition(
        session, callers[D].principal, cid, TransitionRequest(action="accept")
    )
    assert after["properties"]["version"] == case["properties"]["version"] + 1
