"""Booking rooms and course seats, and moving bookings through their workflow. Session in,
never commits.

No double booking is PostgreSQL's job, not this module's: a room booking is one INSERT that the
exclusion constraint `ex_space_booking_no_overlap` refuses when it overlaps a booking holding the
room (SQLSTATE 23P01, under any concurrency: the loser waits for the winner's commit, then
fails); a seat is a conditional UPDATE of the session's counter (`seats_taken < capacity`, the
row locked until commit) with a CHECK behind it. Either refusal becomes a Conflict (409) carrying
free alternatives. Every change appends an event (append-only) and an audit row in the same
transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, apply_rls
from geo.audit import service as audit
from geo.bookings import queries, spaces
from geo.bookings.models import BOOKINGS, COURSES, EVENTS, SEATS, SESSIONS, SPACES
from geo.bookings.schemas import BookingTransition, RoomBookingCreate, SeatBookingCreate
from geo.bookings.workflow import Kind, Status, Transition, allowed, find
from geo.core.clock import as_city, db_now
from geo.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RateLimited,
)
from geo.privacy import crypto

b, st, ss, sp = BOOKINGS.c, SEATS.c, SESSIONS.c, SPACES.c
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
PREFIX = {Kind.room: "KR", Kind.seat: "KC", Kind.health: "TJ"}
BOOK_AHEAD = timedelta(days=60)
# Without an account: at most this many bookings (rooms and seats) per client address per window,
# so one caller cannot take a centre's whole week.
PUBLIC_LIMIT = 5
PUBLIC_WINDOW = timedelta(hours=1)


def _public_key(session: Session, me: Principal, at: datetime) -> str | None:
    """The anonymous caller's key (keyed hash of the address), after checking the limit:
    RateLimited (429, Retry-After) past PUBLIC_LIMIT in PUBLIC_WINDOW. Counted in the database
    under a transaction lock per address, so a burst cannot slip under it. None for accounts."""
    if me.role != PUBLIC:
        return None
    key = crypto.lookup_hash(me.client_addr or "unknown", kind="client_addr")
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 14))"), {"k": key})
    n, oldest = session.execute(
        text("SELECT n, oldest FROM booking_recent(:k, :since)"),
        {"k": key, "since": at - PUBLIC_WINDOW},
    ).one()
    if n >= PUBLIC_LIMIT:
        wait = int((oldest + PUBLIC_WINDOW - at).total_seconds()) + 1
        raise RateLimited(
            f"too many bookings from this address ({PUBLIC_LIMIT} an hour without an account);"
            f" try again in {wait} s, or ask your grid worker (网格员) or the centre",
            retry_after=wait,
        )
    return key


def new_public_id(kind: Kind) -> str:
    """An unguessable id (about 50 bits): holding it is how a resident follows and cancels."""
    return PREFIX[kind] + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def _check_maker(me: Principal, community_code: str, area_id: int) -> None:
    if me.role not in queries.BOOKING_ROLES:
        raise Forbidden(
            f"the role {me.role!r} does not book activity spaces: residents book them (without"
            " an account), grid workers for residents, and the centre's staff"
        )
    if me.role in queries.STAFF_ROLES and not queries.staff_of(me, community_code, area_id):
        raise Forbidden(
            "staff book the spaces of their own community or street (centre staff: of their"
            " own service area)"
        )


def log(
    session: Session,
    me: Principal,
    kind: Kind,
    booking_id: int,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.execute(
        insert(EVENTS).values(
            kind=kind.value,
            booking_id=booking_id,
            at=at,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor=me.name[:100],
            actor_role=me.role,
            note=note,
            data={k: v for k, v in (data or {}).items() if v is not None},
        )
    )


def _is_overlap(exc: IntegrityError) -> bool:
    return isinstance(exc.orig, pg_errors.ExclusionViolation)


def hold_room(
    session: Session,
    me: Principal,
    space_id: int,
    start: datetime,
    end: datetime,
    *,
    purpose: str,
    kind: str,
    public_id: str,
    at: datetime,
    party_size: int = 1,
    name: str | None = None,
    client_key: str | None = None,
) -> int:
    """Insert the booking that holds [start, end) of a room; Conflict (409, with alternatives)
    when the exclusion constraint finds the room taken. The one insert of room bookings.

    Bookers of one room queue on a transaction lock of that room first: concurrent inserts that
    each wait for the other inside the exclusion check deadlock (PostgreSQL aborts one with 40P01,
    a 500 where a 409 is due). An advisory lock, as callers without an account may not lock rows."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('space_booking:' || :s, 14))"),
        {"s": space_id},
    )
    space = session.execute(select(SPACES).where(sp.id == space_id)).one()
    try:
        with session.begin_nested():
            booking_id: int = session.scalar(
                insert(BOOKINGS)
                .values(
                    public_id=public_id,
                    kind=kind,
                    space_id=space_id,
                    community_code=space.community_code,
                    street_code=space.street_code,
                    during=Range(start, end),
                    starts_at=start,
                    status=Status.booked.value,
                    purpose=purpose,
                    party_size=party_size,
                    booker_name=name,
                    created_by=me.name[:100],
                    created_by_role=me.role,
                    created_by_account=me.account_id,
                    booked_at=at,
                    client_key=client_key,
                    updated_at=at,
                )
                .returning(b.id)
            )
    except IntegrityError as exc:
        if not _is_overlap(exc):
            raise
        raise Conflict(
            f"{space.name} is already booked from {start:%Y-%m-%d %H:%M} to {end:%H:%M};"
            " choose one of the free alternatives",
            alternatives=spaces.alternatives(session, space, start, end, purpose, now=at),
        ) from None
    return booking_id


def book_room(
    session: Session,
    me: Principal,
    data: RoomBookingCreate,
    *,
    now: datetime | None = None,
    answer: bool = True,
) -> dict[str, Any]:
    """Book slots of a room for one of its uses. Raises Forbidden (a role that does not book,
    staff outside their scope), NotFound (no such space), InvalidInput (a use the room has not,
    too many people, a time outside its slots and hours, in the past or too far ahead), Conflict
    (taken or closed then: 409 with free alternatives)."""
    space = spaces.space_by_code(session, data.space)
    _check_maker(me, space.community_code, space.area_id)
    if data.purpose not in space.uses:
        raise InvalidInput(
            f"{space.name} is not booked for {data.purpose!r}; its uses: {', '.join(space.uses)}"
        )
    if data.party_size > space.capacity:
        raise InvalidInput(f"{space.name} holds {space.capacity} people, not {data.party_size}")
    at = now or db_now(session)
    start = as_city(data.starts_at)
    end = start + timedelta(minutes=space.slot_minutes * data.slots)
    if start <= at:
        raise InvalidInput("that time has passed: book a slot that starts later")
    if start > at + BOOK_AHEAD:
        raise InvalidInput(f"bookings open {BOOK_AHEAD.days} days ahead")
    if not spaces.fits_hours(session, space, start, end):
        free = spaces.free_slots(session, space, start.date(), now=at, slots=data.slots)
        raise InvalidInput(
            f"{space.name} is booked in slots of {space.slot_minutes} minutes within its opening"
            f" hours; free that day: {', '.join(f'{a:%H:%M}' for a, _ in free) or 'none'}"
        )
    closed = session.execute(
        text(
            "SELECT reason FROM space_closure WHERE space_id = :s AND during && tstzrange(:a, :b)"
        ),
        {"s": space.id, "a": start, "b": end},
    ).first()
    if closed is not None:
        raise Conflict(
            f"{space.name} is closed then ({closed.reason}); choose one of the free alternatives",
            alternatives=spaces.alternatives(session, space, start, end, data.purpose, now=at),
        )
    client_key = _public_key(session, me, at)
    public_id = new_public_id(Kind.room)
    if me.role == PUBLIC:
        queries.allow_public_ids(session, [public_id])
    booking_id = hold_room(
        session,
        me,
        space.id,
        start,
        end,
        purpose=data.purpose,
        kind="room",
        public_id=public_id,
        at=at,
        party_size=data.party_size,
        name=data.name or None,
        client_key=client_key,
    )
    log(session, me, Kind.room, booking_id, at, "book", None, Status.booked)
    audit.record(
        session,
        me,
        "booking.room.book",
        object_type="space_booking",
        object_ids=[booking_id],
        detail={"space": space.code, "slots": data.slots},
    )
    if not answer:  # bulk loaders: no read-back
        return {"id": booking_id, "public_id": public_id, "status": Status.booked.value}
    return _answer(session, me, Kind.room, booking_id, public_id)


def _answer(
    session: Session, me: Principal, kind: Kind, booking_id: int, public_id: str
) -> dict[str, Any]:
    if me.role == PUBLIC:
        return queries.get_public(session, public_id)
    return queries.get_booking(session, me, kind, booking_id)


def book_seat(
    session: Session,
    me: Principal,
    data: SeatBookingCreate,
    *,
    now: datetime | None = None,
    answer: bool = True,
) -> dict[str, Any]:
    """A seat of a course session: the counter moves only while seats are left (the row stays
    locked until commit, so the last seat goes to exactly one caller). Full: Conflict (409) with
    other sessions that have seats, or a place on the waitlist when asked for."""
    row = session.execute(
        select(
            ss.id,
            ss.starts_at,
            ss.ends_at,
            ss.space_id,
            ss.course_id,
            COURSES.c.use,
            COURSES.c.title,
            sp.community_code,
            sp.street_code,
            sp.area_id,
            b.status.label("hold"),
        )
        .join(COURSES, COURSES.c.id == ss.course_id)
        .join(SPACES, sp.id == ss.space_id)
        .join(BOOKINGS, b.id == ss.room_booking_id)
        .where(ss.id == data.session_id)
    ).first()
    if row is None or row.hold == Status.cancelled.value:
        raise NotFound(f"no course session {data.session_id}")
    _check_maker(me, row.community_code, row.area_id)
    at = now or db_now(session)
    if row.starts_at <= at:
        raise InvalidInput("this session has started: choose a later one")
    client_key = _public_key(session, me, at)
    taken = session.execute(
        update(SESSIONS)
        .where(ss.id == row.id, ss.seats_taken < ss.capacity)
        .values(seats_taken=ss.seats_taken + 1)
        .returning(ss.id)
    ).first()
    if taken is None and not data.waitlist:
        raise Conflict(
            f"no seat left in {row.title} on {row.starts_at:%Y-%m-%d %H:%M}; choose another"
            " session, or ask for the waitlist (waitlist: true)",
            alternatives={"sessions": _other_sessions(session, row, at)},
        )
    status = Status.booked if taken is not None else Status.waitlisted
    public_id = new_public_id(Kind.seat)
    if me.role == PUBLIC:
        queries.allow_public_ids(session, [public_id])
    seat_id: int = session.scalar(
        insert(SEATS)
        .values(
            public_id=public_id,
            session_id=row.id,
            space_id=row.space_id,
            community_code=row.community_code,
            street_code=row.street_code,
            starts_at=row.starts_at,
            status=status.value,
            booker_name=data.name or None,
            created_by=me.name[:100],
            created_by_role=me.role,
            created_by_account=me.account_id,
            queued_at=at,
            client_key=client_key,
            booked_at=at if status == Status.booked else None,
            updated_at=at,
        )
        .returning(st.id)
    )
    action = "book" if status == Status.booked else "waitlist"
    log(session, me, Kind.seat, seat_id, at, action, None, status)
    audit.record(
        session,
        me,
        f"booking.seat.{action}",
        object_type="course_seat",
        object_ids=[seat_id],
        detail={"session_id": row.id},
    )
    if not answer:
        return {"id": seat_id, "public_id": public_id, "status": status.value}
    return _answer(session, me, Kind.seat, seat_id, public_id)


def _other_sessions(session: Session, row: Any, at: datetime) -> list[dict[str, Any]]:
    found = spaces.list_sessions(session, since=at, until=at + BOOK_AHEAD, use=row.use)
    free = [s for s in found if s["seats_free"] > 0 and s["id"] != row.id]
    free.sort(key=lambda s: (s["course"] != _course_code(session, row.course_id), s["starts_at"]))
    return [
        {**s, "starts_at": s["starts_at"].isoformat(), "ends_at": s["ends_at"].isoformat()}
        for s in free[:5]
    ]


def _course_code(session: Session, course_id: int) -> str:
    return str(session.scalar(select(COURSES.c.code).where(COURSES.c.id == course_id)))


# --- the workflow --------------------------------------------------------------------------------


def transition(
    session: Session,
    me: Principal,
    kind: Kind,
    *,
    booking_id: int | None = None,
    public_id: str | None = None,
    req: BookingTransition,
    now: datetime | None = None,
    answer: bool = True,
) -> dict[str, Any]:
    """Apply one action to a room booking or seat in the caller's scope (by id), or as the
    anonymous holder of its public id; 409 with what the caller may do when not allowed."""
    table = queries.TABLES[kind]
    t_c = table.c
    holder = public_id is not None
    if holder:
        me = Principal.anonymous(me.client_addr)
        apply_rls(session, me)
        queries.allow_public_ids(session, [public_id or ""])
        clause = queries.booking_filter(me, table, [public_id or ""]) & (t_c.public_id == public_id)
        missing = f"no booking {public_id!r}"
    else:
        clause = queries.booking_filter(me, table) & (t_c.id == booking_id)
        missing = f"no {kind.value} booking {booking_id}"
    area = select(sp.area_id).where(sp.id == t_c.space_id).scalar_subquery()
    row = session.execute(
        select(table, area.label("space_area_id")).where(clause).with_for_update(of=table)
    ).first()
    if row is None:
        raise NotFound(missing)
    if kind == Kind.room and row.kind == "course":
        raise InvalidInput("this booking holds the room for a course session; its seats are booked")
    status = Status(row.status)
    roles = queries.effective_roles(me, row, holds_public_id=holder)
    t = find(kind, req.action, status)
    if t is None or not (t.roles & roles):
        options = allowed(kind, status, roles)
        problem = (
            f"{req.action!r} is not possible from {status.value!r}"
            if t is None
            else f"{req.action!r} is not yours to do on this booking"
        )
        raise InvalidTransition(
            f"{problem}; you may: {', '.join(o.action for o in options) or 'nothing now'}",
            status=status.value,
            allowed=[{"action": o.action, "to": o.to_status.value} for o in options],
        )
    at = now or db_now(session)
    values = _effects(t, req, row, at)
    log(session, me, kind, row.id, at, t.action, status, t.to_status, req.note, values.get("_data"))
    values.pop("_data", None)
    session.execute(
        update(table)
        .where(t_c.id == row.id)
        .values(status=t.to_status.value, version=t_c.version + 1, updated_at=at, **values)
    )
    promoted = None
    if kind == Kind.seat and t.action == "cancel" and status == Status.booked:
        session.execute(
            update(SESSIONS).where(ss.id == row.session_id).values(seats_taken=ss.seats_taken - 1)
        )
        promoted = session.scalar(
            text("SELECT course_seat_promote(:s, :at)"), {"s": row.session_id, "at": at}
        )
    audit.record(
        session,
        me,
        f"booking.{kind.value}.{t.action}",
        object_type="space_booking" if kind == Kind.room else "course_seat",
        object_ids=[row.id],
        detail={"from": status.value, "to": t.to_status.value},
    )
    if promoted is not None:
        audit.record(
            session,
            Principal.system(),
            "booking.seat.promote",
            object_type="course_seat",
            object_ids=[promoted],
            detail={"session_id": row.session_id, "freed_by": row.id},
        )
    if not answer:
        return {"id": row.id, "public_id": row.public_id, "status": t.to_status.value}
    if holder:
        return queries.get_public(session, row.public_id)
    return queries.get_booking(session, me, kind, row.id)


def _effects(t: Transition, req: BookingTransition, row: Any, at: datetime) -> dict[str, Any]:
    extra = sorted(
        k
        for k, v in req.model_dump(exclude={"action", "note"}).items()
        if v is not None and not (t.action == "cancel" and k == "reason")
    )
    if extra:
        raise InvalidInput(f"{t.action} does not take {', '.join(extra)}")
    match t.action:
        case "cancel":
            if not req.reason or len(req.reason.strip()) < 2:
                raise InvalidInput("cancel needs a reason (2 to 300 characters)")
            return {
                "cancelled_at": at,
                "cancel_reason": req.reason,
                "_data": {"reason": req.reason},
            }
        case "attend":
            if at < row.starts_at - timedelta(minutes=30):
                raise InvalidInput("attendance is recorded from 30 minutes before the start")
            return {"checked_at": at}
        case "no_show":
            if at < row.starts_at:
                raise InvalidInput("a no-show is recorded once the booking has started")
            return {"checked_at": at}
    raise InvalidInput(f"unknown action {t.action!r}")  # pragma: no cover
