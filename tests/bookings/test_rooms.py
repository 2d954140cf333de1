"""Room bookings over real HTTP: spaces and their hours, free slots, a clash answered 409 with
free alternatives (the exclusion constraint, not a check in Python), bad input that writes
nothing, courses holding their rooms, staff check-in, no-shows, visits, scope and the logs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from geo.access.principal import as_system
from geo.bookings import service
from geo.bookings.schemas import RoomBookingCreate
from geo.core.clock import db_now

URL = "/api/v1/bookings/rooms"


def _count(session: Session) -> int:
    as_system(session)
    return session.execute(
        text("SELECT count(*) FROM space_booking WHERE kind = 'room'")
    ).scalar_one()


def _book(client, world, who_headers=None, **fields):
    body = {
        "space": world.forest,
        "starts_at": world.at(14).isoformat(),
        "purpose": "书法",
        **fields,
    }
    return client.post(URL, json=body, headers=who_headers or {})


def test_spaces_list_uses_and_staggered_and_extended_hours(client, world):
    spaces = {s["code"]: s for s in client.get("/api/v1/spaces").json()["spaces"]}
    forest = spaces[world.forest]
    assert forest["name"] == "森林学坊" and forest["uses"] == ["书法", "编织"]
    kinds = {(h["opens"], h["closes"], h["kind"]) for h in forest["hours"] if h["period"] == "peak"}
    assert ("18:00", "21:00", "extended") in kinds and ("14:00", "17:00", "staggered") in kinds
    by_use = client.get("/api/v1/spaces", params={"use": "古典舞"}).json()["spaces"]
    assert world.dance in {s["code"] for s in by_use} and world.forest not in {
        s["code"] for s in by_use
    }


def test_free_slots_leave_out_the_course_session(client, world):
    resp = client.get(f"/api/v1/spaces/{world.forest}/slots", params={"day": str(world.day)})
    assert resp.status_code == 200, resp.text
    starts = [s["starts_at"][11:16] for s in resp.json()["free"]]
    assert "09:00" not in starts  # the 书法 session holds the room
    assert starts[:2] == ["08:00", "10:00"] and "20:00" in starts and len(starts) == 8


def test_public_books_a_slot_and_keeps_the_code(client, session, world):
    resp = _book(client, world, name="赵秀兰", party_size=3)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["public_id"].startswith("KR") and len(out["public_id"]) == 12
    assert out["status"] == "booked" and out["allowed_actions"] == ["cancel"]
    assert "赵秀兰" not in resp.text and "id" not in out  # the public view: no name, no row id
    assert resp.headers["Location"] == f"/api/v1/bookings/public/{out['public_id']}"
    again = client.get(f"/api/v1/bookings/public/{out['public_id']}").json()
    assert [e["action"] for e in again["events"]] == ["book"]
    as_system(session)
    audit = session.execute(
        text("SELECT count(*) FROM audit_event WHERE action = 'booking.room.book'")
    ).scalar_one()
    assert audit >= 1


def test_a_clash_is_409_with_free_alternatives_and_writes_nothing(client, session, world):
    assert _book(client, world).status_code == 201
    before = _count(session)
    resp = _book(client, world, slots=2)  # 14:00-16:00 overlaps 14:00-15:00
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert "already booked" in body["detail"]
    same = body["alternatives"]["same_space"]
    assert same[0]["space"] == world.forest and same[0]["starts_at"][11:16] == "15:00"
    others = {a["space"] for a in body["alternatives"]["other_spaces"]}
    assert world.dance in others and world.far in others  # rooms used for 书法, free then
    assert _count(session) == before


def test_the_database_refuses_an_overlap_even_without_the_service(session, world):
    as_system(session)
    row = session.execute(
        text("SELECT space_id, during FROM space_booking WHERE kind = 'course' LIMIT 1")
    ).one()
    with (
        pytest.raises(IntegrityError, match="ex_space_booking_no_overlap"),
        session.begin_nested(),
    ):
        session.execute(
            text(
                "INSERT INTO space_booking (public_id, kind, space_id, community_code,"
                " street_code, during, starts_at, status, purpose, created_by,"
                " created_by_role, booked_at) SELECT 'KRTESTOVERLAP', 'room', id,"
                " community_code, street_code, tstzrange(lower(:d) + interval '30 min',"
                " upper(:d) + interval '30 min'), lower(:d), 'booked', '书法', 't', 'system',"
                " city_now() FROM activity_space WHERE id = :s"
            ),
            {"s": row.space_id, "d": row.during},
        )


def test_a_course_session_holds_its_room(client, world):
    resp = _book(client, world, starts_at=world.at(9).isoformat())
    assert resp.status_code == 409
    assert resp.json()["alternatives"]["same_space"][0]["starts_at"][11:16] == "10:00"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"purpose": "古典舞"}, "its uses"),
        ({"starts_at": "12:00"}, "opening hours"),
        ({"starts_at": "14:30"}, "slots of 60 minutes"),
        ({"party_size": 21}, "holds 20"),
        ({"days": -3}, "passed"),
        ({"days": 70}, "60 days ahead"),
    ],
)
def test_bad_bookings_are_422_and_write_nothing(client, session, world, fields, says):
    fields = dict(fields)
    hour, minute = map(int, fields.pop("starts_at", "14:00").split(":"))
    start = world.at(hour, minute, days=fields.pop("days", 0))
    before = _count(session)
    resp = _book(client, world, starts_at=start.isoformat(), **fields)
    assert resp.status_code == 422, resp.text
    assert says in resp.json()["detail"]
    assert _count(session) == before


def test_a_closure_is_a_409_with_alternatives(client, session, world):
    from geo.access.principal import Principal
    from geo.bookings import spaces

    space = spaces.space_by_code(session, world.forest)
    spaces.add_closure(
        session, Principal.system(), space.id, world.at(14), world.at(17), "地面维修"
    )
    resp = _book(client, world)
    assert resp.status_code == 409 and "地面维修" in resp.json()["detail"]
    assert resp.json()["alternatives"]["same_space"][0]["starts_at"][11:16] == "18:00"


def test_roles_that_do_not_book_are_403_and_staff_book_only_their_scope(client, world, callers):
    assert _book(client, world, callers["planner"].headers).status_code == 403
    far = _book(client, world, callers["far_community"].headers)
    assert far.status_code == 403
    own = _book(client, world, callers["community_staff"].headers)
    assert own.status_code == 201 and "id" in own.json()


def test_holder_cancels_then_the_slot_is_free_again(client, world):
    code = _book(client, world).json()["public_id"]
    no_reason = client.post(
        f"/api/v1/bookings/public/{code}/transitions", json={"action": "cancel"}
    )
    assert no_reason.status_code == 422
    resp = client.post(
        f"/api/v1/bookings/public/{code}/transitions",
        json={"action": "cancel", "reason": "临时有事"},
    )
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    twice = client.post(
        f"/api/v1/bookings/public/{code}/transitions", json={"action": "cancel", "reason": "再次"}
    )
    assert twice.status_code == 409 and twice.json()["allowed"] == []
    assert _book(client, world).status_code == 201  # the slot is free again


def test_staff_check_in_no_show_and_visits_per_space_and_day(client, session, world, callers):
    staff = callers["community_staff"]
    now = db_now(session)
    yesterday = world.day - timedelta(days=3)
    ids = []
    for hour, size in ((14, 4), (15, 2)):
        made = service.book_room(
            session,
            staff.principal,
            RoomBookingCreate(
                space=world.forest,
                starts_at=world.at(hour, days=-3),
                purpose="编织",
                party_size=size,
            ),
            now=now - timedelta(days=4),
        )
        ids.append(made["id"])
    session.commit()
    step = f"/api/v1/bookings/room/{ids[0]}/transitions"
    assert client.post(step, json={"action": "attend"}, headers=staff.headers).status_code == 200
    resp = client.post(step, json={"action": "no_show"}, headers=staff.headers)
    assert resp.status_code == 409 and "you may: nothing now" in resp.json()["detail"]
    missed = f"/api/v1/bookings/room/{ids[1]}/transitions"
    assert client.post(missed, json={"action": "no_show"}, headers=staff.headers).status_code == 200
    visits = client.get(
        "/api/v1/bookings/visits",
        params={"from": str(yesterday), "to": str(yesterday)},
        headers=staff.headers,
    ).json()["visits"]
    assert visits == [{"space": world.forest, "day": str(yesterday), "visits": 4}]
    listed = client.get(
        "/api/v1/bookings", params={"from": str(yesterday)}, headers=staff.headers
    ).json()
    assert [b["status"] for b in listed["bookings"]] == ["attended", "no_show"]
    one = client.get(f"/api/v1/bookings/room/{ids[0]}", headers=staff.headers).json()
    assert [e["action"] for e in one["events"]] == ["book", "attend"]


def test_out_of_scope_staff_get_404(client, world, callers):
    made = _book(client, world, callers["community_staff"].headers).json()
    url = f"/api/v1/bookings/room/{made['id']}"
    assert client.get(url, headers=callers["street_staff"].headers).status_code == 200
    assert client.get(url, headers=callers["far_community"].headers).status_code == 404
    step = client.post(
        url + "/transitions",
        json={"action": "cancel", "reason": "x y"},
        headers=callers["far_community"].headers,
    )
    assert step.status_code == 404


def test_the_event_log_is_append_only(client, session, world):
    _book(client, world)
    as_system(session)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE booking_event SET note = 'x'"))


def test_without_an_account_five_bookings_an_hour_per_address(client, session, world):
    for hour in (14, 15, 16, 18, 19):
        made = _book(client, world, space=world.dance, starts_at=world.at(hour).isoformat())
        assert made.status_code == 201, made.text
    before = _count(session)
    resp = _book(client, world, space=world.dance, starts_at=world.at(20).isoformat())
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "5 an hour" in resp.json()["detail"]
    seat = client.post("/api/v1/bookings/seats", json={"session_id": world.session_id})
    assert seat.status_code == 429  # seats count too
    assert _count(session) == before
    other = client.post(
        URL,
        json={"space": world.dance, "starts_at": world.at(20).isoformat(), "purpose": "书法"},
        headers={"X-Forwarded-For": "203.0.113.9"},  # not a trusted proxy: still this address
    )
    assert other.status_code == 429
