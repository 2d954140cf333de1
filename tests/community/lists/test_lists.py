"""The lists over real HTTP: adding entries in scope (404/422 outside), contacts masked and
revealed only with an audited purpose, plans refused (409) when a rule fails, plan steps from
the one table, the event log append-only, and bad input that writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.community.lists.conftest import COMMUNITY, demand, resource, today

BASE = "/api/v1/lists"


def _demand_body(point, **fields):
    t = today()
    return {
        "item": "daily.02",
        "title": "助餐服务",
        "people": 3,
        "source": "concern_log",
        "needed_from": str(t),
        "needed_until": str(t + timedelta(days=14)),
        "lon": point[0],
        "lat": point[1],
        **fields,
    }


def _resource_body(point, **fields):
    t = today()
    return {
        "provider_kind": "merchant",
        "provider_name": "林都老年餐桌",
        "category": "daily",
        "title": "午餐配送",
        "capacity": 10,
        "available_from": str(t),
        "available_until": str(t + timedelta(days=60)),
        "hours": "每日 11:00-12:30",
        "contact_name": "李师傅",
        "contact_phone": "13912345678",
        "lon": point[0] + 0.001,
        "lat": point[1],
        **fields,
    }


def _count(session, table: str) -> int:
    return session.scalar(text(f"SELECT count(*) FROM {table}"))


def test_staff_add_entries_in_scope_and_others_do_not_see_them(client, session, callers, point):
    h = callers["community_staff"].headers
    resp = client.post(f"{BASE}/demands", json=_demand_body(point), headers=h)
    assert resp.status_code == 201, resp.text
    d = resp.json()
    assert d["community_code"] == COMMUNITY and d["category"] == "daily"
    assert d["category_label"] == "生活服务" and d["status"] == "open" and not d["stale"]
    assert d["valid_until"] == d["needed_until"] and [e["action"] for e in d["events"]] == [
        "create"
    ]
    resp = client.post(f"{BASE}/resources", json=_resource_body(point), headers=h)
    assert resp.status_code == 201, resp.text
    r = resp.json()
    assert r["contact_phone"] == "139****5678" and "13912345678" not in resp.text
    assert r["remaining"] == 10
    street = callers["street_staff"].headers
    assert client.get(f"{BASE}/demands/{d['id']}", headers=street).status_code == 200
    for who in ("other_community", "far_street"):
        other = callers[who].headers
        assert client.get(f"{BASE}/demands/{d['id']}", headers=other).status_code == 404
        assert client.get(f"{BASE}/resources/{r['id']}", headers=other).status_code == 404
        listed = client.get(f"{BASE}/demands", headers=other).json()["demands"]
        assert d["id"] not in {x["id"] for x in listed}
    assert client.get(f"{BASE}/demands", headers=callers["planner"].headers).status_code == 403
    # A point in another community is refused for community staff (not written).
    before = _count(session, "community_demand")
    far = client.post(
        f"{BASE}/demands", json=_demand_body(point), headers=callers["far_street"].headers
    )
    assert far.status_code == 422 and "outside your scope" in far.json()["detail"]
    assert _count(session, "community_demand") == before


def test_contact_reveal_needs_a_purpose_and_is_audited(client, session, callers, point):
    h = callers["community_staff"].headers
    r = client.post(f"{BASE}/resources", json=_resource_body(point), headers=h).json()
    url = f"{BASE}/resources/{r['id']}/reveal-contact"
    assert (
        client.post(url, json={"purpose": "nosy", "reason": "看看"}, headers=h).status_code == 422
    )
    resp = client.post(url, json={"purpose": "case_handling", "reason": "联系送餐"}, headers=h)
    assert resp.status_code == 200 and resp.json()["contact_phone"] == "13912345678"
    rows = session.execute(
        text(
            "SELECT fields, purpose FROM audit_event WHERE action = 'community_resource.reveal'"
            " AND :id = ANY (object_ids)"
        ),
        {"id": str(r["id"])},
    ).all()
    assert rows and rows[0].fields == ["contact_phone"] and "联系送餐" in rows[0].purpose
    other = callers["other_community"].headers
    body = {"purpose": "case_handling", "reason": "联系送餐"}
    assert client.post(url, json=body, headers=other).status_code == 404


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"item": "nope.99"}, "unknown item"),
        ({"item": None, "category": "space"}, "unknown category"),
        ({"item": "health.04", "category": "daily"}, "belongs to"),
        ({"needed_until": "2020-01-01"}, "before the first"),
        ({"valid_until": "2020-01-01"}, "in the past"),
        ({"people": 0}, ""),
        ({"lon": 200}, ""),
        ({"status": "planned"}, ""),
    ],
)
def test_bad_demands_are_refused_and_write_nothing(client, session, callers, point, fields, words):
    before = _count(session, "community_demand"), _count(session, "community_list_event")
    resp = client.post(
        f"{BASE}/demands",
        json=_demand_body(point, **fields),
        headers=callers["community_staff"].headers,
    )
    assert resp.status_code == 422, resp.text
    assert words in str(resp.json()["detail"])
    assert (_count(session, "community_demand"), _count(session, "community_list_event")) == before


def test_a_plan_is_refused_when_a_rule_fails_and_steps_follow_the_table(
    client, session, callers, point
):
    x, y = point
    h = callers["community_staff"].headers
    d = demand(session, x, y, people=3)
    small = resource(session, x + 0.001, y, capacity=2)
    wrong = resource(session, x + 0.001, y, item="culture.01")
    good = resource(session, x + 0.002, y, capacity=3)
    session.commit()

    def plan(resource_id):
        body = {"demand_id": d, "resource_id": resource_id, "owner": "王社工"}
        return client.post(f"{BASE}/plans", json=body, headers=h)

    assert "places left" in plan(small).json()["detail"] and plan(small).status_code == 409
    assert "offers culture.01" in plan(wrong).json()["detail"]
    made = plan(good)
    assert made.status_code == 201, made.text
    plan_id = made.json()["id"]
    assert made.json()["distance_m"] == pytest.approx(
        session.scalar(
            text(
                "SELECT ST_Distance(a.geom::geography, b.geom::geography, true) FROM"
                " community_demand a, community_resource b WHERE a.id = :d AND b.id = :r"
            ),
            {"d": d, "r": good},
        ),
        abs=0.1,
    )
    again = plan(good)
    assert again.status_code == 409 and "you may" in again.json()["detail"]
    res = client.get(f"{BASE}/resources/{good}", headers=h).json()
    assert res["remaining"] == 0
    retire = client.post(f"{BASE}/resources/{good}/review", json={"action": "retire"}, headers=h)
    assert retire.status_code == 409 and "active plan" in retire.json()["detail"]
    step = f"{BASE}/plans/{plan_id}/transitions"
    assert client.post(step, json={"action": "cancel"}, headers=h).status_code == 422
    resp = client.post(step, json={"action": "cancel", "reason": "居民已自行解决"}, headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    dem = client.get(f"{BASE}/demands/{d}", headers=h).json()
    assert dem["status"] == "open" and [e["action"] for e in dem["events"]] == [
        "create",
        "plan",
        "reopen",
    ]
    assert client.get(f"{BASE}/resources/{good}", headers=h).json()["remaining"] == 3
    late = client.post(step, json={"action": "finish"}, headers=h)
    assert late.status_code == 409 and "nothing now" in late.json()["detail"]
    other = callers["other_community"].headers
    assert client.get(f"{BASE}/plans/{plan_id}", headers=other).status_code == 404


def test_finishing_a_plan_closes_its_demand(client, session, callers, point):
    x, y = point
    d = demand(session, x, y)
    r = resource(session, x, y + 0.001)
    session.commit()
    h = callers["street_staff"].headers
    plan = client.post(
        f"{BASE}/plans", json={"demand_id": d, "resource_id": r, "owner": "赵网格"}, headers=h
    ).json()
    done = client.post(
        f"{BASE}/plans/{plan['id']}/transitions", json={"action": "finish"}, headers=h
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert client.get(f"{BASE}/demands/{d}", headers=h).json()["status"] == "closed"
    listed = client.get(f"{BASE}/plans", params={"status": "done"}, headers=h).json()
    assert [p["id"] for p in listed["plans"]] == [plan["id"]]


def test_the_event_log_is_append_only(session, point):
    demand(session, *point)
    session.commit()
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE community_list_event SET action = 'x'"))
    nested.rollback()
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM community_list_event"))
    nested.rollback()
