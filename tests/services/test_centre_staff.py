"""Centre staff (服务中心) and service requests: the staff of one service area see and work the
requests that area serves, and nothing of another area, even of the same community: 404 through
the API, and no row through row-level security when the application's filter is left out."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import apply_rls, as_system
from tests.cases.conftest import Caller, make_caller
from tests.security.conftest import as_app_role, as_owner, client_for
from tests.services.conftest import Areas, body

URL = "/api/v1/service-requests"


@pytest.fixture
def centres(session: Session, areas: Areas) -> dict[str, Caller]:
    """Staff of the serving area, of the other area of the same community (which does not offer
    the item), and of the far area (another street)."""
    out = {
        key: make_caller(session, f"svc-centre-{key}", "centre_staff", service_area_id=area)
        for key, area in (
            ("serving", areas.serving),
            ("near_wrong", areas.near_wrong),
            ("far", areas.far),
        )
    }
    session.commit()
    return out


def _made(app, areas: Areas, serving: Caller) -> tuple[str, int]:
    """(public id, id) of a request made on the card at the areas' point: served by `serving`'s
    area, the only request that centre's list holds."""
    made = app.post(URL, json=body(areas, phone="13912345678", name="赵秀兰"))
    assert made.status_code == 201, made.text
    assert made.json()["area"]["id"] == areas.serving
    listed = app.get(URL, headers=serving.headers).json()["requests"]
    assert [x["public_id"] for x in listed] == [made.json()["public_id"]]
    return str(made.json()["public_id"]), int(listed[0]["id"])


def test_centre_staff_work_their_areas_requests_and_nothing_else(session, areas, centres, callers):
    as_app_role(session)
    app = client_for(session)
    pid, rid = _made(app, areas, centres["serving"])
    mine, near, far = (centres[k].headers for k in ("serving", "near_wrong", "far"))

    listed = app.get(URL, headers=mine).json()["requests"]
    assert [x["id"] for x in listed] == [rid]
    assert listed[0]["allowed_actions"] == ["accept", "hand_over", "cancel"]
    # Same community, another area: the community's staff see it, that centre does not.
    assert rid not in [x["id"] for x in app.get(URL, headers=near).json()["requests"]]
    assert rid in [
        x["id"] for x in app.get(URL, headers=callers["community_staff"].headers).json()["requests"]
    ]
    for who in (near, far):
        assert app.get(f"{URL}/{rid}", headers=who).status_code == 404
        step = app.post(f"{URL}/{rid}/transitions", json={"action": "accept"}, headers=who)
        assert step.status_code == 404 and "赵秀兰" not in step.text
        reveal = app.post(
            f"{URL}/{rid}/reveal-phone",
            json={"purpose": "case_handling", "reason": "回电确认时间"},
            headers=who,
        )
        assert reveal.status_code == 404 and "13912345678" not in reveal.text
    assert app.get(f"{URL}/{rid}", headers=mine).json()["status"] == "submitted"

    accepted = app.post(f"{URL}/{rid}/transitions", json={"action": "accept"}, headers=mine)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # The contact, to call back: revealed to the serving centre and audited as for other staff.
    shown = app.post(
        f"{URL}/{rid}/reveal-phone",
        json={"purpose": "case_handling", "reason": "回电确认陪诊时间"},
        headers=mine,
    )
    assert shown.status_code == 200 and shown.json()["phone"] == "13912345678", shown.text

    # Centre staff make no requests themselves (a resident or their grid worker does).
    assert app.post(URL, json=body(areas), headers=mine).status_code == 403

    # Handed over to the far area: it leaves this centre and reaches that one.
    moved = app.post(
        f"{URL}/{rid}/transitions",
        json={"action": "hand_over", "reason": "本中心今日无陪诊人员", "to_area_id": areas.far},
        headers=mine,
    )
    assert moved.status_code == 200, moved.text
    assert app.get(f"{URL}/{rid}", headers=mine).status_code == 404
    for action in ("accept", "fulfil"):
        step = app.post(f"{URL}/{rid}/transitions", json={"action": action}, headers=far)
        assert step.status_code == 200, step.text
    assert app.get(f"{URL}/public/{pid}").json()["status"] == "fulfilled"

    as_owner(session)  # the audit log is the admin's to read
    as_system(session)
    audited = session.execute(
        text(
            "SELECT actor_name, action, fields FROM audit_event WHERE actor_role = 'centre_staff'"
            " AND CAST(:rid AS text) = ANY (object_ids) ORDER BY seq"
        ),
        {"rid": rid},
    ).all()
    assert [(a.actor_name, a.action) for a in audited] == [
        ("svc-centre-serving", "service_request.accept"),
        ("svc-centre-serving", "service_request.reveal"),
        ("svc-centre-serving", "service_request.hand_over"),
        ("svc-centre-far", "service_request.accept"),
        ("svc-centre-far", "service_request.fulfil"),
    ]
    assert audited[1].fields == ["phone"]


def test_centre_staff_have_no_residents_cases_or_lists(session, areas, centres):
    as_app_role(session)
    app = client_for(session)
    mine = centres["serving"].headers
    for url in ("/api/v1/residents", "/api/v1/cases", "/api/v1/lists/demands"):
        assert app.get(url, headers=mine).status_code == 403, url


def test_row_level_security_alone_keeps_areas_apart(session, areas, centres):
    """The application's filter left out: a bare SELECT and UPDATE as the application role."""
    as_app_role(session)
    app = client_for(session)
    _, rid = _made(app, areas, centres["serving"])
    session.commit()
    seen = "SELECT id FROM service_request WHERE id = :id"
    for key, visible in (("serving", True), ("near_wrong", False), ("far", False)):
        savepoint = session.begin_nested()
        apply_rls(session, centres[key].principal)
        assert (session.execute(text(seen), {"id": rid}).first() is not None) == visible, key
        changed = session.execute(
            text("UPDATE service_request SET description = 'x' WHERE id = :id"), {"id": rid}
        )
        assert changed.rowcount == (1 if visible else 0), key
        moved = session.scalar(
            text("SELECT service_request_hand_over(:id, :area, city_now())"),
            {"id": rid, "area": areas.far if key != "far" else areas.near_wrong},
        )
        assert moved is visible, key
        savepoint.rollback()
