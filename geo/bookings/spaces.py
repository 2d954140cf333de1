"""Activity spaces (功能空间): rooms, their uses, opening hours, closures, courses and sessions,
and the free slots of a room. Public information; session in, never commits.

Opening hours are spans per season period and ISO weekday: ``peak`` is May to October (旺季,
when the seasonal residents are here), ``off`` the rest. A day may have several spans, which is
how staggered (错时: e.g. 06:30-08:30 before work) and extended (延时: to 21:00) hours are
written. A room is booked in whole slots of `slot_minutes` counted from the start of a span.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import any_, insert, literal, select, text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.audit import service as audit
from geo.bookings.models import BOOKINGS, CLOSURES, COURSES, HOURS, SESSIONS, SPACES
from geo.bookings.schemas import SpaceCreate
from geo.core.clock import as_city, city_date
from geo.core.errors import InvalidInput, NotFound
from geo.spatial.places.models import ServiceArea

sp = SPACES.c
PERIOD_LABELS = {"peak": "旺季 (5-10月)", "off": "淡季 (11-4月)"}
KIND_LABELS = {"regular": "常规", "staggered": "错时", "extended": "延时"}
Span = tuple[datetime, datetime]


def period_of(day: date) -> str:
    """``peak`` from May to October, else ``off``.

    >>> period_of(date(2027, 5, 1)), period_of(date(2027, 4, 30))
    ('peak', 'off')
    """
    return "peak" if 5 <= day.month <= 10 else "off"


def create_space(session: Session, me: Principal, data: SpaceCreate) -> int:
    """Add a room to a service area with its opening hours; returns its id."""
    if data.slot_minutes not in (30, 60, 90, 120):
        raise InvalidInput("slot_minutes must be 30, 60, 90 or 120")
    community = session.scalar(
        select(ServiceArea.community_code).where(ServiceArea.id == data.area_id)
    )
    if community is None:
        raise InvalidInput(f"area_id: no service area {data.area_id}")
    uses = list(dict.fromkeys(u.strip() for u in data.uses if u.strip()))
    if not uses or any(len(u) > 20 for u in uses):
        raise InvalidInput("uses: one or more names of 1 to 20 characters")
    space_id: int = session.scalar(
        insert(SPACES)
        .values(
            code=data.code,
            name=data.name,
            area_id=data.area_id,
            community_code=community,
            street_code=community[:9],
            capacity=data.capacity,
            uses=uses,
            slot_minutes=data.slot_minutes,
            description=data.description,
        )
        .returning(sp.id)
    )
    if data.hours:
        for h in data.hours:
            if h.opens >= h.closes:
                raise InvalidInput(f"hours: {h.opens} is not before {h.closes}")
        session.execute(
            insert(HOURS), [{"space_id": space_id, **h.model_dump()} for h in data.hours]
        )
    audit.record(session, me, "space.create", object_type="activity_space", object_ids=[space_id])
    return space_id


def space_by_code(session: Session, code: str) -> Any:
    row = session.execute(
        select(SPACES, ServiceArea.name.label("area_name"))
        .join(ServiceArea, ServiceArea.id == sp.area_id)
        .where(sp.code == code)
    ).first()
    if row is None:
        raise NotFound(f"no activity space {code!r}")
    return row


def add_closure(
    session: Session, me: Principal, space_id: int, start: datetime, end: datetime, reason: str
) -> int:
    """Close a space for a while; bookings already made in it stay (staff cancel them)."""
    start, end = as_city(start), as_city(end)
    if start >= end:
        raise InvalidInput("a closure ends after it starts")
    closure_id: int = session.scalar(
        insert(CLOSURES)
        .values(
            space_id=space_id, during=Range(start, end), reason=reason, created_by=me.name[:100]
        )
        .returning(CLOSURES.c.id)
    )
    audit.record(
        session,
        me,
        "space.close",
        object_type="activity_space",
        object_ids=[space_id],
        detail={"reason": reason},
    )
    return closure_id


# --- hours and free slots ------------------------------------------------------------------------


def spans(session: Session, space_ids: Sequence[int], day: date) -> dict[int, list[Span]]:
    """Opening spans of the spaces on a city day, as instants."""
    rows = session.execute(
        select(HOURS.c.space_id, HOURS.c.opens, HOURS.c.closes)
        .where(
            HOURS.c.space_id.in_(list(space_ids)),
            HOURS.c.period == period_of(day),
            HOURS.c.weekday == day.isoweekday(),
        )
        .order_by(HOURS.c.space_id, HOURS.c.opens)
    ).all()
    out: dict[int, list[Span]] = defaultdict(list)
    for space_id, opens, closes in rows:
        out[space_id].append((_at(day, opens), _at(day, closes)))
    return out


def _at(day: date, t: time) -> datetime:
    return as_city(datetime.combine(day, t))


def busy(
    session: Session, space_ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, list[Span]]:
    """Times the spaces are taken (any booking that holds them, whoever's: through the owner's
    function `space_busy`, which returns times only) or closed."""
    out: dict[int, list[Span]] = defaultdict(list)
    ids = list(space_ids)
    rows = session.execute(
        text("SELECT space_id, during FROM space_busy(CAST(:ids AS integer[]), :a, :b)"),
        {"ids": ids, "a": since, "b": until},
    ).all()
    closed = session.execute(
        select(CLOSURES.c.space_id, CLOSURES.c.during).where(
            CLOSURES.c.space_id.in_(ids),
            CLOSURES.c.during.overlaps(Range(since, until)),
        )
    ).all()
    for space_id, during in [*rows, *closed]:
        out[space_id].append((during.lower, during.upper))
    return out


def slot_starts(day_spans: Iterable[Span], minutes: int, slots: int) -> list[Span]:
    """Every (start, end) of `slots` consecutive slots that fits in one span."""
    step, length = timedelta(minutes=minutes), timedelta(minutes=minutes * slots)
    out = []
    for opens, closes in day_spans:
        at = opens
        while at + length <= closes:
            out.append((at, at + length))
            at += step
    return out


def _free(candidates: Iterable[Span], taken: Iterable[Span], now: datetime) -> list[Span]:
    taken = list(taken)
    return [
        (a, b) for a, b in candidates if a > now and not any(a < tb and ta < b for ta, tb in taken)
    ]


def free_slots(
    session: Session, space: Any, day: date, *, now: datetime, slots: int = 1
) -> list[Span]:
    """Free starts of `slots` consecutive slots of a space on a city day, after `now`."""
    day_spans = spans(session, [space.id], day).get(space.id, [])
    if not day_spans:
        return []
    taken = busy(session, [space.id], day_spans[0][0], day_spans[-1][1]).get(space.id, [])
    return _free(slot_starts(day_spans, space.slot_minutes, slots), taken, now)


def fits_hours(session: Session, space: Any, start: datetime, end: datetime) -> bool:
    """Whether [start, end) is whole slots of one opening span of the space."""
    day = city_date(start)
    slots = int((end - start).total_seconds() // 60 // space.slot_minutes)
    return (start, end) in slot_starts(
        spans(session, [space.id], day).get(space.id, []), space.slot_minutes, slots
    )


def alternatives(
    session: Session,
    space: Any,
    start: datetime,
    end: datetime,
    purpose: str,
    *,
    now: datetime,
    limit: int = 5,
) -> dict[str, list[dict[str, Any]]]:
    """Free alternatives to a taken slot: the next free slots of the same room (up to 14 days
    on), and other rooms with the same use free at the same time."""
    slots = max(1, int((end - start).total_seconds() // 60 // space.slot_minutes))
    same: list[dict[str, Any]] = []
    day = city_date(start)
    for offset in range(15):
        for a, b in free_slots(session, space, day + timedelta(days=offset), now=now, slots=slots):
            if a >= start and len(same) < limit:
                same.append(_slot(space, a, b))
        if len(same) >= limit:
            break
    others = session.execute(
        select(sp.id, sp.code, sp.name, sp.slot_minutes, sp.capacity)
        .where(literal(purpose) == any_(sp.uses), sp.id != space.id)
        .order_by(sp.street_code != space.street_code, sp.code)
    ).all()
    elsewhere: list[dict[str, Any]] = []
    if others:
        day_spans = spans(session, [o.id for o in others], day)
        taken = busy(session, [o.id for o in others], start, end)
        for o in others:
            fits = (start, end) in slot_starts(
                day_spans.get(o.id, []),
                o.slot_minutes,
                max(1, slots * space.slot_minutes // o.slot_minutes),
            )
            if fits and _free([(start, end)], taken.get(o.id, []), now):
                elsewhere.append(_slot(o, start, end))
            if len(elsewhere) >= limit:
                break
    return {"same_space": same, "other_spaces": elsewhere}


def _slot(space: Any, a: datetime, b: datetime) -> dict[str, Any]:
    return {
        "space": space.code,
        "space_name": space.name,
        "starts_at": a.isoformat(),
        "ends_at": b.isoformat(),
    }


# --- reading the catalogue -----------------------------------------------------------------------


def list_spaces(
    session: Session, *, use: str | None = None, street: str | None = None
) -> list[dict[str, Any]]:
    """Every space with its area, uses and opening hours."""
    stmt = (
        select(SPACES, ServiceArea.name.label("area_name"), ServiceArea.address.label("address"))
        .join(ServiceArea, ServiceArea.id == sp.area_id)
        .order_by(sp.code)
    )
    if use:
        stmt = stmt.where(literal(use) == any_(sp.uses))
    if street:
        stmt = stmt.where(sp.street_code == street)
    rows = session.execute(stmt).all()
    hours = session.execute(
        select(HOURS)
        .where(HOURS.c.space_id.in_([r.id for r in rows]))
        .order_by(HOURS.c.space_id, HOURS.c.period, HOURS.c.weekday, HOURS.c.opens)
    ).all()
    by_space: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for h in hours:
        by_space[h.space_id].append(
            {
                "period": h.period,
                "weekday": h.weekday,
                "opens": h.opens.strftime("%H:%M"),
                "closes": h.closes.strftime("%H:%M"),
                "kind": h.kind,
                "kind_label": KIND_LABELS[h.kind],
            }
        )
    return [
        {
            "code": r.code,
            "name": r.name,
            "area_id": r.area_id,
            "area_name": r.area_name,
            "address": r.address,
            "community_code": r.community_code,
            "capacity": r.capacity,
            "uses": list(r.uses),
            "slot_minutes": r.slot_minutes,
            "description": r.description,
            "hours": by_space.get(r.id, []),
        }
        for r in rows
    ]


# --- courses -------------------------------------------------------------------------------------


def create_course(
    session: Session,
    me: Principal,
    *,
    code: str,
    title: str,
    use: str,
    teacher: str,
    space_code: str,
    capacity: int,
) -> int:
    space = space_by_code(session, space_code)
    if use not in space.uses:
        raise InvalidInput(
            f"{space.name} is not used for {use} (its uses: {', '.join(space.uses)})"
        )
    course_id: int = session.scalar(
        insert(COURSES)
        .values(
            code=code, title=title, use=use, teacher=teacher, space_id=space.id, capacity=capacity
        )
        .returning(COURSES.c.id)
    )
    audit.record(session, me, "course.create", object_type="course", object_ids=[course_id])
    return course_id


def schedule_session(
    session: Session,
    me: Principal,
    course_id: int,
    start: datetime,
    minutes: int,
    *,
    public_id: str,
    at: datetime,
) -> int:
    """One session of a course: it books its room (kind ``course``, so the exclusion constraint
    keeps rooms and courses apart) and opens `capacity` seats. Conflict (409) if the room is
    taken then."""
    from geo.bookings import service  # the room booking path (one insert, one constraint)

    course = session.execute(select(COURSES).where(COURSES.c.id == course_id)).first()
    if course is None:
        raise NotFound(f"no course {course_id}")
    start = as_city(start)
    end = start + timedelta(minutes=minutes)
    booking_id = service.hold_room(
        session,
        me,
        course.space_id,
        start,
        end,
        purpose=course.use,
        kind="course",
        public_id=public_id,
        at=at,
        party_size=course.capacity,
    )
    session_id: int = session.scalar(
        insert(SESSIONS)
        .values(
            course_id=course.id,
            space_id=course.space_id,
            starts_at=start,
            ends_at=end,
            capacity=course.capacity,
            room_booking_id=booking_id,
        )
        .returning(SESSIONS.c.id)
    )
    return session_id


def list_sessions(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    use: str | None = None,
    course: str | None = None,
) -> list[dict[str, Any]]:
    """Course sessions between two instants with their free seats (public)."""
    c, s = COURSES.c, SESSIONS.c
    stmt = (
        select(
            s.id,
            s.starts_at,
            s.ends_at,
            s.capacity,
            s.seats_taken,
            c.code.label("course"),
            c.title,
            c.use,
            c.teacher,
            sp.code.label("space"),
            sp.name.label("space_name"),
        )
        .join(COURSES, c.id == s.course_id)
        .join(SPACES, sp.id == s.space_id)
        .join(BOOKINGS, BOOKINGS.c.id == s.room_booking_id)
        .where(s.starts_at >= since, s.starts_at < until, BOOKINGS.c.status != "cancelled")
        .order_by(s.starts_at, s.id)
    )
    if use:
        stmt = stmt.where(c.use == use)
    if course:
        stmt = stmt.where(c.code == course)
    return [
        {**dict(r._mapping), "seats_free": r.capacity - r.seats_taken}
        for r in session.execute(stmt).all()
    ]


def day_bounds(day: date) -> Span:
    start = as_city(datetime.combine(day, time()))
    return start, start + timedelta(days=1)
