"""Service requests over real HTTP against the demo database: routing to the nearest area that
offers the item, the workflow and its 409s, scope in the query (404 across the line), the
public form (no account, phone protected, rate-limited), and bad input that writes nothing."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from geo.privacy import crypto
from geo.services import catalogue
from geo.services.service import PUBLIC_LIMIT
from geo.spatial.crs import Crs, from_wgs84
from tests.services.conftest import ITEM, OTHER_ITEM, body

URL = "/api/v1/service-requests"


def _count(session) -> int:
    return session.execute(text("SELECT count(*) FROM service_request")).scalar_one()


def _make(client, callers, areas, who="public", **fields):
    resp = client.post(URL, json=body(areas, **fields), headers=callers[who].headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _id(session, public_id: str) -> int:
    return session.execute(
        text("SELECT id FROM service_request WHERE public_id = :p"), {"p": public_id}
    ).scalar_one()


def _step(client, callers, who, request_id, **payload):
    return client.post(
        f"{URL}/{request_id}/transitions", json=payload, headers=callers[who].headers
    )


# --- the catalogue -------------------------------------------------------------------------------


def test_catalogue_lists_48_items_with_codes_and_due_times(client):
    resp = client.get("/api/v1/service-items")
    assert resp.status_code == 200
    cats = resp.json()["categories"]
    assert len(cats) == 6
    items = [i for c in cats for i in c["items"]]
    assert len(items) == 48 and len({i["code"] for i in items}) == 48
    by_code = {i["code"]: i for i in items}
    assert by_code["health.04"]["name"] == "就医指引" and by_code["health.04"]["due_hours"] == 4
    assert by_code["errands.04"]["due_hours"] == 72  # the category's default
    assert all(i["due_hours"] > 0 for i in items)


# --- routing -------------------------------------------------------------------------------------


def test_routed_to_the_nearest_area_that_offers_the_item(client, session, callers, areas):
    near = client.get(
        f"/api/v1/service-items/{ITEM}/areas",
        params={"lon": areas.point[0], "lat": areas.point[1], "k": 2},
    ).json()["areas"]
    assert [a["id"] for a in near] == [areas.serving, areas.far]  # not the nearer 书画 area

    resp = client.post(URL, json=body(areas, phone="13912345678", name="赵秀兰"))
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["area"]["id"] == areas.serving
    assert out["status"] == "submitted" and out["item"]["code"] == ITEM
    assert resp.headers["Location"] == f"{URL}/public/{out['public_id']}"
    # The anonymous maker gets back no coordinates, name or phone, only the public view.
    assert "lon" not in out and "phone" not in out and "13912345678" not in resp.text
    assert "赵秀兰" not in resp.text
    row = session.execute(
        text(
            "SELECT distance_m, ST_Distance(r.geom::geography, a.geom::geography, true) AS d,"
            " due_at - requested_at AS due, area_community_code, area_street_code"
            " FROM service_request r JOIN service_area a ON a.id = r.area_id"
            " WHERE public_id = :p"
        ),
        {"p": out["public_id"]},
    ).one()
    assert 250 < row.distance_m < 350 and math.isclose(row.distance_m, row.d, abs_tol=0.1)
    assert out["area"]["distance_m"] == pytest.approx(row.d, abs=0.1)
    assert row.due == timedelta(hours=4)  # health.04's due time
    assert row.area_street_code == row.area_community_code[:9]
    # Instants leave in the city's offset.
    assert datetime.fromisoformat(out["due_at"]).utcoffset() == timedelta(hours=8)


def test_a_point_in_gcj02_lands_in_the_same_place(client, callers, areas):
    glon, glat = from_wgs84(areas.point[0], areas.point[1], Crs.gcj02)
    out = _make(client, callers, areas, lon=float(glon), lat=float(glat), crs="gcj02")
    assert out["area"]["id"] == areas.serving


# --- bad input: 4xx with a message, never 500, never a row ---------------------------------------


@pytest.mark.parametrize(
    "change,status,words",
    [
        ({"item": "health.99"}, 422, "unknown item code"),
        ({"item": "就医指引"}, 422, "unknown item code"),
        ({"lon": 116.39, "lat": 39.91}, 404, "outside the covered area"),
        ({"crs": "EPSG:3857"}, 422, "crs"),
        ({"description": "很" * 501}, 422, "description"),
        ({"name": "名" * 51}, 422, "name"),
        ({"phone": "12345"}, 422, "phone"),
        ({"phone": "13912345678\u0000"}, 422, "NUL"),
        ({"status": "fulfilled"}, 422, "status"),
        ({"lon": 181.0}, 422, "lon"),
    ],
)
def test_bad_input_is_a_4xx_and_writes_nothing(
    client, session, callers, areas, change, status, words
):
    before = _count(session)
    resp = client.post(URL, json=body(areas, **change))
    assert resp.status_code == status, resp.text
    assert words.lower() in resp.text.lower()
    assert _count(session) == before


def test_swapped_coordinates_are_named(client, session, areas):
    lon, lat = areas.point
    before = _count(session)
    resp = client.post(URL, json=body(areas, lon=lat, lat=lon))
    assert resp.status_code in (404, 422), resp.text
    assert "swap" in resp.json()["detail"]
    assert _count(session) == before


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client, session, areas, number):
    raw = json.dumps(body(areas)).replace(str(areas.point[1]), number)
    before = _count(session)
    resp = client.post(URL, content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 422, resp.text
    assert "finite" in resp.text
    assert _count(session) == before


def test_staff_and_planners_do_not_make_requests(client, callers, areas):
    for who in ("community_staff", "planner", "dispatcher"):
        resp = client.post(URL, json=body(areas), headers=callers[who].headers)
        assert resp.status_code == 403, (who, resp.text)


def test_a_grid_worker_requests_only_in_their_cells(client, callers, areas):
    resp = client.post(URL, json=body(areas), headers=callers["other_grid"].headers)
    assert resp.status_code == 422 and "outside your cells" in resp.json()["detail"]


# --- the phone: optional, encrypted, masked ------------------------------------------------------


def test_phone_is_encrypted_hashed_and_masked(client, session, callers, areas):
    out = _make(client, callers, areas, who="grid_worker", phone="139-1234-5678", name="王秀英")
    assert out["phone"] == "139****5678"
    row = session.execute(
        text("SELECT phone_enc, phone_hash, phone_masked FROM service_request WHERE id = :i"),
        {"i": out["id"]},
    ).one()
    assert "5678" not in row.phone_enc and "13912345678" not in row.phone_hash
    assert crypto.decrypt(row.phone_enc, context="service_request.phone") == "13912345678"
    assert row.phone_hash == crypto.lookup_hash("13912345678", kind="phone")
    listed = client.get(URL, headers=callers["community_staff"].headers).text
    assert "13912345678" not in listed and "139****5678" in listed
    # Without a phone: nothing stored.
    plain = _make(client, callers, areas)
    assert (
        session.execute(
            text("SELECT phone_enc FROM service_request WHERE public_id = :p"),
            {"p": plain["public_id"]},
        ).scalar()
        is None
    )


# --- the workflow --------------------------------------------------------------------------------


def test_accept_fulfil_rate_each_audited_and_logged(client, session, callers, areas):
    made = _make(client, callers, areas)
    rid, pid = _id(session, made["public_id"]), made["public_id"]
    assert _step(client, callers, "community_staff", rid, action="accept").status_code == 200
    done = _step(client, callers, "street_staff", rid, action="fulfil", note="已陪同就诊")
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    rated = client.post(
        f"{URL}/public/{pid}/transitions", json={"action": "rate", "rating": 4, "comment": "很好"}
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["status"] == "rated" and rated.json()["rating"] == 4
    seen = client.get(f"{URL}/public/{pid}").json()
    assert [e["action"] for e in seen["events"]] == ["request", "accept", "fulfil", "rate"]
    assert "actor" not in seen["events"][0]  # the public timeline names no staff
    staff_view = client.get(f"{URL}/{rid}", headers=callers["community_staff"].headers).json()
    assert [e["actor_role"] for e in staff_view["events"]][1:] == [
        "community_staff",
        "street_staff",
        "public",
    ]
    audited = (
        session.execute(
            text(
                "SELECT action FROM audit_event WHERE object_type = 'service_request'"
                " AND :i = ANY (object_ids) ORDER BY seq"
            ),
            {"i": str(rid)},
        )
        .scalars()
        .all()
    )
    assert audited == [
        "service_request.create",
        "service_request.accept",
        "service_request.fulfil",
        "service_request.rate",
    ]
    # The log is append-only, for everyone.
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(
            text("UPDATE service_request_event SET note = 'x' WHERE request_id = :i"),
            {"i": rid},
        )


@pytest.mark.parametrize(
    "steps,who,payload,words",
    [
        ([], "public", {"action": "rate", "rating": 5}, "not possible from 'submitted'"),
        (["accept"], "community_staff", {"action": "accept"}, "not possible from 'accepted'"),
        (["accept"], "grid_worker", {"action": "fulfil"}, "not yours"),
        (["accept", "fulfil"], "community_staff", {"action": "rate", "rating": 5}, "not yours"),
        (
            ["accept", "fulfil"],
            "public",
            {"action": "cancel", "reason": "不需要了"},
            "not possible",
        ),
        ([], "community_staff", {"action": "start"}, "not possible"),
    ],
)
def test_illegal_transitions_are_409_with_what_is_allowed(
    client, session, callers, areas, steps, who, payload, words
):
    made = _make(client, callers, areas, who="grid_worker")
    rid = made["id"]
    for action in steps:
        assert _step(client, callers, "community_staff", rid, action=action).status_code == 200
    if who == "public":
        resp = client.post(f"{URL}/public/{made['public_id']}/transitions", json=payload)
    else:
        resp = _step(client, callers, who, rid, **payload)
    assert resp.status_code == 409, resp.text
    detail = resp.json()
    assert words in detail["detail"] and "you may" in detail["detail"]
    assert "allowed" in detail and "status" in detail


def test_payload_rules_are_422(client, session, callers, areas):
    rid = _make(client, callers, areas, who="grid_worker")["id"]
    cases = [
        ("community_staff", {"action": "hand_over"}, "reason"),
        ("community_staff", {"action": "cancel"}, "reason"),
        ("community_staff", {"action": "accept", "rating": 3}, "does not take rating"),
        (
            "community_staff",
            {"action": "hand_over", "reason": "人手不足", "to_area_id": areas.near_wrong},
            "does not offer",
        ),
        (
            "community_staff",
            {"action": "hand_over", "reason": "人手不足", "to_area_id": areas.serving},
            "already serves",
        ),
        (
            "community_staff",
            {"action": "hand_over", "reason": "人手不足", "to_area_id": 2**31 - 1},
            "no service area",
        ),
    ]
    for who, payload, words in cases:
        resp = _step(client, callers, who, rid, **payload)
        assert resp.status_code == 422 and words in resp.text, (payload, resp.text)
    resp = _step(client, callers, "community_staff", rid, action="accept")
    assert resp.status_code == 200
    bad_rating = _step(client, callers, "community_staff", rid, action="fulfil")
    assert bad_rating.status_code == 200
    for rating in (0, 6, 2.5):
        resp = _step(client, callers, "grid_worker", rid, action="rate", rating=rating)
        assert resp.status_code == 422, resp.text


def test_the_grid_worker_who_asked_rates_for_the_resident(client, callers, areas):
    rid = _make(client, callers, areas, who="grid_worker")["id"]
    _step(client, callers, "community_staff", rid, action="accept")
    _step(client, callers, "community_staff", rid, action="fulfil")
    resp = _step(client, callers, "grid_worker", rid, action="rate", rating=5)
    assert resp.status_code == 200 and resp.json()["status"] == "rated"


# --- scope: staff see their areas only; crossing the line is a 404 -------------------------------


def test_staff_outside_the_serving_scope_see_nothing(client, session, callers, areas):
    rid = _make(client, callers, areas, who="grid_worker")["id"]
    for who in ("other_community", "far_community", "far_street", "other_grid"):
        h = callers[who].headers
        assert client.get(f"{URL}/{rid}", headers=h).status_code == 404, who
        assert rid not in [x["id"] for x in client.get(URL, headers=h).json()["requests"]]
        resp = _step(client, callers, who, rid, action="accept")
        assert resp.status_code == 404, (who, resp.text)
    for who in ("planner", "dispatcher"):
        assert client.get(f"{URL}/{rid}", headers=callers[who].headers).status_code == 403
    assert client.get(f"{URL}/{rid}").status_code == 401
    assert client.get(f"{URL}/public/SRNOTAREALONE").status_code == 404
    for who in ("community_staff", "street_staff", "grid_worker"):
        assert client.get(f"{URL}/{rid}", headers=callers[who].headers).status_code == 200, who


def test_hand_over_moves_it_across_the_line(client, session, callers, areas):
    made = _make(client, callers, areas)
    rid = _id(session, made["public_id"])
    assert _step(client, callers, "community_staff", rid, action="accept").status_code == 200
    moved = _step(
        client, callers, "community_staff", rid, action="hand_over", reason="本服务区今日无陪诊人员"
    )
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"id": rid, "status": "submitted", "area": {"id": areas.far}}
    # The old area's staff lost it; the new area's staff have it, with the same due time.
    assert client.get(f"{URL}/{rid}", headers=callers["community_staff"].headers).status_code == 404
    again = _step(client, callers, "community_staff", rid, action="accept")
    assert again.status_code == 404
    far = client.get(f"{URL}/{rid}", headers=callers["far_street"].headers).json()
    assert far["area"]["id"] == areas.far and far["handover_count"] == 1
    assert far["due_at"] == made["due_at"] and far["accepted_at"] is None
    assert far["events"][-1]["data"]["reason"] == "本服务区今日无陪诊人员"
    assert _step(client, callers, "far_community", rid, action="accept").status_code == 200
    # The maker still follows it.
    assert client.get(f"{URL}/public/{made['public_id']}").json()["status"] == "accepted"


def test_rls_alone_limits_rows(session, callers, areas, client):
    from geo.access.principal import apply_rls
    from geo.core.config import security_settings

    rid = _make(client, callers, areas, who="grid_worker")["id"]
    pid = session.execute(
        text("SELECT public_id FROM service_request WHERE id = :i"), {"i": rid}
    ).scalar_one()
    session.execute(text(f'SET LOCAL ROLE "{security_settings().db_role}"'))

    def visible(who: str, *public_ids: str) -> int:
        apply_rls(session, callers[who].principal)
        session.execute(
            text("SELECT set_config('houniao.service_request_public_ids', :p, true)"),
            {"p": ",".join(public_ids)},
        )
        return session.execute(
            text("SELECT count(*) FROM service_request WHERE id = :i"), {"i": rid}
        ).scalar_one()

    assert visible("community_staff") == 1
    assert visible("street_staff") == 1
    assert visible("grid_worker") == 1
    for who in (
        "other_community",
        "far_community",
        "far_street",
        "other_grid",
        "planner",
        "dispatcher",
    ):
        assert visible(who) == 0, who
    assert visible("public") == 0
    assert visible("public", pid) == 1
    # Out of scope, an UPDATE touches nothing.
    apply_rls(session, callers["far_community"].principal)
    n = session.execute(
        text("UPDATE service_request SET status = 'accepted' WHERE id = :i"), {"i": rid}
    ).rowcount
    assert n == 0
    # Nor can the handover function move it for anyone but the serving area's staff.
    move = text("SELECT service_request_hand_over(:i, :a, city_now())")
    for who in ("far_community", "far_street", "grid_worker", "planner", "public"):
        apply_rls(session, callers[who].principal)
        assert session.execute(move, {"i": rid, "a": areas.far}).scalar_one() is False, who
    apply_rls(session, callers["street_staff"].principal)
    assert session.execute(move, {"i": rid, "a": areas.far}).scalar_one() is True
    assert session.execute(text("SELECT current_setting('houniao.role')")).scalar() == (
        "street_staff"
    )  # the function gave the caller's role back


# --- the public form: no account, rate-limited ---------------------------------------------------


def test_anonymous_requests_are_rate_limited_per_address(client, session, callers, areas):
    for _ in range(PUBLIC_LIMIT):
        assert client.post(URL, json=body(areas, item=OTHER_ITEM)).status_code == 201
    before = _count(session)
    resp = client.post(URL, json=body(areas))
    assert resp.status_code == 429, resp.text
    assert 1 <= int(resp.headers["Retry-After"]) <= 3601
    assert "too many" in resp.json()["detail"]
    assert _count(session) == before
    # A grid worker filing for residents is not limited by the public form's counter.
    assert (
        client.post(URL, json=body(areas), headers=callers["grid_worker"].headers).status_code
        == 201
    )


def test_the_holder_cancels_with_a_reason(client, session, areas, callers):
    made = _make(client, callers, areas)
    url = f"{URL}/public/{made['public_id']}/transitions"
    assert client.post(url, json={"action": "cancel"}).status_code == 422
    resp = client.post(url, json={"action": "cancel", "reason": "家人已陪同"})
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert resp.json()["cancel_reason"] == "家人已陪同"
    assert client.post(url, json={"action": "accept"}).status_code == 409


def test_due_times_come_from_the_catalogue():
    assert catalogue.item("HEALTH.04").due_hours == 4
    assert catalogue.item("culture.01").due_hours == 168
    assert all(i.due_hours <= 168 for i in catalogue.ITEMS.values())


def test_revealing_the_phone_is_audited_and_scoped(client, session, callers, areas):
    rid = _make(client, callers, areas, who="grid_worker", phone="13912345678")["id"]
    url = f"{URL}/{rid}/reveal-phone"
    why = {"purpose": "case_handling", "reason": "回电确认陪诊时间"}
    resp = client.post(url, json=why, headers=callers["community_staff"].headers)
    assert resp.status_code == 200 and resp.json()["phone"] == "13912345678"
    assert client.post(url, json=why, headers=callers["far_street"].headers).status_code == 404
    short = {"purpose": "case_handling", "reason": "x"}
    assert (
        client.post(url, json=short, headers=callers["community_staff"].headers).status_code == 422
    )
    row = session.execute(
        text(
            "SELECT actor_name, fields, purpose FROM audit_event"
            " WHERE action = 'service_request.reveal' AND :i = ANY (object_ids)"
        ),
        {"i": str(rid)},
    ).one()
    assert row.actor_name == "svc-community" and row.fields == ["phone"]
    assert "回电" in row.purpose and "13912345678" not in str(row)


# --- the same paths as the application role: row-level security agrees with the filters ----------


def test_the_whole_flow_as_the_application_role(session, callers, areas):
    from tests.security.conftest import as_app_role, client_for

    as_app_role(session)
    app = client_for(session)
    made = app.post(URL, json=body(areas, phone="13912345678"))
    assert made.status_code == 201, made.text
    pid = made.json()["public_id"]
    assert app.get(f"{URL}/public/{pid}").json()["status"] == "submitted"
    staff = callers["community_staff"].headers
    listed = app.get(URL, headers=staff).json()["requests"]
    (mine,) = [x for x in listed if x["public_id"] == pid]
    rid = mine["id"]
    assert app.get(f"{URL}/{rid}", headers=callers["far_street"].headers).status_code == 404
    assert (
        app.post(f"{URL}/{rid}/transitions", json={"action": "accept"}, headers=staff).json()[
            "status"
        ]
        == "accepted"
    )
    moved = app.post(
        f"{URL}/{rid}/transitions",
        json={"action": "hand_over", "reason": "转交远处服务区"},
        headers=staff,
    )
    assert moved.status_code == 200, moved.text
    assert app.get(f"{URL}/{rid}", headers=staff).status_code == 404
    far = callers["far_community"].headers
    for action in ("accept", "fulfil"):
        resp = app.post(f"{URL}/{rid}/transitions", json={"action": action}, headers=far)
        assert resp.status_code == 200, resp.text
    rated = app.post(f"{URL}/public/{pid}/transitions", json={"action": "rate", "rating": 5})
    assert rated.status_code == 200 and rated.json()["status"] == "rated", rated.text
    # The card's form, anonymous, as the application role too.
    lon, lat = areas.point
    form = {"item": ITEM, "lon": str(lon), "lat": str(lat), "crs": "wgs84", "phone": ""}
    page = app.post("/card/request", data=form)
    assert page.status_code == 201 and "受理编号" in page.text and "测试陪诊服务区" in page.text
    grid = callers["grid_worker"].headers
    made = app.post(URL, json=body(areas), headers=grid)
    assert made.status_code == 201, made.text
    assert app.get(f"{URL}/{made.json()['id']}", headers=grid).status_code == 200


def test_the_card_links_to_a_form_that_answers_in_chinese(client, session, areas):
    lon, lat = areas.point
    card = client.get("/card", params={"lon": lon, "lat": lat})
    assert "/card/request?lon=" in card.text
    form = client.get("/card/request", params={"lon": lon, "lat": lat, "crs": "wgs84"})
    assert form.status_code == 200 and 'name="item"' in form.text and "就医指引" in form.text
    assert "<script" not in form.text
    before = _count(session)
    bad = client.post("/card/request", data={"item": "nope.01", "lon": str(lon), "lat": str(lat)})
    assert bad.status_code == 422 and "unknown item code" in bad.text and "<form" in bad.text
    far = client.post("/card/request", data={"item": ITEM, "lon": "116.39", "lat": "39.91"})
    assert far.status_code == 404 and "outside the covered area" in far.text
    nan = client.post("/card/request", data={"item": ITEM, "lon": "nan", "lat": str(lat)})
    assert nan.status_code == 422
    assert _count(session) == before
    ok = client.post(
        "/card/request",
        data={"item": ITEM, "lon": str(lon), "lat": str(lat), "phone": "13912345678"},
    )
    assert ok.status_code == 201 and "SR" in ok.text and "13912345678" not in ok.text
    assert _count(session) == before + 1
