"""50 concurrent clients, each on its own connection, on committed data: one room slot, the
last seat of a course session, the last place of a health-check day. Exactly one wins; the 49
others get a Conflict (409) with free alternatives; no orphan rows (one booking, one event, one
audit row for the winner, the counter at capacity)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.errors import status_for
from geo.access.principal import Principal, apply_rls, as_system
from geo.bookings import service
from geo.bookings.schemas import BookingTransition, RoomBookingCreate, SeatBookingCreate
from geo.core.clock import install_city_zone
from geo.core.errors import Conflict
from tests.bookings.conftest import World, make_world
from tests.db import race

# Many connections at once: these modules share one worker, so two of them never run together
# and outgrow the server's max_connections (100); a client refused there would be no race.
pytestmark = pytest.mark.xdist_group("crowd")
CLIENTS = 50
TAG = "Z"  # codes ZFO1, ZDA1, ZFA1 and course Z-SF: this module's own rows


def wipe(engine: Engine, tag: str = TAG) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # append-only log
        conn.execute(text("SET LOCAL houniao.role = 'system'"))
        spaces = f"SELECT id FROM activity_space WHERE code LIKE '{tag}%'"
        for sql in (
            f"DELETE FROM booking_event WHERE (kind = 'room' AND booking_id IN (SELECT id FROM"
            f" space_booking WHERE space_id IN ({spaces}))) OR (kind = 'seat' AND booking_id IN"
            f" (SELECT id FROM course_seat WHERE space_id IN ({spaces})))",
            f"DELETE FROM course_seat WHERE space_id IN ({spaces})",
            f"DELETE FROM course_session WHERE space_id IN ({spaces})",
            f"DELETE FROM space_booking WHERE space_id IN ({spaces})",
            f"DELETE FROM course WHERE space_id IN ({spaces})",
            f"DELETE FROM activity_space WHERE code LIKE '{tag}%'",
            f"DELETE FROM service_area WHERE name LIKE '测试%伊家{tag}'",
        ):
            conn.execute(text(sql))


@pytest.fixture
def crowd(engine: Engine) -> Iterator[tuple[Engine, World]]:
    """A committed world, and an engine with a connection for every client."""
    wipe(engine)
    with Session(engine) as s:
        world = make_world(s, TAG)
        s.commit()
    wide = install_city_zone(create_engine(engine.url, pool_size=CLIENTS, max_overflow=0))
    try:
        yield wide, world
    finally:
        wide.dispose()
        wipe(engine)


def race_anonymous(engine: Engine, work: Callable[[Session, Principal], Any]) -> list[Any]:
    """`work` by CLIENTS anonymous callers (one address each) at once."""

    def one(s: Session, i: int) -> Any:
        me = Principal.anonymous(f"198.51.100.{i}")
        apply_rls(s, me)
        return work(s, me)

    return race(engine, CLIENTS, one)


def _outcome(results: list[Any]) -> tuple[list[dict[str, Any]], list[Conflict]]:
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) + len(lost) == CLIENTS, {
        repr(r)[:300] for r in results if not isinstance(r, dict | Conflict)
    }
    return won, lost


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with Session(engine) as s:
        as_system(s)
        return s.execute(text(sql), params).scalar_one()


def test_fifty_clients_one_room_slot(crowd):
    engine, world = crowd
    body = RoomBookingCreate(space=world.forest, starts_at=world.at(15), purpose="书法")
    won, lost = _outcome(race_anonymous(engine, lambda s, me: service.book_room(s, me, body)))
    assert len(won) == 1 and len(lost) == CLIENTS - 1
    for exc in lost:
        assert status_for(exc) == 409
        alt = exc.extra["alternatives"]
        assert alt["same_space"] and alt["same_space"][0]["starts_at"][11:16] == "16:00"
        assert {a["space"] for a in alt["other_spaces"]} >= {world.dance}
    rooms = "SELECT id FROM space_booking WHERE kind = 'room' AND space_id = (SELECT id FROM activity_space WHERE code = :c)"
    assert _scalar(engine, f"SELECT count(*) FROM ({rooms}) q", c=world.forest) == 1
    events = _scalar(
        engine,
        f"SELECT count(*) FROM booking_event WHERE kind = 'room' AND booking_id IN ({rooms})",
        c=world.forest,
    )
    assert events == 1
    audited = (
        "SELECT count(*) FROM audit_event WHERE action = 'booking.room.book'"
        f" AND object_ids && ARRAY(SELECT id::text FROM ({rooms}) q)"
    )
    assert _scalar(engine, audited, c=world.forest) == 1  # the winner's only


def test_fifty_clients_the_last_seat_of_a_course(crowd):
    engine, world = crowd
    with Session(engine) as s:  # one seat of two already taken
        me = Principal.anonymous("198.51.100.250")
        apply_rls(s, me)
        service.book_seat(s, me, SeatBookingCreate(session_id=world.session_id))
        s.commit()
    body = SeatBookingCreate(session_id=world.session_id)
    won, lost = _outcome(race_anonymous(engine, lambda s, me: service.book_seat(s, me, body)))
    assert len(won) == 1 and len(lost) == CLIENTS - 1
    for exc in lost:
        assert status_for(exc) == 409
        assert exc.extra["alternatives"]["sessions"][0]["id"] == world.later_session_id
    sid = world.session_id
    assert _scalar(engine, "SELECT seats_taken FROM course_session WHERE id = :i", i=sid) == 2
    assert _scalar(engine, "SELECT count(*) FROM course_seat WHERE session_id = :i", i=sid) == 2
    seats = "SELECT id FROM course_seat WHERE session_id = :i"
    assert (
        _scalar(
            engine,
            f"SELECT count(*) FROM booking_event WHERE kind = 'seat' AND booking_id IN ({seats})",
            i=sid,
        )
        == 2
    )
    audited = (
        "SELECT count(*) FROM audit_event WHERE action = 'booking.seat.book'"
        f" AND object_ids && ARRAY(SELECT id::text FROM ({seats}) q)"
    )
    assert _scalar(engine, audited, i=sid) == 2  # the first seat's and the winner's


# --- the last place of a health-check day --------------------------------------------------------

ELDER = "并发测试老人"


def wipe_health(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL houniao.role = 'system'"))
        mine = "SELECT id FROM resident WHERE name LIKE :n"
        apps = f"SELECT id FROM health_appointment WHERE resident_id IN ({mine})"
        n = {"n": ELDER + "%"}
        # Stays first, their presence triggers on: with them off the counts would outlive them.
        conn.execute(text(f"DELETE FROM stay WHERE resident_id IN ({mine})"), n)
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # append-only log
        conn.execute(
            text(f"DELETE FROM booking_event WHERE kind = 'health' AND booking_id IN ({apps})"), n
        )
        conn.execute(text(f"DELETE FROM health_appointment WHERE resident_id IN ({mine})"), n)
        conn.execute(text(f"DELETE FROM health_check WHERE resident_id IN ({mine})"), n)
        conn.execute(text("DELETE FROM resident WHERE name LIKE :n"), n)
        days = "SELECT id FROM check_centre WHERE code = 'TJZZ'"
        conn.execute(text(f"DELETE FROM check_day WHERE centre_id IN ({days})"))
        conn.execute(text("DELETE FROM check_centre WHERE code = 'TJZZ'"))


@pytest.fixture
def elders(engine: Engine) -> Iterator[tuple[Engine, list[str], str]]:
    """50 invited residents of 65+ and a centre with two places on a day, one already taken."""
    from datetime import timedelta

    from geo.bookings import health
    from geo.core.clock import city_date, current_season, db_now
    from tests.bookings.residents import make_resident
    from tests.cases.conftest import CELL

    wipe_health(engine)
    staff = Principal(role="community_staff", name="conc-health", community=CELL[:12])
    with Session(engine) as s:
        as_system(s)
        area = s.execute(text("SELECT id FROM service_area ORDER BY id LIMIT 1")).scalar_one()
        centre = health.create_centre(
            s, Principal.system(), code="TJZZ", name="并发体检点", area_id=area, daily_capacity=2
        )
        day = city_date(db_now(s)) + timedelta(days=3)
        health.open_days(s, centre, [day, day + timedelta(days=1)])
        ids = [
            make_resident(s, f"{ELDER}{i:02d}", current_season() - 70, CELL)
            for i in range(CLIENTS + 1)
        ]
        apply_rls(s, staff)
        codes = [health.invite(s, staff, r)["public_id"] for r in ids]
        s.commit()
    with Session(engine) as s:  # one of the two places taken
        health.transition(
            s,
            Principal.anonymous(),
            public_id=codes.pop(),
            req=BookingTransition(action="book", centre="TJZZ", day=day),
        )
        s.commit()
    wide = install_city_zone(create_engine(engine.url, pool_size=CLIENTS, max_overflow=0))
    try:
        yield wide, codes, day.isoformat()
    finally:
        wide.dispose()
        wipe_health(engine)


def test_fifty_clients_the_last_health_check_place(elders):
    from geo.bookings import health

    engine, codes, day = elders
    req = BookingTransition(action="book", centre="TJZZ", day=day)
    n = iter(range(CLIENTS))
    mine = {i: codes[i] for i in range(CLIENTS)}
    lock = threading.Lock()

    def work(s: Session, me: Principal) -> Any:
        with lock:
            code = mine[next(n)]
        return health.transition(s, me, public_id=code, req=req)

    won, lost = _outcome(race_anonymous(engine, work))
    assert len(won) == 1 and len(lost) == CLIENTS - 1
    for exc in lost:
        assert status_for(exc) == 409
        assert exc.extra["alternatives"]["same_centre"][0]["free"] == 2
    booked = "SELECT booked FROM check_day WHERE centre_id = (SELECT id FROM check_centre WHERE code = 'TJZZ') AND day = :d"
    assert _scalar(engine, booked, d=day) == 2
    apps = "SELECT id FROM health_appointment WHERE status = 'booked' AND check_day_id IS NOT NULL AND resident_id IN (SELECT id FROM resident WHERE name LIKE :n)"
    assert _scalar(engine, f"SELECT count(*) FROM ({apps}) q", n=ELDER + "%") == 2
    every = "SELECT id FROM health_appointment WHERE resident_id IN (SELECT id FROM resident WHERE name LIKE :n)"
    events = f"SELECT count(*) FROM booking_event WHERE kind = 'health' AND action = 'book' AND booking_id IN ({every})"
    assert _scalar(engine, events, n=ELDER + "%") == 2
    audited = (
        "SELECT count(*) FROM audit_event WHERE action = 'health_appointment.book'"
        " AND object_ids && ARRAY(SELECT id::text FROM resident WHERE name LIKE :n)"
    )
    assert _scalar(engine, audited, n=ELDER + "%") == 2
