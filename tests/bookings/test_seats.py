"""Course seats over real HTTP: the counter stops at capacity (409 with other sessions), the
waitlist queues in order and its first is promoted when a seat is cancelled, by the database
function, with its own event and audit row; staff record attendance."""

from __future__ import annotations

from sqlalchemy import text

from geo.access.principal import as_system

URL = "/api/v1/bookings/seats"


def _seat(client, world, headers=None, **fields):
    return client.post(URL, json={"session_id": world.session_id, **fields}, headers=headers or {})


def _taken(session, session_id: int) -> int:
    return session.execute(
        text("SELECT seats_taken FROM course_session WHERE id = :i"), {"i": session_id}
    ).scalar_one()


def test_sessions_list_teacher_and_free_seats(client, world):
    found = client.get("/api/v1/course-sessions", params={"use": "书法"}).json()["sessions"]
    mine = [s for s in found if s["id"] == world.session_id]
    assert mine and mine[0]["teacher"] == "王老师" and mine[0]["seats_free"] == 2


def test_full_session_is_409_with_other_sessions(client, session, world):
    assert _seat(client, world).status_code == 201
    assert _seat(client, world).status_code == 201
    resp = _seat(client, world)
    assert resp.status_code == 409, resp.text
    assert "waitlist" in resp.json()["detail"]
    others = resp.json()["alternatives"]["sessions"]
    assert others[0]["id"] == world.later_session_id and others[0]["seats_free"] == 2
    assert _taken(session, world.session_id) == 2


def test_waitlist_is_promoted_in_order_when_a_seat_is_cancelled(client, session, world):
    first = _seat(client, world).json()["public_id"]
    _seat(client, world)
    queued = [_seat(client, world, waitlist=True).json() for _ in range(2)]
    assert [q["status"] for q in queued] == ["waitlisted", "waitlisted"]
    assert queued[0]["allowed_actions"] == ["cancel"]
    resp = client.post(
        f"/api/v1/bookings/public/{first}/transitions",
        json={"action": "cancel", "reason": "生病了"},
    )
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    now_first = client.get(f"/api/v1/bookings/public/{queued[0]['public_id']}").json()
    still = client.get(f"/api/v1/bookings/public/{queued[1]['public_id']}").json()
    assert now_first["status"] == "booked" and still["status"] == "waitlisted"
    assert [e["action"] for e in now_first["events"]] == ["waitlist", "promote"]
    as_system(session)
    assert _taken(session, world.session_id) == 2
    audited = session.execute(
        text("SELECT count(*) FROM audit_event WHERE action = 'booking.seat.promote'")
    ).scalar_one()
    assert audited >= 1
    # Cancelling a waitlisted place frees no seat and promotes nobody.
    client.post(
        f"/api/v1/bookings/public/{still['public_id']}/transitions",
        json={"action": "cancel", "reason": "不等了"},
    )
    assert _taken(session, world.session_id) == 2


def test_staff_see_and_work_the_seats_of_their_spaces(client, session, world, callers):
    staff = callers["community_staff"]
    made = _seat(client, world, staff.headers, name="钱桂英").json()
    assert made["name"] == "钱桂英" and made["course"]["teacher"] == "王老师"
    listed = client.get(
        "/api/v1/bookings", params={"kind": "seat", "from": str(world.day)}, headers=staff.headers
    ).json()
    assert [b["id"] for b in listed["bookings"]] == [made["id"]]
    early = client.post(
        f"/api/v1/bookings/seat/{made['id']}/transitions",
        json={"action": "no_show"},
        headers=staff.headers,
    )
    assert early.status_code == 422 and "started" in early.json()["detail"]
    far = client.get(
        f"/api/v1/bookings/seat/{made['id']}", headers=callers["far_community"].headers
    )
    assert far.status_code == 404


def test_unknown_session_is_404(client, world):
    assert client.post(URL, json={"session_id": 999999}).status_code == 404
