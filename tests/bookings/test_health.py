"""Health-check appointments over real HTTP: invitations only to eligible residents present
this season in the caller's scope, booking a day by the invitation code (a full day: 409 with
other days and centres), cancelling frees the place, attended or missed recorded on the day,
mirrored into health_check, counted per cell; no result is ever stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from geo.access.principal import Principal, as_system
from geo.bookings import health
from geo.core.clock import city_date, current_season, db_now
from tests.bookings.residents import make_resident
from tests.cases.conftest import CELL, OTHER_CELL

BASE = "/api/v1/health-checks"


@pytest.fixture
def centre(session):
    as_system(session)
    area = session.execute(
        text("SELECT id FROM service_area WHERE community_code = :c ORDER BY id LIMIT 1"),
        {"c": CELL[:12]},
    ).scalar()
    if area is None:
        area = session.execute(text("SELECT id FROM service_area ORDER BY id LIMIT 1")).scalar_one()
    me = Principal.system("health-tests")
    today = city_date(db_now(session))
    ids = {}
    for code, cap in (("TJT1", 1), ("TJT2", 5)):
        ids[code] = health.create_centre(
            session, me, code=code, name=f"测试体检点{code[-1]}", area_id=area, daily_capacity=cap
        )
        health.open_days(session, ids[code], [today + timedelta(days=i) for i in range(1, 8)])
    session.commit()
    return today


@pytest.fixture
def elders(session):
    out = {
        "old": make_resident(session, "孙玉兰", current_season() - 70, CELL),
        "old2": make_resident(session, "李建国", current_season() - 66, CELL),
        "young": make_resident(session, "周小明", current_season() - 50, CELL),
        "elsewhere": make_resident(session, "吴秀英", current_season() - 75, OTHER_CELL),
    }
    session.commit()
    return out


def _invite(client, callers, resident_id, who="grid_worker"):
    return client.post(
        f"{BASE}/invitations", json={"resident_id": resident_id}, headers=callers[who].headers
    )


def test_invite_only_eligible_residents_of_ones_scope(client, callers, elders, centre):
    resp = _invite(client, callers, elders["old"])
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["public_id"].startswith("TJ") and out["status"] == "invited"
    assert _invite(client, callers, elders["old"]).status_code == 409  # once a season
    assert _invite(client, callers, elders["young"]).status_code == 422  # under 65
    assert _invite(client, callers, elders["elsewhere"]).status_code == 404  # another cell
    assert _invite(client, callers, elders["elsewhere"], "community_staff").status_code == 201
    assert _invite(client, callers, elders["old2"], "planner").status_code == 403


def test_book_by_code_last_place_then_409_with_alternatives(
    client, session, callers, elders, centre
):
    codes = [_invite(client, callers, elders[k]).json()["public_id"] for k in ("old", "old2")]
    day = str(centre + timedelta(days=2))
    first = client.post(
        f"{BASE}/invitations/{codes[0]}/transitions",
        json={"action": "book", "centre": "TJT1", "day": day},
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "booked" and first.json()["centre"]["code"] == "TJT1"
    assert "孙玉兰" not in first.text  # the code's holder gets no name back
    second = client.post(
        f"{BASE}/invitations/{codes[1]}/transitions",
        json={"action": "book", "centre": "TJT1", "day": day},
    )
    assert second.status_code == 409, second.text
    alt = second.json()["alternatives"]
    assert alt["same_centre"][0]["day"] == str(centre + timedelta(days=3))
    assert alt["other_centres"][0]["centre"] == "TJT2"
    as_system(session)
    hc = session.execute(
        text("SELECT status, booked_for FROM health_check WHERE resident_id = :r"),
        {"r": elders["old"]},
    ).one()
    assert hc.status == "booked" and str(hc.booked_for) == day
    # Cancelling frees the place; the other resident then gets it.
    cancel = client.post(
        f"{BASE}/invitations/{codes[0]}/transitions", json={"action": "cancel", "reason": "有事"}
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    again = client.post(
        f"{BASE}/invitations/{codes[1]}/transitions",
        json={"action": "book", "centre": "TJT1", "day": day},
    )
    assert again.status_code == 200


def test_attended_and_missed_on_the_day_mirrored_and_counted(
    client, session, callers, elders, centre
):
    staff = callers["grid_worker"]
    made = [_invite(client, callers, elders[k]).json() for k in ("old", "old2")]
    day = centre + timedelta(days=1)
    for m in made:
        step = f"{BASE}/appointments/{m['id']}/transitions"
        resp = client.post(
            step, json={"action": "book", "centre": "TJT2", "day": str(day)}, headers=staff.headers
        )
        assert resp.status_code == 200, resp.text
    early = client.post(
        f"{BASE}/appointments/{made[0]['id']}/transitions",
        json={"action": "attend"},
        headers=staff.headers,
    )
    assert early.status_code == 422 and "on or after the day" in early.json()["detail"]
    me = callers["grid_worker"].principal
    at = db_now(session) + timedelta(days=1, hours=1)
    from geo.bookings.schemas import BookingTransition

    health.transition(
        session, me, appointment_id=made[0]["id"], req=BookingTransition(action="attend"), now=at
    )
    health.transition(
        session, me, appointment_id=made[1]["id"], req=BookingTransition(action="miss"), now=at
    )
    session.commit()
    as_system(session)
    mirrored = dict(
        session.execute(
            text("SELECT resident_id, status FROM health_check WHERE resident_id IN (:a, :b)"),
            {"a": elders["old"], "b": elders["old2"]},
        ).all()
    )
    assert mirrored == {elders["old"]: "done", elders["old2"]: "invited"}
    counts = client.get(f"{BASE}/appointment-counts", headers=staff.headers).json()["rows"]
    assert counts == [
        {
            "code": CELL,
            "total": 2,
            "invited": 0,
            "booked": 0,
            "attended": 1,
            "missed": 1,
            "cancelled": 0,
        }
    ]
    one = client.get(f"{BASE}/appointments/{made[1]['id']}", headers=staff.headers).json()
    assert [e["action"] for e in one["events"]] == ["invite", "book", "miss"]
    assert one["allowed_actions"] == ["book"]  # a missed check may be booked again
    listed = client.get(f"{BASE}/appointments", headers=callers["community_staff"].headers).json()
    assert {a["name"] for a in listed["appointments"]} == {"孙玉兰", "李建国"}
    other = client.get(
        f"{BASE}/appointments/{made[0]['id']}", headers=callers["far_community"].headers
    )
    assert other.status_code == 404


def test_centres_list_free_places(client, centre):
    found = {c["code"]: c for c in client.get(f"{BASE}/centres").json()["centres"]}
    assert found["TJT1"]["days"][0] == {
        "day": str(centre + timedelta(days=1)),
        "capacity": 1,
        "free": 1,
    }


def test_nothing_medical_can_be_stored(client, callers, elders, centre):
    code = _invite(client, callers, elders["old"]).json()["public_id"]
    resp = client.post(
        f"{BASE}/invitations/{code}/transitions",
        json={
            "action": "book",
            "centre": "TJT2",
            "day": str(centre + timedelta(days=1)),
            "result": "血压高",
        },
    )
    assert resp.status_code == 422  # unknown fields are refused
