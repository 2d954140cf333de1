"""Participation over real HTTP: a team with members (a resident linked by id, a seasonal
member's months, the phone masked and revealed only with a purpose, audited), activities with
the sign-up cap (409 when full), the sign-up steps (409 off the table), backbones of cells
(a grid worker sees their cell's), scope (404 across the line) and illegal inputs (422)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from geo.core import clock
from tests.community.contacts.conftest import CELL, OTHER_CELL, make_present

BASE = "/api/v1/volunteers"
COMMUNITY = CELL[:12]


def _team(client, headers, name="银发互助队"):
    resp = client.post(
        f"{BASE}/teams",
        json={"community": COMMUNITY, "name": name, "focus": "结对互助", "skills": ["陪伴"]},
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _activity(client, headers, capacity=2, days=3, **fields):
    starts = clock.now() + timedelta(days=days)
    body = {
        "community": COMMUNITY,
        "title": "林荫步道清洁行动",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": capacity,
        **fields,
    }
    return client.post(f"{BASE}/activities", json=body, headers=headers)


def test_a_team_keeps_members_residents_among_them(client, session, callers):
    staff = callers["community_staff"].headers
    rid = make_present(session, "候鸟张阿姨")
    session.commit()
    team = _team(client, staff)
    member = client.post(
        f"{BASE}/teams/{team['id']}/members",
        json={
            "name": "张阿姨",
            "kind": "seasonal",
            "resident_id": rid,
            "skills": ["编织"],
            "months": [7, 5, 6, 6],
            "phone": "13700002222",
        },
        headers=staff,
    )
    assert member.status_code == 201, member.text
    m = member.json()
    assert m["months"] == [5, 6, 7] and m["cell_code"] == CELL and m["phone"] == "137****2222"
    assert m["kind_label"] == "候鸟居民" and m["resident_id"] == rid
    twice = client.post(
        f"{BASE}/teams/{team['id']}/members",
        json={"name": "张阿姨", "kind": "seasonal", "resident_id": rid, "months": [6]},
        headers=staff,
    )
    assert twice.status_code == 409
    got = client.get(f"{BASE}/teams/{team['id']}", headers=callers["street_staff"].headers).json()
    assert got["members"] == 1 and got["seasonal_members"] == 1
    assert "13700002222" not in str(got)
    url = f"{BASE}/members/{m['id']}/reveal-phone"
    no_reason = client.post(url, json={"purpose": "emergency_contact", "reason": ""}, headers=staff)
    assert no_reason.status_code == 422
    shown = client.post(
        url, json={"purpose": "emergency_contact", "reason": "活动当天联系不上"}, headers=staff
    )
    assert shown.status_code == 200 and shown.json()["value"] == "13700002222"
    actions = set(
        session.scalars(
            text(
                "SELECT action FROM audit_event WHERE object_type = 'volunteer_member'"
                " AND :i = ANY (object_ids)"
            ),
            {"i": str(m["id"])},
        )
    )
    assert {
        "volunteer_member.create",
        "volunteer_member.list",
        "volunteer_member.reveal",
    } <= actions
    # Another community's staff: nothing; a planner or grid worker: not theirs at all.
    other = callers["other_community"].headers
    assert client.get(f"{BASE}/teams/{team['id']}", headers=other).status_code == 404
    assert client.get(f"{BASE}/members/{m['id']}", headers=other).status_code == 404
    peek = {"purpose": "emergency_contact", "reason": "外社区查看"}
    assert client.post(url, json=peek, headers=other).status_code == 404
    assert team["id"] not in {
        t["id"] for t in client.get(f"{BASE}/teams", headers=other).json()["teams"]
    }
    assert client.get(f"{BASE}/teams", headers=callers["grid_worker"].headers).status_code == 403
    assert client.get(f"{BASE}/teams", headers=callers["planner"].headers).status_code == 403
    dup = client.post(
        f"{BASE}/teams", json={"community": COMMUNITY, "name": "银发互助队"}, headers=staff
    )
    assert dup.status_code == 409 and "already has a team" in dup.json()["detail"]


def test_sign_ups_stop_at_the_cap_and_steps_follow_the_table(client, session, callers):
    staff = callers["community_staff"].headers
    rid = make_present(session, "报名居民")
    session.commit()
    act = _activity(client, staff, capacity=2).json()
    url = f"{BASE}/activities/{act['id']}/signups"
    first = client.post(url, json={"resident_id": rid}, headers=staff)
    assert first.status_code == 201 and first.json()["places_left"] == 1
    again = client.post(url, json={"resident_id": rid}, headers=staff)
    assert again.status_code == 409 and "already signed up" in again.json()["detail"]
    second = client.post(url, json={"name": "王大爷"}, headers=staff).json()
    assert second["signed_up"] == 2 and second["places_left"] == 0
    full = client.post(url, json={"name": "李奶奶"}, headers=staff)
    assert full.status_code == 409 and "full" in full.json()["detail"]
    signup = second["signups"][0]["id"]
    step = f"{BASE}/signups/{signup}/transitions"
    early = client.post(step, json={"action": "attend"}, headers=staff)
    assert early.status_code == 409 and "from the activity's start" in early.json()["detail"]
    wrong = client.post(step, json={"action": "promote"}, headers=staff)
    assert wrong.status_code == 422 and "cancel, attend, absent" in wrong.json()["detail"]
    cancelled = client.post(step, json={"action": "cancel"}, headers=staff)
    assert cancelled.status_code == 200 and cancelled.json()["places_left"] == 1
    twice = client.post(step, json={"action": "cancel"}, headers=staff)
    assert twice.status_code == 409 and "'cancelled'" in twice.json()["detail"]
    assert client.post(url, json={"name": "李奶奶"}, headers=staff).status_code == 201
    other = callers["far_street"].headers
    assert client.post(url, json={"name": "外人"}, headers=other).status_code == 404
    assert client.get(f"{BASE}/activities/{act['id']}", headers=other).status_code == 404
    assert client.post(step, json={"action": "cancel"}, headers=other).status_code == 404
    # Attendance once it has started: a past activity, signed up before (through the service).
    counter = session.scalar(
        text("SELECT signed_up FROM volunteer_activity WHERE id = :i"), {"i": act["id"]}
    )
    assert counter == 2


def test_illegal_activity_and_sign_up_bodies_are_422(client, callers):
    staff = callers["community_staff"].headers
    assert _activity(client, staff, capacity=0).status_code == 422
    assert _activity(client, staff, capacity=1001).status_code == 422
    starts = clock.now() + timedelta(days=2)
    backwards = _activity(client, staff, ends_at=(starts - timedelta(hours=1)).isoformat())
    assert backwards.status_code == 422 and "after starts_at" in backwards.json()["detail"]
    assert _activity(client, staff, kind="party").status_code == 422
    act = _activity(client, staff).json()
    url = f"{BASE}/activities/{act['id']}/signups"
    nobody = client.post(url, json={}, headers=staff)
    assert nobody.status_code == 422 and "member_id, resident_id or name" in nobody.text
    assert (
        client.post(url, json={"member_id": 1, "resident_id": 1}, headers=staff).status_code == 422
    )
    assert client.post(url, json={"resident_id": 2**31 - 2}, headers=staff).status_code == 404
    months = client.post(
        f"{BASE}/teams/{_team(client, staff, '月份测试队')['id']}/members",
        json={"name": "x", "kind": "resident", "months": [0, 13]},
        headers=staff,
    )
    assert months.status_code == 422 and "months are 1 to 12" in months.text
    elsewhere = client.post(
        f"{BASE}/backbones",
        json={"cell": "230717002001001", "name": "楼长", "duty": "楼栋长"},
        headers=staff,
    )
    assert elsewhere.status_code == 404


def test_backbones_show_to_their_cells_grid_worker(client, callers):
    staff = callers["community_staff"].headers
    for cell, name in ((CELL, "骨干甲"), (OTHER_CELL, "骨干乙")):
        resp = client.post(
            f"{BASE}/backbones",
            json={"cell": cell, "name": name, "duty": "党员中心户"},
            headers=staff,
        )
        assert resp.status_code == 201, resp.text
    mine = client.get(f"{BASE}/backbones", headers=callers["grid_worker"].headers).json()
    assert {b["name"] for b in mine["backbones"]} >= {"骨干甲"}
    assert "骨干乙" not in {b["name"] for b in mine["backbones"]}
    assert set(mine["per_cell"]) == {CELL}
    all_ = client.get(f"{BASE}/backbones", headers=staff).json()
    assert {CELL, OTHER_CELL} <= set(all_["per_cell"])
    far = client.get(f"{BASE}/backbones", headers=callers["other_community"].headers).json()
    assert not {CELL, OTHER_CELL} & set(far["per_cell"])
