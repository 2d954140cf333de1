"""The residents' council over real HTTP: meetings with attendance and minutes; a suggestion
through its pipeline with dated steps and owners (409 off the table), the suggester's public
view by id (no names, no notes), scope (404 across the line), events append-only, audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.community.lists.conftest import COMMUNITY, today

BASE = "/api/v1/council"


def _suggestion(client, headers, **fields):
    body = {
        "community": COMMUNITY,
        "title": "增设林荫步道长椅",
        "body": "步道太长，老人走累了没地方坐",
        "suggester_name": "刘桂芝",
        "owner": "王社工",
        **fields,
    }
    resp = client.post(f"{BASE}/suggestions", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_a_meeting_keeps_attendance_and_minutes(client, callers):
    h = callers["community_staff"].headers
    body = {
        "community": COMMUNITY,
        "held_on": str(today()),
        "topic": "夏季候鸟服务议事",
        "minutes": "议定增设长椅三处",
        "attendees": [
            {"name": "刘桂芝", "kind": "seasonal"},
            {"name": "张建国", "kind": "resident"},
            {"name": "王社工", "kind": "staff"},
        ],
    }
    resp = client.post(f"{BASE}/meetings", json=body, headers=h)
    assert resp.status_code == 201, resp.text
    meeting = resp.json()
    assert meeting["attendance"] == 3 and meeting["minutes"] == "议定增设长椅三处"
    _suggestion(client, h, meeting_id=meeting["id"])
    got = client.get(f"{BASE}/meetings/{meeting['id']}", headers=callers["street_staff"].headers)
    assert got.json()["suggestions"] == 1
    assert {a["kind"] for a in got.json()["attendees"]} == {"seasonal", "resident", "staff"}
    other = callers["far_street"].headers
    assert client.get(f"{BASE}/meetings/{meeting['id']}", headers=other).status_code == 404
    bad = client.post(
        f"{BASE}/meetings", json={**body, "attendees": [{"name": "x", "kind": "mayor"}]}, headers=h
    )
    assert bad.status_code == 422
    elsewhere = client.post(f"{BASE}/meetings", json=body, headers=other)
    assert elsewhere.status_code == 404


def test_the_pipeline_runs_by_the_table_with_dated_owned_steps(client, session, callers):
    h = callers["community_staff"].headers
    made = _suggestion(client, h)
    sid, public_id = made["id"], made["public_id"]
    assert made["status"] == "received" and made["allowed_actions"] == ["study"]
    url = f"{BASE}/suggestions/{sid}/transitions"
    early = client.post(url, json={"action": "adopt", "owner": "李主任"}, headers=h)
    assert early.status_code == 409 and "you may: study" in early.json()["detail"]
    assert (
        client.post(url, json={"action": "study", "owner": "李主任"}, headers=h).status_code == 200
    )
    no_reason = client.post(url, json={"action": "reject", "owner": "李主任"}, headers=h)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    adopted = client.post(
        url,
        json={
            "action": "adopt",
            "owner": "城管科",
            "reply": "已采纳，预计七月安装",
            "note": "内部",
        },
        headers=h,
    )
    assert adopted.status_code == 200 and adopted.json()["owner"] == "城管科"
    done = client.post(
        url, json={"action": "implement", "owner": "城管科", "reply": "已安装长椅三处"}, headers=h
    ).json()
    assert done["status"] == "implemented" and done["status_label"] == "已落实"
    assert [(x["action"], x["owner"]) for x in done["steps"]] == [
        ("receive", "王社工"),
        ("study", "李主任"),
        ("adopt", "城管科"),
        ("implement", "城管科"),
    ]
    assert all(x["at"] for x in done["steps"])
    late = client.post(url, json={"action": "reject", "owner": "x1", "reason": "晚了"}, headers=h)
    assert late.status_code == 409 and "pipeline has ended" in late.json()["detail"]
    # The suggester reads it by the public id, without an account: no names, no notes.
    pub = client.get(f"{BASE}/suggestions/public/{public_id}")
    assert pub.status_code == 200, pub.text
    view = pub.json()
    assert view["status"] == "implemented" and view["public_reply"] == "已安装长椅三处"
    assert len(view["steps"]) == 4 and "刘桂芝" not in pub.text and "内部" not in pub.text
    assert client.get(f"{BASE}/suggestions/public/JYNOTAREALID").status_code == 404
    audits = session.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE object_type = 'council_suggestion'"
            " AND :i = ANY (object_ids)"
        ),
        {"i": str(sid)},
    )
    assert audits == 4


def test_not_adopted_needs_a_reason_the_suggester_reads(client, callers):
    h = callers["street_staff"].headers
    made = _suggestion(client, h)
    url = f"{BASE}/suggestions/{made['id']}/transitions"
    client.post(url, json={"action": "study", "owner": "李主任"}, headers=h)
    resp = client.post(
        url, json={"action": "reject", "owner": "李主任", "reason": "该处为消防通道"}, headers=h
    )
    assert resp.status_code == 200 and resp.json()["status"] == "not_adopted"
    view = client.get(f"{BASE}/suggestions/public/{made['public_id']}").json()
    assert view["reason"] == "该处为消防通道" and view["status_label"] == "未采纳"
    listed = client.get(f"{BASE}/suggestions", params={"status": "not_adopted"}, headers=h).json()
    assert made["id"] in {x["id"] for x in listed["suggestions"]}
    assert listed["counts"]["not_adopted"] >= 1


def test_out_of_scope_is_not_found_and_the_timeline_is_append_only(client, session, callers):
    made = _suggestion(client, callers["community_staff"].headers)
    other = callers["other_community"].headers
    assert client.get(f"{BASE}/suggestions/{made['id']}", headers=other).status_code == 404
    step = {"action": "study", "owner": "外人"}
    url = f"{BASE}/suggestions/{made['id']}/transitions"
    assert client.post(url, json=step, headers=other).status_code == 404
    assert client.get(f"{BASE}/suggestions", headers=callers["planner"].headers).status_code == 403
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE council_suggestion_event SET owner = 'x'"))
    nested.rollback()
