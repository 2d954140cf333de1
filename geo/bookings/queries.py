"""Scope and reads of bookings (room bookings and course seats). Session in, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, false, func, or_, select, true
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, SYSTEM, Principal, Role, apply_rls
from geo.bookings.models import BOOKINGS, COURSES, EVENTS, SEATS, SESSIONS, SPACES
from geo.bookings.workflow import REQUESTER, STAFF, STATUS_LABELS, Kind, Status, allowed
from geo.core.errors import NotFound

b, st, sp, ss, c, e = BOOKINGS.c, SEATS.c, SPACES.c, SESSIONS.c, COURSES.c, EVENTS.c

STAFF_ROLES = frozenset(
    {Role.community_staff.value, Role.street_staff.value, Role.centre_staff.value}
)
BOOKING_ROLES = frozenset({PUBLIC, Role.grid_worker.value, *STAFF_ROLES})
# Who also sees the bookings they made themselves (centre staff see all of their centre's).
READING_ROLES = frozenset(
    {Role.grid_worker.value, Role.community_staff.value, Role.street_staff.value}
)
TABLES: dict[Kind, Table] = {Kind.room: BOOKINGS, Kind.seat: SEATS}


def booking_filter(
    me: Principal, table: Table, public_ids: Sequence[str] = ()
) -> ColumnElement[bool]:
    """Bookings (or seats) in the caller's scope: the same rule as their RLS policies.

    Staff see those of the spaces of their community or street, centre staff those of the spaces
    of their service area, an account its own bookings, an anonymous caller exactly those whose
    public ids it holds.
    """
    t = table.c
    if me.role == SYSTEM:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if me.role == Role.community_staff and me.community:
        clauses.append(t.community_code == me.community)
    if me.role == Role.street_staff and me.street:
        clauses.append(t.street_code == me.street)
    if me.role == Role.centre_staff and me.area is not None:
        clauses.append(t.space_id.in_(select(sp.id).where(sp.area_id == me.area)))
    if me.role in READING_ROLES and me.account_id is not None:
        clauses.append(t.created_by_account == me.account_id)
    if me.role == PUBLIC and public_ids:
        clauses.append(t.public_id.in_(list(public_ids)))
    return or_(*clauses) if clauses else false()


def allow_public_ids(session: Session, public_ids: Sequence[str]) -> None:
    """Let this transaction's anonymous caller see the bookings whose public ids it holds."""
    session.execute(
        select(func.set_config("houniao.booking_public_ids", ",".join(public_ids), True))
    )


def staff_of(me: Principal, community_code: str, area_id: int | None) -> bool:
    """Whether `me` is staff of a space in that community and service area."""
    return (
        (me.role == Role.community_staff and me.community == community_code)
        or (me.role == Role.street_staff and me.street == community_code[:9])
        or (me.role == Role.centre_staff and area_id is not None and me.area == area_id)
    )


def effective_roles(me: Principal, row: Any, *, holds_public_id: bool = False) -> frozenset[str]:
    """`staff` and `requester` of one booking row (with its space's `space_area_id`)."""
    roles = {me.role}
    if me.role == SYSTEM or staff_of(me, row.community_code, row.space_area_id):
        roles.add(STAFF)  # maintenance (the CLI) acts as the centre's staff
    if holds_public_id or (me.account_id is not None and row.created_by_account == me.account_id):
        roles.add(REQUESTER)
    return frozenset(roles)


def timeline(
    session: Session, kind: Kind, booking_id: int, *, public: bool
) -> list[dict[str, Any]]:
    cols = [e.at, e.action, e.from_status, e.to_status, e.note]
    if not public:
        cols += [e.actor, e.actor_role, e.data]
    rows = session.execute(
        select(*cols).where(e.kind == kind.value, e.booking_id == booking_id).order_by(e.id)
    ).mappings()
    return [dict(x) for x in rows]


_ROOM = (
    b.id,
    b.public_id,
    b.kind,
    b.status,
    b.purpose,
    b.party_size,
    b.booker_name,
    b.during,
    b.community_code,
    b.created_by,
    b.created_by_role,
    b.created_by_account,
    b.booked_at,
    b.cancelled_at,
    b.cancel_reason,
    b.checked_at,
    b.version,
    sp.code.label("space"),
    sp.name.label("space_name"),
    sp.area_id.label("space_area_id"),
)
_SEAT = (
    st.id,
    st.public_id,
    st.status,
    st.booker_name,
    st.community_code,
    st.created_by,
    st.created_by_role,
    st.created_by_account,
    st.queued_at,
    st.booked_at,
    st.cancelled_at,
    st.cancel_reason,
    st.checked_at,
    st.version,
    st.session_id,
    ss.starts_at,
    ss.ends_at,
    c.code.label("course"),
    c.title,
    c.teacher,
    sp.code.label("space"),
    sp.name.label("space_name"),
    sp.area_id.label("space_area_id"),
)
_ROOM_FROM = BOOKINGS.join(SPACES, sp.id == b.space_id)
_SEAT_FROM = (
    SEATS.join(SESSIONS, ss.id == st.session_id)
    .join(COURSES, c.id == ss.course_id)
    .join(SPACES, sp.id == st.space_id)
)


def _view(kind: Kind, row: Any, roles: frozenset[str], *, public: bool) -> dict[str, Any]:
    status = Status(row.status)
    out: dict[str, Any] = {
        "kind": kind.value,
        "public_id": row.public_id,
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "space": {"code": row.space, "name": row.space_name},
        "cancelled_at": row.cancelled_at,
        "cancel_reason": row.cancel_reason,
        "checked_at": row.checked_at,
        "allowed_actions": [t.action for t in allowed(kind, status, roles)],
    }
    if kind == Kind.room:
        out |= {
            "starts_at": row.during.lower,
            "ends_at": row.during.upper,
            "purpose": row.purpose,
            "party_size": row.party_size,
            "booked_at": row.booked_at,
            "course_hold": row.kind == "course",
        }
    else:
        out |= {
            "session_id": row.session_id,
            "course": {"code": row.course, "title": row.title, "teacher": row.teacher},
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
            "queued_at": row.queued_at,
            "booked_at": row.booked_at,
        }
    if public:
        return out
    return {
        "id": row.id,
        **out,
        "name": row.booker_name,
        "created_by": row.created_by,
        "created_by_role": row.created_by_role,
        "version": row.version,
    }


def _select(kind: Kind) -> Any:
    return (
        select(*_ROOM).select_from(_ROOM_FROM)
        if kind == Kind.room
        else select(*_SEAT).select_from(_SEAT_FROM)
    )


def get_booking(session: Session, me: Principal, kind: Kind, booking_id: int) -> dict[str, Any]:
    """One booking in the caller's scope, with its timeline (NotFound outside it)."""
    table = TABLES[kind]
    row = session.execute(
        _select(kind).where(table.c.id == booking_id, booking_filter(me, table))
    ).first()
    if row is None:
        raise NotFound(f"no {kind.value} booking {booking_id}")
    view = _view(kind, row, effective_roles(me, row), public=False)
    view["events"] = timeline(session, kind, row.id, public=False)
    return view


def kind_of_public_id(public_id: str) -> Kind:
    return Kind.seat if public_id.startswith("KC") else Kind.room


def get_public(session: Session, public_id: str) -> dict[str, Any]:
    """A booking as the holder of its public id sees it (NotFound for any other id)."""
    me = Principal.anonymous()
    apply_rls(session, me)
    allow_public_ids(session, [public_id])
    kind = kind_of_public_id(public_id)
    table = TABLES[kind]
    row = session.execute(
        _select(kind).where(table.c.public_id == public_id, booking_filter(me, table, [public_id]))
    ).first()
    if row is None:
        raise NotFound(f"no booking {public_id!r}")
    view = _view(kind, row, effective_roles(me, row, holds_public_id=True), public=True)
    view["events"] = timeline(session, kind, row.id, public=True)
    return view


def list_bookings(
    session: Session,
    me: Principal,
    kind: Kind,
    *,
    since: datetime,
    until: datetime,
    space: str | None = None,
    status: Sequence[Status] = (),
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """Bookings of the caller's scope starting in [since, until), soonest first."""
    table = TABLES[kind]
    start = b.starts_at if kind == Kind.room else st.starts_at
    where = [booking_filter(me, table), start >= since, start < until]
    if kind == Kind.room:
        where.append(b.kind == "room")
    if space:
        where.append(sp.code == space)
    if status:
        where.append(table.c.status.in_([s.value for s in status]))
    base = _select(kind).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(start, table.c.id).limit(limit).offset(offset)).all()
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "bookings": [_view(kind, r, effective_roles(me, r), public=False) for r in rows],
    }


def visits(
    session: Session, me: Principal, *, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Visits per space and city day in the caller's scope: the people of attended room
    bookings (their party size) and attended course seats."""
    day_b = func.date(b.starts_at)
    rooms = (
        select(sp.code.label("space"), day_b.label("day"), func.sum(b.party_size).label("n"))
        .select_from(_ROOM_FROM)
        .where(
            booking_filter(me, BOOKINGS),
            b.kind == "room",
            b.status == "attended",
            b.starts_at >= since,
            b.starts_at < until,
        )
        .group_by(sp.code, day_b)
    )
    day_s = func.date(st.starts_at)
    seats = (
        select(sp.code.label("space"), day_s.label("day"), func.count().label("n"))
        .select_from(SEATS.join(SPACES, sp.id == st.space_id))
        .where(
            booking_filter(me, SEATS),
            st.status == "attended",
            st.starts_at >= since,
            st.starts_at < until,
        )
        .group_by(sp.code, day_s)
    )
    both = rooms.union_all(seats).subquery()
    rows = session.execute(
        select(both.c.space, both.c.day, func.sum(both.c.n).label("visits"))
        .group_by(both.c.space, both.c.day)
        .order_by(both.c.day, both.c.space)
    ).all()
    return [{"space": r.space, "day": r.day, "visits": int(r.visits)} for r in rows]
