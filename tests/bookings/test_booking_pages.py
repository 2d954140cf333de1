"""The booking pages over real HTTP, signed in as a browser is (cookie + the page's CSRF token):
the grid worker's phone page books a room slot and a course seat for a resident of their cells
(409 shows the alternatives; a resident outside their cells is a 404), and the centre staff's
list of the day's bookings per space with check-in and no-show; without the token, 403."""

from __future__ import annotations

import re

from sqlalchemy import text

from api.auth import MAP_COOKIE
from tests.bookings.residents import make_resident
from tests.cases.conftest import CELL, FAR_STREET_CELL_SQL

STREET = CELL[:9]


def cookie(caller) -> dict[str, str]:
    token = caller.headers["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"{MAP_COOKIE}={token}"}


def csrf(client, caller, url: str) -> str:
    page = client.get(url, headers=cookie(caller))
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text) or re.search(
        r'data-csrf="([^"]+)"', page.text
    )
    assert found, page.text
    return found.group(1)


def count(session, sql: str, **params) -> int:
    return int(session.scalar(text(sql), params) or 0)


def test_grid_worker_books_a_room_and_a_seat_for_a_resident(client, session, world, callers):
    gw = callers["grid_worker"]
    rid = make_resident(session, "周桂兰", 1950, CELL)
    session.commit()
    page = client.get(
        "/m/bookings",
        params={"resident_id": rid, "space": world.forest, "day": str(world.day)},
        headers=cookie(gw),
    )
    assert page.status_code == 200, page.text
    assert "周**" in page.text and "森林学坊" in page.text
    day_cn = f"{world.day.year}年{world.day.month}月{world.day.day}日"
    assert day_cn in page.text and 'for="b-resident"' in page.text
    token = csrf(client, gw, "/m/bookings")
    form = {
        "csrf_token": token,
        "resident_id": str(rid),
        "space": world.forest,
        "starts_at": world.at(14).isoformat(),
        "purpose": "书法",
    }
    made = client.post("/m/bookings/room", data=form, headers=cookie(gw))
    assert made.status_code == 201, made.text
    assert "已预约" in made.text and re.search(r"KR[0-9A-Z]{10}", made.text)
    row = session.execute(
        text(
            "SELECT booker_name AS name, created_by_role FROM space_booking WHERE kind = 'room' ORDER BY id DESC"
        )
    ).first()
    assert row.name == "周**" and row.created_by_role == "grid_worker"
    assert count(session, "SELECT count(*) FROM audit_event WHERE action = 'booking.for_resident'")

    clash = client.post("/m/bookings/room", data=form, headers=cookie(gw))
    assert clash.status_code == 409, clash.text
    assert "未能预约" in clash.text and "可选的空闲时段" in clash.text

    seat = client.post(
        "/m/bookings/seat",
        data={"csrf_token": token, "resident_id": str(rid), "session_id": str(world.session_id)},
        headers=cookie(gw),
    )
    assert seat.status_code == 201, seat.text
    assert re.search(r"KC[0-9A-Z]{10}", seat.text)


def test_grid_worker_cannot_book_for_a_resident_outside_their_cells(
    client, session, world, callers
):
    gw = callers["grid_worker"]
    far_cell = session.execute(text(FAR_STREET_CELL_SQL), {"street": STREET}).scalar_one()
    stranger = make_resident(session, "钱多多", 1950, far_cell)
    session.commit()
    token = csrf(client, gw, "/m/bookings")
    before = count(session, "SELECT count(*) FROM space_booking")
    resp = client.post(
        "/m/bookings/room",
        data={
            "csrf_token": token,
            "resident_id": str(stranger),
            "space": world.forest,
            "starts_at": world.at(15).isoformat(),
            "purpose": "书法",
        },
        headers=cookie(gw),
    )
    assert resp.status_code == 404
    assert count(session, "SELECT count(*) FROM space_booking") == before


def test_csrf_missing_is_a_403_on_both_pages(client, session, world, callers):
    gw, staff = callers["grid_worker"], callers["community_staff"]
    rid = make_resident(session, "孙秀英", 1951, CELL)
    session.commit()
    form = {"resident_id": str(rid), "session_id": str(world.session_id)}
    assert client.post("/m/bookings/seat", data=form, headers=cookie(gw)).status_code == 403
    step = client.post("/console/bookings/seat/1", data={"action": "attend"}, headers=cookie(staff))
    assert step.status_code == 403
    assert count(session, "SELECT count(*) FROM course_seat") == 0


def test_staff_list_the_days_bookings_and_check_in(client, session, world, callers):
    gw, staff = callers["grid_worker"], callers["community_staff"]
    rid = make_resident(session, "吴秀珍", 1949, CELL)
    session.commit()
    token = csrf(client, gw, "/m/bookings")
    booked = client.post(
        "/m/bookings/room",
        data={
            "csrf_token": token,
            "resident_id": str(rid),
            "space": world.dance,
            "starts_at": world.at(8).isoformat(),
            "purpose": "古典舞",
        },
        headers=cookie(gw),
    )
    assert booked.status_code == 201, booked.text
    page = client.get("/console/bookings", params={"day": str(world.day)}, headers=cookie(staff))
    assert page.status_code == 200, page.text
    day_cn = f"{world.day.year}年{world.day.month}月{world.day.day}日"
    assert day_cn in page.text and "舞韵森光" in page.text and "吴**" in page.text
    assert 'for="b-day"' in page.text and '<th scope="col">' in page.text
    far = client.get(
        "/console/bookings",
        params={"day": str(world.day)},
        headers=cookie(callers["far_community"]),
    )
    assert far.status_code == 200 and "吴**" not in far.text  # another community's list
    booking_id = session.execute(
        text("SELECT id FROM space_booking WHERE purpose = '古典舞' ORDER BY id DESC")
    ).scalar_one()
    staff_token = csrf(client, staff, "/console/bookings?day=" + str(world.day))
    # Check-in opens 30 minutes before the start: two days ahead it is refused, in words.
    early = client.post(
        f"/console/bookings/room/{booking_id}",
        data={"csrf_token": staff_token, "action": "attend", "day": str(world.day)},
        headers=cookie(staff),
    )
    assert early.status_code in (409, 422) and 'role="alert"' in early.text
    assert (
        session.execute(
            text("SELECT status FROM space_booking WHERE id = :i"), {"i": booking_id}
        ).scalar_one()
        == "booked"
    )
    planner = client.get("/console/bookings", headers=cookie(callers["planner"]))
    assert planner.status_code in (403, 404)
