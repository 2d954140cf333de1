"""The waitlist under concurrency: two seats of a full course session cancelled at the same
instant, each on its own connection, committed. The first two of the queue are promoted, in the
order they queued, each exactly once (one `promote` event and one audit row each); the third
still waits; the counter stays at capacity. Run on both sessions of the world (two rounds)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Principal, apply_rls, as_system
from geo.bookings import service
from geo.bookings.schemas import BookingTransition, SeatBookingCreate
from geo.bookings.workflow import Kind
from geo.core.clock import install_city_zone
from tests.bookings.conftest import World, make_world
from tests.bookings.test_concurrency import wipe
from tests.db import race

TAG = "Q"  # codes QFO1, QDA1, QFA1 and course Q-SF: this module's own rows


@pytest.fixture
def queue_world(engine: Engine) -> Iterator[tuple[Engine, World]]:
    wipe(engine, TAG)
    with Session(engine) as s:
        world = make_world(s, TAG)
        s.commit()
    pair = install_city_zone(create_engine(engine.url, pool_size=2, max_overflow=0))
    try:
        yield pair, world
    finally:
        pair.dispose()
        wipe(engine, TAG)


def _seat(engine: Engine, session_id: int, i: int, *, waitlist: bool) -> dict[str, Any]:
    """One seat (or a place in the queue), in its own committed transaction, so each queued
    later than the one before."""
    with Session(engine) as s:
        me = Principal.anonymous(f"203.0.113.{i}")
        apply_rls(s, me)
        made = service.book_seat(
            s, me, SeatBookingCreate(session_id=session_id, waitlist=waitlist), answer=False
        )
        s.commit()
    return made


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with Session(engine) as s:
        as_system(s)
        return list(s.execute(text(sql), params).all())


@pytest.mark.parametrize("which", ["session_id", "later_session_id"])
def test_two_cancellations_at_once_promote_the_first_two_in_order(queue_world, which):
    engine, world = queue_world
    sid = getattr(world, which)
    held = [_seat(engine, sid, i, waitlist=False) for i in range(2)]
    queued = [_seat(engine, sid, 10 + i, waitlist=True) for i in range(3)]
    assert [h["status"] for h in held] == ["booked", "booked"]
    assert [q["status"] for q in queued] == ["waitlisted"] * 3
    cancel = BookingTransition(action="cancel", reason="临时有事")

    def work(s: Session, i: int) -> Any:
        me = Principal.anonymous(f"203.0.113.{i}")
        return service.transition(s, me, Kind.seat, public_id=held[i]["public_id"], req=cancel)

    results = race(engine, 2, work)
    assert [r.get("status") if isinstance(r, dict) else r for r in results] == [
        "cancelled",
        "cancelled",
    ]

    ids = [q["id"] for q in queued]
    status = dict(_rows(engine, "SELECT id, status FROM course_seat WHERE session_id = :s", s=sid))
    assert [status[i] for i in ids] == ["booked", "booked", "waitlisted"]
    taken = _rows(engine, "SELECT seats_taken, capacity FROM course_session WHERE id = :s", s=sid)
    assert taken[0].seats_taken == taken[0].capacity == 2
    promotions = _rows(
        engine,
        "SELECT booking_id FROM booking_event WHERE kind = 'seat' AND action = 'promote'"
        " AND booking_id = ANY(:ids) ORDER BY booking_id",
        ids=ids,
    )
    assert [p.booking_id for p in promotions] == ids[:2]  # each of the first two, once
    audited = _rows(
        engine,
        "SELECT object_ids, detail->>'freed_by' AS freed_by FROM audit_event"
        " WHERE action = 'booking.seat.promote' AND object_ids && CAST(:ids AS text[])",
        ids=[str(i) for i in ids],
    )
    assert sorted(int(a.object_ids[0]) for a in audited) == ids[:2]
    assert sorted(int(a.freed_by) for a in audited) == sorted(h["id"] for h in held)
