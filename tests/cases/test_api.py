"""Cases over real HTTP: scope by role, ETag / If-Match, Idempotency-Key, the live feed, KPIs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.cases import feed, service
from geo.cases.schemas import CaseFeature, CaseFiled, OpenCases, TransitionRequest
from tests.cases.conftest import CELL, make_caller
from tests.db import request_sessions


@pytest.fixture
def body(inside) -> dict:
    return {
        "category": "medical",
        "description": "老人摔倒，需要上门看诊",
        "lon": inside[0],
        "lat": inside[1],
        "reporter": {"name": "李建国", "phone": "13900001234"},
    }


def _create(client, caller, body, **headers):
    return client.post("/api/v1/cases", json=body, headers={**caller.headers, **headers})


def test_create_returns_feature_with_etag_and_location(cases_client, callers, body):
    r = _create(cases_client, callers["channel"], body)
    assert r.status_code == 201, r.text
    case = r.json()["case"]
    assert case["type"] == "Feature" and case["properties"]["cell_code"] == CELL
    assert r.headers["ETag"] == f'"case-{case["id"]}-v1"'
    assert r.headers["Location"] == f"/api/v1/cases/{case['id']}"
    assert case["properties"]["reporter"]["phone"] == "139****1234"
    assert "created_by_account" not in case["properties"]


def test_anonymous_filer_gets_the_public_view_only(cases_client, body):
    r = cases_client.post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    case = r.json()["case"]
    assert set(case) >= {"service_request_id", "status", "status_notes"} and "reporter" not in case
    assert r.headers["Location"] == f"/open311/v2/requests/{case['service_request_id']}.json"
    assert r.json()["possible_duplicates"] == []


def test_duplicates_and_summons_answer_their_documented_models(
    cases_client, session, callers, body
):
    """The members of a filed case and of a case read back are typed: what they hold must fit."""
    first = _create(cases_client, callers["dispatcher"], body).json()["case"]
    filed = _create(cases_client, callers["dispatcher"], body).json()
    CaseFiled.model_validate(filed)
    assert first["id"] in [d["id"] for d in filed["possible_duplicates"]]
    cid = filed["case"]["id"]
    for who, action, kw in [
        ("dispatcher", "accept", {}),
        ("dispatcher", "dispatch", {}),
        ("grid_worker", "start", {}),
        ("dispatcher", "escalate", {}),
        ("community_staff", "start", {}),
        ("community_staff", "escalate", {}),
        ("street_staff", "start", {}),
        ("street_staff", "summon", {"departments": ["health"]}),
    ]:
        service.transition(
            session, callers[who].principal, cid, TransitionRequest(action=action, **kw)
        )
    r = cases_client.get(f"/api/v1/cases/{cid}", headers=callers["street_staff"].headers)
    assert r.status_code == 200, r.text
    case = CaseFeature.model_validate(r.json())
    assert case.properties.summons and case.properties.summons[0].department_code == "health"


def test_bad_bodies_are_422(cases_client, callers, body):
    for bad in (
        {**body, "status": "closed"},
        {**body, "cell_code": CELL},
        {**body, "lon": "x"},
        {**body, "lat": 95},
        {**body, "description": ""},
    ):
        r = _create(cases_client, callers["dispatcher"], bad)
        assert r.status_code == 422, (bad, r.text)
    r = _create(cases_client, callers["dispatcher"], {**body, "lon": 116.4, "lat": 39.9})
    assert r.status_code == 404 and "outside" in r.json()["detail"]


def test_scope_by_role(cases_client, callers, body):
    cid = _create(cases_client, callers["channel"], body).json()["case"]["id"]
    for who in ("dispatcher", "street_staff", "community_staff", "grid_worker", "channel"):
        assert (
            cases_client.get(f"/api/v1/cases/{cid}", headers=callers[who].headers).status_code
            == 200
        ), who
    for who in ("other_grid", "other_channel", "department"):
        r = cases_client.get(f"/api/v1/cases/{cid}", headers=callers[who].headers)
        assert r.status_code == 404, who
    for who in ("planner", "admin"):
        assert (
            cases_client.get(f"/api/v1/cases/{cid}", headers=callers[who].headers).status_code
            == 403
        )
    assert cases_client.get(f"/api/v1/cases/{cid}").status_code == 401
    listed = cases_client.get("/api/v1/cases", headers=callers["other_grid"].headers).json()
    assert cid not in [f["id"] for f in listed["features"]]


def test_if_match_required_stale_and_409_lists_next_steps(cases_client, callers, body):
    created = _create(cases_client, callers["channel"], body)
    cid, tag = created.json()["case"]["id"], created.headers["ETag"]
    url, gw = f"/api/v1/cases/{cid}/transitions", callers["grid_worker"].headers
    r = cases_client.post(url, json={"action": "accept"}, headers=gw)
    assert r.status_code == 428
    r = cases_client.post(url, json={"action": "start"}, headers={**gw, "If-Match": tag})
    assert r.status_code == 409
    assert r.json()["allowed_next_states"] == ["accepted", "cancelled", "dispatched"]
    assert {a["action"] for a in r.json()["allowed"]} == {"accept", "cancel", "escalate"}
    ok = cases_client.post(url, json={"action": "accept"}, headers={**gw, "If-Match": tag})
    assert ok.status_code == 200 and ok.headers["ETag"] == f'"case-{cid}-v2"'
    stale = cases_client.post(url, json={"action": "dispatch"}, headers={**gw, "If-Match": tag})
    assert stale.status_code == 412 and stale.json()["etag"] == f'"case-{cid}-v2"'
    bad = cases_client.post(url, json={"action": "dispatch"}, headers={**gw, "If-Match": "garbage"})
    assert bad.status_code == 412
    extra = cases_client.post(
        url,
        json={"action": "dispatch", "status": "closed"},
        headers={**gw, "If-Match": ok.headers["ETag"]},
    )
    assert extra.status_code == 422
    r = cases_client.get(
        f"/api/v1/cases/{cid}", headers={**gw, "If-None-Match": ok.headers["ETag"]}
    )
    assert r.status_code == 304
    events = cases_client.get(f"/api/v1/cases/{cid}/events", headers=gw).json()
    assert [e["action"] for e in events] == ["report", "accept"]


def test_idempotency_key_replays_and_refuses_another_body(cases_client, callers, body):
    key = str(uuid.uuid4())
    first = _create(cases_client, callers["channel"], body, **{"Idempotency-Key": key})
    again = _create(cases_client, callers["channel"], body, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    other = _create(
        cases_client,
        callers["channel"],
        {**body, "description": "另一件事"},
        **{"Idempotency-Key": key},
    )
    assert other.status_code == 422 and "different request body" in other.json()["detail"]
    # keys belong to their caller: the same key from another account is a new request
    mine = _create(cases_client, callers["dispatcher"], body, **{"Idempotency-Key": key})
    assert mine.status_code == 201 and mine.json()["case"]["id"] != first.json()["case"]["id"]
    short = cases_client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "abc"})
    assert short.status_code == 422


def test_list_filters_and_paging(cases_client, callers, body, new_case):
    ids = [new_case("reported")["properties"]["id"] for _ in range(3)]
    accepted = new_case("accepted", category="tourism")["properties"]["id"]
    h = callers["community_staff"].headers
    r = cases_client.get(
        "/api/v1/cases", params={"status": "reported", "cell": CELL, "limit": 2}, headers=h
    )
    page = r.json()
    assert r.headers["content-type"].startswith("application/geo+json")
    assert page["numberMatched"] == 3 and page["numberReturned"] == 2 and page["links"]
    nxt = cases_client.get(page["links"][0]["href"], headers=h).json()
    assert {f["id"] for f in page["features"] + nxt["features"]} == set(ids)
    tourism = cases_client.get("/api/v1/cases", params={"category": "tourism"}, headers=h).json()
    assert [f["id"] for f in tourism["features"]] == [accepted]
    assert (
        cases_client.get("/api/v1/cases", params={"overdue": True}, headers=h).json()[
            "numberMatched"
        ]
        == 0
    )
    assert cases_client.get("/api/v1/cases", params={"cell": "12"}, headers=h).status_code == 422
    far = cases_client.get("/api/v1/cases", params={"bbox": "100,20,101,21"}, headers=h).json()
    assert far["numberMatched"] == 0


def test_open_geojson_etag_304_and_change(cases_client, callers, new_case):
    case = new_case("dispatched")
    h = callers["grid_worker"].headers
    r = cases_client.get("/api/v1/cases/open.geojson", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    OpenCases.model_validate(r.json())  # sent prebuilt from SQL: the documented model holds
    feats = {f["id"]: f for f in r.json()["features"]}
    p = feats[case["properties"]["id"]]["properties"]
    assert {
        "category",
        "category_label",
        "tier",
        "tier_label",
        "status",
        "status_label",
        "clock_state",
        "due_at",
    } <= set(p)
    tag = r.headers["ETag"]
    assert (
        cases_client.get(
            "/api/v1/cases/open.geojson", headers={**h, "If-None-Match": tag}
        ).status_code
        == 304
    )
    cid = case["properties"]["id"]
    cases_client.post(
        f"/api/v1/cases/{cid}/transitions",
        json={"action": "start"},
        headers={**h, "If-Match": f'"case-{cid}-v{case["properties"]["version"]}"'},
    )
    changed = cases_client.get("/api/v1/cases/open.geojson", headers={**h, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    other = cases_client.get("/api/v1/cases/open.geojson", headers=callers["other_grid"].headers)
    assert cid not in [f["id"] for f in other.json()["features"]]
    assert other.headers["ETag"] != changed.headers["ETag"]


def test_open_geojson_features_kept_by_version_give_the_same_body(
    cases_client, callers, new_case, session
):
    case = new_case("dispatched")
    new_case("reported")
    cid = case["properties"]["id"]
    store = cases_client.app.state.feed_features

    def feed_of(who: str, **headers: str):
        h = {**callers[who].headers, **headers}
        return cases_client.get("/api/v1/cases/open.geojson", headers=h)

    first = feed_of("grid_worker")
    n = len(first.json()["features"])
    assert n >= 2 and store.counts == {"hit": 0, "miss": n}
    again = feed_of("grid_worker")  # every Feature from memory
    assert store.counts == {"hit": n, "miss": n}
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    # byte for byte the body and ETag PostgreSQL builds in one statement
    me = callers["grid_worker"].principal
    assert feed.open_cases_json_etag(session, me) == (first.content, first.headers["ETag"])
    assert feed.open_etag(session, me) == first.headers["ETag"]
    assert feed_of("grid_worker", **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    other = feed_of("other_grid")  # another scope: not its cases, whatever is in memory
    assert cid not in [f["id"] for f in other.json()["features"]]
    assert other.headers["ETag"] != first.headers["ETag"]
    cases_client.post(
        f"/api/v1/cases/{cid}/transitions",
        json={"action": "start"},
        headers={
            **callers["grid_worker"].headers,
            "If-Match": f'"case-{cid}-v{case["properties"]["version"]}"',
        },
    )
    hits, misses = store.counts["hit"], store.counts["miss"]
    after = feed_of("grid_worker", **{"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    assert store.counts == {"hit": hits + n - 1, "miss": misses + 1}  # only the changed case
    started = next(f for f in after.json()["features"] if f["id"] == cid)
    assert started["properties"]["status"] == "in_handling"
    assert feed.open_cases_json_etag(session, me) == (after.content, after.headers["ETag"])


def test_open_geojson_without_the_feature_store(session, callers, new_case, monkeypatch):
    monkeypatch.setenv("HOUNIAO_FEED_CACHE_MB", "0")
    app = create_app()
    app.dependency_overrides[get_session] = request_sessions(session)
    cid = new_case("dispatched")["properties"]["id"]
    with TestClient(app) as client:
        assert app.state.feed_features is None
        r = client.get("/api/v1/cases/open.geojson", headers=callers["grid_worker"].headers)
    assert r.status_code == 200 and cid in [f["id"] for f in r.json()["features"]]


def test_sse_streams_changes_in_scope(cases_client, callers, new_case, session):
    start = session.execute(text("SELECT coalesce(max(id), 0) FROM case_event")).scalar()
    case = new_case("accepted")
    cid = case["properties"]["id"]
    params = {"since": start, "max_seconds": 0.5, "poll_seconds": 0.2}
    r = cases_client.get(
        "/api/v1/cases/changes", params=params, headers=callers["grid_worker"].headers
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [block for block in r.text.split("\n\n") if "event: case" in block]
    assert len(events) == 2 and all('"case_id"' not in e for e in events)
    assert f'"id":{cid}' in events[-1] and '"action":"accept"' in events[-1]
    assert events[0].startswith("id: ")
    resumed = cases_client.get(
        "/api/v1/cases/changes",
        params=params,
        headers={**callers["grid_worker"].headers, "Last-Event-ID": events[0].split("\n")[0][4:]},
    )
    assert resumed.text.count("event: case") == 1
    none = cases_client.get(
        "/api/v1/cases/changes", params=params, headers=callers["other_grid"].headers
    )
    assert "event: case" not in none.text


def test_catalogue_is_public(cases_client):
    r = cases_client.get("/api/v1/case-catalogue")
    cats = {c["code"]: c for c in r.json()["categories"]}
    assert len(cats) == 9 and cats["neighbour_dispute"]["name_zh"] == "邻里纠纷"
    assert cats["medical"]["limits"]["urgent"]["total_hours"] == 12
    assert {d["short_zh"] for d in r.json()["departments"]} >= {"卫健委", "公安局"}


def test_kpi_endpoint_roles(cases_client, callers, new_case):
    new_case("closed")
    r = cases_client.get(
        "/api/v1/kpis",
        params={"group_by": "street,category"},
        headers=callers["dispatcher"].headers,
    )
    assert r.status_code == 200 and r.json()["group_by"] == ["street", "category"]
    assert cases_client.get("/api/v1/kpis", headers=callers["channel"].headers).status_code == 403
    assert (
        cases_client.get(
            "/api/v1/kpis", params={"group_by": "planet"}, headers=callers["planner"].headers
        ).status_code
        == 422
    )


# --- ten parallel retries, committed, real connections -----------------------------------------


@pytest.fixture
def live_client(committed) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[get_session] = request_sessions(committed, expire_on_commit=False)
    with TestClient(app) as c:
        yield c


def test_ten_parallel_retries_make_one_case(live_client, committed, body):
    with Session(committed) as s:
        caller = make_caller(s, "case-idem-channel", "channel", channel="merchant")
        s.commit()
    key, barrier = str(uuid.uuid4()), threading.Barrier(10)
    body = {**body, "description": f"并发幂等 {key}"}

    def post(_: int):
        barrier.wait()
        return live_client.post(
            "/api/v1/cases", json=body, headers={**caller.headers, "Idempotency-Key": key}
        )

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(post, range(10)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409} and codes.count(201) >= 1, codes
    created = {r.json()["case"]["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    with committed.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM cases WHERE description = :d"), {"d": body["description"]}
        ).scalar()
    assert n == 1
    # once the first has committed, a retry replays it
    late = live_client.post(
        "/api/v1/cases", json=body, headers={**caller.headers, "Idempotency-Key": key}
    )
    assert late.status_code == 201 and late.json()["case"]["id"] in created
    assert late.headers["Idempotent-Replayed"] == "true"


def test_open_cases_layer_in_tiles_and_ogc(cases_client, callers, new_case):
    cid = new_case("dispatched")["properties"]["id"]
    items = cases_client.get(
        "/ogc/collections/open_cases/items", headers=callers["grid_worker"].headers
    )
    assert items.status_code == 200, items.text
    feats = {f["id"]: f for f in items.json()["features"]}
    assert feats[cid]["properties"]["clock_state"] == "on_track"
    other = cases_client.get(
        "/ogc/collections/open_cases/items", headers=callers["other_grid"].headers
    )
    assert cid not in [f["id"] for f in other.json()["features"]]
    assert cases_client.get("/ogc/collections/open_cases/items").status_code == 404


def test_reveal_reporter_phone_needs_purpose_scope_and_is_audited(
    cases_client, callers, body, session
):
    cid = _create(cases_client, callers["channel"], body).json()["case"]["id"]
    url = f"/api/v1/cases/{cid}/reveal-phone"
    ok = cases_client.post(
        url,
        json={"purpose": "case_handling", "reason": "回访诉求人"},
        headers=callers["grid_worker"].headers,
    )
    assert ok.status_code == 200 and ok.json()["value"] == "13900001234"
    assert (
        cases_client.post(
            url,
            json={"purpose": "curiosity", "reason": "想看看"},
            headers=callers["grid_worker"].headers,
        ).status_code
        == 422
    )
    assert (
        cases_client.post(
            url,
            json={"purpose": "case_handling", "reason": "回访诉求人"},
            headers=callers["other_grid"].headers,
        ).status_code
        == 404
    )
    assert (
        cases_client.post(
            url,
            json={"purpose": "case_handling", "reason": "回访诉求人"},
            headers=callers["channel"].headers,
        ).status_code
        == 403
    )
    audited = session.execute(
        text(
            "SELECT count(*) FROM audit_event WHERE action = 'case.reveal' AND :i = ANY(object_ids)"
        ),
        {"i": str(cid)},
    ).scalar()
    assert audited == 1


def test_case_by_address_is_geocoded(cases_client, callers, session):
    address = session.execute(
        text(
            "SELECT full_address FROM address_point WHERE cell_code = :c AND building IS NOT NULL"
            " ORDER BY id LIMIT 1"
        ),
        {"c": CELL},
    ).scalar()
    r = _create(
        cases_client,
        callers["dispatcher"],
        {"category": "housing", "description": "暖气不热", "address": address},
    )
    assert r.status_code == 201, r.text
    assert r.json()["case"]["properties"]["cell_code"] == CELL
    assert r.json()["case"]["properties"]["address"] == address
    bad = _create(
        cases_client,
        callers["dispatcher"],
        {"category": "housing", "description": "暖气不热", "address": "火星基地1号"},
    )
    assert bad.status_code == 422 and "give a point" in bad.json()["detail"]
