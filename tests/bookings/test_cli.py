"""`houniao bookings …` through the installed entry point, on committed data: list, no-show,
attend, cancel (with the waitlist promoted), visits; bad input is one line and exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, apply_rls
from geo.bookings import service
from geo.bookings.schemas import RoomBookingCreate, SeatBookingCreate
from geo.core.clock import db_now
from tests.bookings.conftest import COMMUNITY, World, make_world
from tests.bookings.test_concurrency import wipe
from tests.db import test_database_url
from tests.live import houniao

TAG = "Y"


@pytest.fixture
def booked(engine: Engine) -> Iterator[tuple[World, list[int], list[int]]]:
    """Two room bookings that started yesterday and the course session's two seats plus one on
    the waitlist, committed."""
    wipe(engine, TAG)
    staff = Principal(role=Role.community_staff.value, name="cli-staff", community=COMMUNITY)
    with Session(engine) as s:
        world = make_world(s, TAG)
        apply_rls(s, staff)
        now = db_now(s)
        rooms = [
            service.book_room(
                s,
                staff,
                RoomBookingCreate(
                    space=world.forest, starts_at=world.at(h, days=-3), purpose="编织", party_size=3
                ),
                now=now - timedelta(days=2),
            )["id"]
            for h in (14, 15)
        ]
        seats = [
            service.book_seat(
                s, staff, SeatBookingCreate(session_id=world.session_id, waitlist=True)
            )["id"]
            for _ in range(3)
        ]
        s.commit()
    try:
        yield world, rooms, seats
    finally:
        wipe(engine, TAG)


def _run(*args: str):
    return houniao(test_database_url().render_as_string(hide_password=False), "bookings", *args)


def test_cli_lists_records_and_cancels(engine, booked):
    world, rooms, seats = booked
    day = str(world.day - timedelta(days=3))
    out = _run("list", "--from", day, "--space", world.forest)
    assert out.returncode == 0, out.stderr
    assert [b["id"] for b in json.loads(out.stdout)["bookings"]] == rooms
    assert _run("attend", str(rooms[0])).returncode == 0
    done = _run("no-show", str(rooms[1]))
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "no_show"
    visits = json.loads(_run("visits", "--from", day).stdout)
    assert visits == [{"space": world.forest, "day": day, "visits": 3}]
    cancelled = _run("cancel", str(seats[0]), "--kind", "seat", "--reason", "老师请假")
    assert cancelled.returncode == 0, cancelled.stderr
    with engine.connect() as conn:
        conn.execute(text("SET houniao.role = 'system'"))
        status = conn.execute(
            text("SELECT status FROM course_seat WHERE id = :i"), {"i": seats[2]}
        ).scalar_one()
    assert status == "booked"  # the waitlisted seat took the freed one
    again = _run("no-show", str(rooms[1]))
    assert again.returncode == 2 and again.stderr.startswith("error:")
    bad = _run("list", "--from", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
