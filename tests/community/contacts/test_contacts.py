"""Designated contacts over real HTTP: households by address, the grid worker as default and a
party member of the grid, contacts logged (short, no medical words), the overdue list on the
city's date (at the hour where the host's date is not the city's), counts per cell, scope
(another cell's grid worker: 404; another community's staff: nothing), audit, append-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo.core import clock
from tests.community.contacts.conftest import CELL, OTHER_CELL, grid_worker_of, make_present

BASE = "/api/v1/contacts"


def _log(client, headers, resident_id, **fields):
    body = {"resident_id": resident_id, "channel": "visit", **fields}
    return client.post(f"{BASE}/logs", json=body, headers=headers)


def _overdue_ids(client, headers, **params):
    resp = client.get(f"{BASE}/overdue", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json(), {i["resident_id"] for i in resp.json()["items"]}


def test_households_get_their_grid_worker_and_a_party_member(client, session, callers):
    staff = callers["community_staff"].headers
    a = make_present(session, "甲住户", address="幸福小区 3号楼 2单元")
    b = make_present(session, "乙住户", address="幸福小区3号楼2单元")  # the same household
    c = make_present(session, "丙住户")  # no address: a household of its own
    session.commit()
    resp = client.post(f"{BASE}/cells/{CELL}/default-assignments", headers=staff)
    assert resp.status_code == 200, resp.text
    assert resp.json()["assigned"] >= 2 and resp.json()["grid_worker_id"] == grid_worker_of(session)
    again = client.post(f"{BASE}/cells/{CELL}/default-assignments", headers=staff)
    assert again.json()["assigned"] == 0  # every household has one now
    listed = client.get(f"{BASE}/assignments", params={"cell": CELL}, headers=staff).json()
    mine = [x for x in listed["assignments"] if x["household_key"] == "幸福小区3号楼2单元"]
    assert len(mine) == 1 and mine[0]["residents_present"] == 2
    assert mine[0]["contact"]["kind"] == "grid_worker"
    assert any(x["household_key"] == f"resident:{c}" for x in listed["assignments"])
    # A party member of the grid (a team member whose cell it is) takes over one household.
    team = client.post(
        "/api/v1/volunteers/teams",
        json={"community": CELL[:12], "name": "党员先锋队", "skills": ["走访"]},
        headers=staff,
    ).json()
    member = client.post(
        f"/api/v1/volunteers/teams/{team['id']}/members",
        json={
            "name": "党员老王",
            "kind": "party_member",
            "cell": CELL,
            "months": [1, 2, 3],
            "phone": "13900001111",
        },
        headers=staff,
    ).json()
    assert member["phone"] == "139****1111"
    resp = client.post(
        f"{BASE}/assignments", json={"resident_id": b, "member_id": member["id"]}, headers=staff
    )
    assert resp.status_code == 201, resp.text
    got = resp.json()
    assert got["contact"]["kind"] == "party_member" and got["contact_phone"] == "139****1111"
    assert got["residents_present"] == 2  # the household, not the one resident
    # A member of another grid, a worker of another cell: refused with the reason.
    other = client.post(
        f"/api/v1/volunteers/teams/{team['id']}/members",
        json={"name": "志愿者小李", "kind": "resident", "cell": OTHER_CELL, "months": [7]},
        headers=staff,
    ).json()
    wrong = client.post(
        f"{BASE}/assignments", json={"resident_id": a, "member_id": other["id"]}, headers=staff
    )
    assert wrong.status_code == 422 and "of its own grid" in wrong.json()["detail"]
    stranger = grid_worker_of(session, OTHER_CELL)
    wrong = client.post(
        f"{BASE}/assignments", json={"resident_id": a, "grid_worker_id": stranger}, headers=staff
    )
    assert wrong.status_code == 422 and "does not work in cell" in wrong.json()["detail"]
    both = client.post(
        f"{BASE}/assignments",
        json={"resident_id": a, "grid_worker_id": 1, "member_id": member["id"]},
        headers=staff,
    )
    assert both.status_code == 422
    # Grid workers log contacts, they do not assign.
    gw = callers["grid_worker"].headers
    body = {"resident_id": a, "member_id": member["id"]}
    assert client.post(f"{BASE}/assignments", json=body, headers=gw).status_code == 403
    live = session.scalar(
        text(
            "SELECT count(*) FROM contact_assignment WHERE cell_code = :c"
            " AND household_key = '幸福小区3号楼2单元' AND ended_at IS NULL"
        ),
        {"c": CELL},
    )
    assert live == 1  # the grid worker's assignment ended when the party member's began


def test_overdue_on_the_city_date_and_counted_per_cell(client, session, callers):
    gw = callers["grid_worker"].headers
    today = clock.today()  # the city's: at 23:30 the host's date is already tomorrow
    late = make_present(session, "十四天前")
    recent = make_present(session, "十三天前")
    never = make_present(session, "从未联系")
    new = make_present(session, "刚到五天", arrived_days_ago=5)
    session.commit()
    assert _log(client, gw, late, contacted_on=str(today - timedelta(days=14))).status_code == 201
    resp = _log(client, gw, recent, contacted_on=str(today - timedelta(days=13)), channel="call")
    assert resp.status_code == 201, resp.text
    out, ids = _overdue_ids(client, gw)
    assert out["on"] == str(today) and out["days"] == 14
    assert {late, never} <= ids and not {recent, new} & ids
    by_id = {i["resident_id"]: i for i in out["items"]}
    assert by_id[late]["days_since"] == 14 and by_id[late]["last_contacted_on"] == str(
        today - timedelta(days=14)
    )
    assert by_id[never]["last_contacted_on"] is None and by_id[never]["days_since"] == 20
    # --days 13 adds the one contacted 13 days ago.
    _, ids13 = _overdue_ids(client, gw, days=13)
    assert recent in ids13
    # A contact today takes one off the list (the default date is the city's today).
    made = _log(client, gw, never, channel="message", note="微信问候，一切安好")
    assert made.json()["contacts"][0]["contacted_on"] == str(today)
    _, ids = _overdue_ids(client, gw)
    assert never not in ids
    counts = client.get(f"{BASE}/overdue/counts", headers=callers["community_staff"].headers)
    assert counts.status_code == 200, counts.text
    cell = next(c for c in counts.json()["cells"] if c["cell_code"] == CELL)
    assert cell["present"] >= 4 and cell["overdue"] >= 1 and cell["never_contacted"] >= 1
    # Narrowed to a contact: the cell's grid worker (after the default assignment).
    client.post(f"{BASE}/cells/{CELL}/default-assignments", headers=callers["street_staff"].headers)
    worker = grid_worker_of(session)
    out, ids = _overdue_ids(client, gw, contact_kind="grid_worker", contact_id=worker)
    assert late in ids and all(i["contact"]["grid_worker_id"] == worker for i in out["items"])
    assert out["per_contact"][0]["contact"]["kind"] == "grid_worker"
    audited = session.scalar(
        text("SELECT count(*) FROM audit_event WHERE action = 'contact.overdue'")
    )
    assert audited >= 1


@pytest.mark.city_clock("2027-05-01T00:30")
def test_just_after_midnight_in_yichun_the_contact_is_dated_today(client, session, callers):
    """00:30 in Yichun is 16:30 the day before in UTC: the log, the overdue list and the counts
    all take 1 May."""
    gw = callers["grid_worker"].headers
    rid = make_present(session, "午夜走访", arrived_days_ago=30)
    session.commit()
    made = _log(client, gw, rid)
    assert made.status_code == 201, made.text
    assert made.json()["contacts"][0]["contacted_on"] == "2027-05-01"
    out, ids = _overdue_ids(client, gw)
    assert out["on"] == "2027-05-01" and rid not in ids
    tomorrow = _log(client, gw, rid, contacted_on="2027-05-02")
    assert tomorrow.status_code == 422 and "after today (2027-05-01" in tomorrow.json()["detail"]


def test_scope_is_the_cell_for_grid_workers_and_the_community_for_staff(client, session, callers):
    rid = make_present(session, "范围测试")
    session.commit()
    other = callers["other_grid"].headers
    resp = _log(client, other, rid)
    assert resp.status_code == 404
    _, ids = _overdue_ids(client, other)
    assert rid not in ids
    assert (
        client.get(f"{BASE}/logs", params={"resident_id": rid}, headers=other).json()["total"] == 0
    )
    assert _log(client, callers["grid_worker"].headers, rid).status_code == 201
    far = callers["other_community"].headers
    out, ids = _overdue_ids(client, far)
    assert rid not in ids
    assert client.get(f"{BASE}/logs", params={"resident_id": rid}, headers=far).json()["total"] == 0
    counts = client.get(f"{BASE}/overdue/counts", headers=far).json()
    assert CELL not in {c["cell_code"] for c in counts["cells"]}
    cross = client.post(f"{BASE}/cells/{CELL}/default-assignments", headers=far)
    assert cross.status_code == 404
    assert client.get(f"{BASE}/overdue", headers=callers["planner"].headers).status_code == 403
    own = client.get(
        f"{BASE}/logs", params={"resident_id": rid}, headers=callers["street_staff"].headers
    )
    assert own.json()["total"] == 1


def test_illegal_inputs_are_4xx_with_clear_messages(client, session, callers):
    gw = callers["grid_worker"].headers
    rid = make_present(session, "输入测试")
    session.commit()
    today = clock.today()
    cases = [
        ({"note": "最近血压偏高，在吃药"}, "no medical content"),
        ({"note": "字" * 201}, "at most 200"),
        ({"contacted_on": str(today + timedelta(days=1))}, "after today"),
        ({"contacted_on": str(today - timedelta(days=91))}, "within 90 days"),
        ({"channel": "fax"}, "channel"),
        ({"note": "a\u0000b"}, "NUL"),
        ({"mood": "good"}, "mood"),
    ]
    for fields, words in cases:
        resp = _log(client, gw, rid, **fields)
        assert resp.status_code == 422, (fields, resp.text)
        assert words in resp.text, (fields, resp.text)
    bad = client.get(f"{BASE}/overdue", params={"days": 0}, headers=gw)
    assert bad.status_code == 422
    half = client.get(f"{BASE}/overdue", params={"contact_kind": "volunteer"}, headers=gw)
    assert half.status_code == 422 and "contact_id" in half.json()["detail"]
    assert _log(client, gw, 2**31 - 2).status_code == 404
    written = session.scalar(
        text("SELECT count(*) FROM contact_log WHERE resident_id = :r"), {"r": rid}
    )
    assert written == 0  # nothing half-written


def test_the_contact_log_is_append_only_and_a_household_logs_at_once(client, session, callers):
    gw = callers["grid_worker"].headers
    a = make_present(session, "户主", address="林海小区1号楼")
    b = make_present(session, "家属", address="林海小区 1号楼")
    session.commit()
    resp = _log(client, gw, a, whole_household=True, note="全家都好")
    assert resp.status_code == 201 and {c["resident_id"] for c in resp.json()["contacts"]} == {a, b}
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE contact_log SET note = 'x' WHERE resident_id = :r"), {"r": a})
    nested.rollback()
    audited = session.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE action = 'contact_log.create'"
            " AND :r = ANY (object_ids)"
        ),
        {"r": str(b)},
    )
    assert audited == 1
