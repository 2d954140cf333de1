"""免费健康体检 appointments: check centres and their places per day, invitations by the grid
worker to eligible residents present this season, booking a day (the last place goes to exactly
one caller: a conditional UPDATE of the day's counter, locked until commit, with a CHECK behind
it), attended or missed. Participation only: no result, no free text about health is stored.

Each step is an event (`booking_event`, kind ``health``), an audit row, and, by the trigger
`health_appointment_sync`, the resident's row in `health_check` (invited, booked, done), so the
eligibility lists of geo/residents/health_checks.py read the same truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, insert, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, SYSTEM, Principal, Role, apply_rls
from geo.audit import service as audit
from geo.bookings import queries
from geo.bookings.models import APPOINTMENTS, CENTRES, DAYS
from geo.bookings.schemas import BookingTransition
from geo.bookings.service import log, new_public_id
from geo.bookings.workflow import (
    CENTRE,
    REQUESTER,
    STAFF,
    STATUS_LABELS,
    Kind,
    Status,
    allowed,
    find,
)
from geo.core.clock import city_date, db_now, season_of
from geo.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from geo.residents.health_checks import MIN_AGE
from geo.residents.models import Resident, Stay
from geo.residents.service import rows_in_scope
from geo.spatial.places.models import ServiceArea

a, ce, d = APPOINTMENTS.c, CENTRES.c, DAYS.c
INVITING_ROLES = frozenset(
    {Role.grid_worker.value, Role.community_staff.value, Role.street_staff.value}
)


# --- centres and days (public information) -------------------------------------------------------


def create_centre(
    session: Session, me: Principal, *, code: str, name: str, area_id: int, daily_capacity: int
) -> int:
    community = session.scalar(select(ServiceArea.community_code).where(ServiceArea.id == area_id))
    if community is None:
        raise InvalidInput(f"area_id: no service area {area_id}")
    centre_id: int = session.scalar(
        insert(CENTRES)
        .values(
            code=code,
            name=name,
            area_id=area_id,
            street_code=community[:9],
            daily_capacity=daily_capacity,
        )
        .returning(ce.id)
    )
    audit.record(
        session, me, "health_centre.create", object_type="check_centre", object_ids=[centre_id]
    )
    return centre_id


def open_days(session: Session, centre_id: int, days: Sequence[date]) -> None:
    """Open days of a centre with its daily capacity (days already open are kept as they are)."""
    capacity = session.scalar(select(ce.daily_capacity).where(ce.id == centre_id))
    if capacity is None:
        raise NotFound(f"no check centre {centre_id}")
    stmt = pg_insert(DAYS).values(
        [{"centre_id": centre_id, "day": day, "capacity": capacity} for day in days]
    )
    session.execute(stmt.on_conflict_do_nothing(constraint="uq_check_day_centre_day"))


def centres(
    session: Session, *, since: date, until: date, street: str | None = None
) -> list[dict[str, Any]]:
    """Check centres with their open days in [since, until] and the places left."""
    stmt = (
        select(ce.id, ce.code, ce.name, ce.street_code, ce.daily_capacity, ServiceArea.address)
        .join(ServiceArea, ServiceArea.id == ce.area_id)
        .where(ce.active)
        .order_by(ce.code)
    )
    if street:
        stmt = stmt.where(ce.street_code == street)
    rows = session.execute(stmt).all()
    days = session.execute(
        select(d.centre_id, d.day, d.capacity, d.booked)
        .where(d.centre_id.in_([r.id for r in rows]), d.day >= since, d.day <= until)
        .order_by(d.centre_id, d.day)
    ).all()
    out = []
    for r in rows:
        out.append(
            {
                "code": r.code,
                "name": r.name,
                "address": r.address,
                "street_code": r.street_code,
                "daily_capacity": r.daily_capacity,
                "days": [
                    {"day": x.day, "capacity": x.capacity, "free": x.capacity - x.booked}
                    for x in days
                    if x.centre_id == r.id
                ],
            }
        )
    return out


# --- scope ---------------------------------------------------------------------------------------


def _days_of_area(area_id: int) -> Any:
    """The check days of the check centres of a service area (centre staff's appointments)."""
    return select(d.id).join(CENTRES, ce.id == d.centre_id).where(ce.area_id == area_id)


def appointment_filter(me: Principal, public_ids: Sequence[str] = ()) -> ColumnElement[bool]:
    """Appointments in the caller's scope: the same rule as the RLS policy
    `health_appointment_read` (the resident's cell, community or street; centre staff: those
    booked on a day of a check centre of their service area; the public: the invitation codes
    it holds)."""
    if me.role == SYSTEM:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if me.role == Role.grid_worker and me.cells:
        clauses.append(a.cell_code.in_(me.cells))
    if me.role == Role.community_staff and me.community:
        clauses.append(a.community_code == me.community)
    if me.role == Role.street_staff and me.street:
        clauses.append(a.street_code == me.street)
    if me.role == Role.centre_staff and me.area is not None:
        clauses.append(a.check_day_id.in_(_days_of_area(me.area)))
    if me.role == PUBLIC and public_ids:
        clauses.append(a.public_id.in_(list(public_ids)))
    return or_(*clauses) if clauses else false()


def _roles(me: Principal, row: Any, *, holder: bool) -> frozenset[str]:
    roles = {me.role}
    staff = (
        (me.role == Role.grid_worker and row.cell_code in me.cells)
        or (me.role == Role.community_staff and me.community == row.community_code)
        or (me.role == Role.street_staff and me.street == row.street_code)
    )
    if staff:
        roles |= {STAFF, REQUESTER}  # the grid worker and staff book for the resident too
    if me.role == Role.centre_staff and me.area is not None and row.centre_area_id == me.area:
        roles.add(CENTRE)  # the check centre's desk: attended or missed, nothing else
    if holder:
        roles.add(REQUESTER)
    return frozenset(roles)


# --- invitations ---------------------------------------------------------------------------------


def invite(
    session: Session,
    me: Principal,
    resident_id: int,
    *,
    now: datetime | None = None,
    answer: bool = True,
) -> dict[str, Any]:
    """Invite an eligible resident (65+ this season, a stay of this season not departed, in the
    caller's scope). Returns the appointment with its invitation code (the resident books with
    it). Conflict when already invited this season."""
    if me.role not in INVITING_ROLES:
        raise Forbidden("grid workers and community or street staff invite residents")
    at = now or db_now(session)
    today = city_date(at)
    season = season_of(today)
    row = session.execute(
        select(Resident.birth_year, Stay.cell_code, Stay.community_code, Stay.street_code)
        .join(Stay, and_(Stay.resident_id == Resident.id, Stay.season == season))
        .where(
            Resident.id == resident_id,
            Resident.status == "active",
            rows_in_scope(me, Stay),
            or_(Stay.departed_on.is_(None), Stay.departed_on >= today),
        )
        .order_by(Stay.arrived_on.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"resident {resident_id} is not present this season in your scope")
    if row.birth_year is None or season - row.birth_year < MIN_AGE:
        raise InvalidInput(f"the free health check is for residents aged {MIN_AGE}+")
    if row.cell_code is None:
        raise InvalidInput("the resident's stay is not placed in a cell yet")
    existing = session.execute(
        select(a.public_id, a.status).where(a.resident_id == resident_id, a.season == season)
    ).first()
    if existing is not None:
        raise Conflict(
            f"already invited this season (status {existing.status}); book or cancel that one",
            status=existing.status,
        )
    appointment_id: int = session.scalar(
        insert(APPOINTMENTS)
        .values(
            public_id=new_public_id(Kind.health),
            resident_id=resident_id,
            season=season,
            cell_code=row.cell_code,
            community_code=row.community_code,
            street_code=row.street_code,
            status=Status.invited.value,
            invited_at=at,
            invited_by=me.name[:100],
            created_by_account=me.account_id,
            updated_at=at,
        )
        .returning(a.id)
    )
    log(session, me, Kind.health, appointment_id, at, "invite", None, Status.invited)
    audit.record(
        session,
        me,
        "health_appointment.invite",
        object_type="resident",
        object_ids=[resident_id],
        detail={"season": season, "appointment_id": appointment_id},
    )
    if not answer:  # bulk loaders: no read-back
        return {"id": appointment_id, "status": Status.invited.value}
    return get_appointment(session, me, appointment_id)


# --- the workflow --------------------------------------------------------------------------------


def transition(
    session: Session,
    me: Principal,
    *,
    appointment_id: int | None = None,
    public_id: str | None = None,
    req: BookingTransition,
    now: datetime | None = None,
    answer: bool = True,
) -> dict[str, Any]:
    """book (centre, day), cancel, attend, miss; 409 with what the caller may do otherwise, and a
    full day is a 409 with other days and centres that have places."""
    holder = public_id is not None
    if holder:
        me = Principal.anonymous(me.client_addr)
        apply_rls(session, me)
        queries.allow_public_ids(session, [public_id or ""])
        clause = appointment_filter(me, [public_id or ""]) & (a.public_id == public_id)
        missing = f"no invitation {public_id!r}"
    else:
        clause = appointment_filter(me) & (a.id == appointment_id)
        missing = f"no health-check appointment {appointment_id}"
    centre_area = (
        select(ce.area_id)
        .join(DAYS, d.centre_id == ce.id)
        .where(d.id == a.check_day_id)
        .scalar_subquery()
    )
    row = session.execute(
        select(APPOINTMENTS, centre_area.label("centre_area_id"))
        .where(clause)
        .with_for_update(of=APPOINTMENTS)
    ).first()
    if row is None:
        raise NotFound(missing)
    status = Status(row.status)
    roles = _roles(me, row, holder=holder)
    t = find(Kind.health, req.action, status)
    if t is None or not (t.roles & roles):
        options = allowed(Kind.health, status, roles)
        problem = (
            f"{req.action!r} is not possible from {status.value!r}"
            if t is None
            else f"{req.action!r} is not yours to do on this appointment"
        )
        raise InvalidTransition(
            f"{problem}; you may: {', '.join(o.action for o in options) or 'nothing now'}",
            status=status.value,
            allowed=[{"action": o.action, "to": o.to_status.value} for o in options],
        )
    at = now or db_now(session)
    values: dict[str, Any] = {}
    data: dict[str, Any] = {}
    match t.action:
        case "book":
            day_id, day = _take_place(session, req, at, row.street_code)
            values = {"check_day_id": day_id, "booked_at": at}
            data = {"centre": req.centre, "day": day.isoformat()}
        case "cancel":
            _release(session, row.check_day_id)
            values = {"check_day_id": None, "cancelled_at": at}
        case "attend" | "miss":
            on = session.scalar(select(d.day).where(d.id == row.check_day_id))
            if on is not None and city_date(at) < on:
                raise InvalidInput(f"attendance is recorded on or after the day ({on})")
            values = {"checked_at": at}
    log(session, me, Kind.health, row.id, at, t.action, status, t.to_status, req.note, data)
    session.execute(
        update(APPOINTMENTS)
        .where(a.id == row.id)
        .values(status=t.to_status.value, version=a.version + 1, updated_at=at, **values)
    )
    audit.record(
        session,
        me,
        f"health_appointment.{t.action}",
        object_type="resident",
        object_ids=[row.resident_id],
        detail={"appointment_id": row.id, "from": status.value, "to": t.to_status.value},
    )
    if not answer:
        return {"id": row.id, "status": t.to_status.value}
    if holder:
        return get_public(session, row.public_id)
    return get_appointment(session, me, row.id)


def _take_place(
    session: Session, req: BookingTransition, at: datetime, street: str
) -> tuple[int, date]:
    if not req.centre or req.day is None:
        raise InvalidInput("book needs centre (its code) and day")
    if req.day <= city_date(at):
        raise InvalidInput("book a day from tomorrow on")
    centre = session.execute(select(ce.id, ce.name).where(ce.code == req.centre, ce.active)).first()
    if centre is None:
        raise InvalidInput(f"centre: no check centre {req.centre!r}")
    taken = session.execute(
        update(DAYS)
        .where(d.centre_id == centre.id, d.day == req.day, d.booked < d.capacity)
        .values(booked=d.booked + 1)
        .returning(d.id)
    ).first()
    if taken is None:
        opened = session.scalar(select(d.id).where(d.centre_id == centre.id, d.day == req.day))
        why = "is full" if opened is not None else "does not run checks"
        raise Conflict(
            f"{centre.name} {why} on {req.day}; choose one of the free alternatives",
            alternatives=_free_places(session, centre.id, req.day, street),
        )
    return int(taken.id), req.day


def _free_places(
    session: Session, centre_id: int, day: date, street: str
) -> dict[str, list[dict[str, Any]]]:
    base = select(ce.code, ce.name, d.day, (d.capacity - d.booked).label("free")).join(
        CENTRES, ce.id == d.centre_id
    )
    same = session.execute(
        base.where(d.centre_id == centre_id, d.day > day, d.booked < d.capacity)
        .order_by(d.day)
        .limit(5)
    ).all()
    other = session.execute(
        base.where(d.centre_id != centre_id, d.day == day, d.booked < d.capacity)
        .order_by(ce.street_code != street, ce.code)
        .limit(5)
    ).all()

    def out(rows: Any) -> list[dict[str, Any]]:
        return [
            {"centre": r.code, "name": r.name, "day": r.day.isoformat(), "free": r.free}
            for r in rows
        ]

    return {"same_centre": out(same), "other_centres": out(other)}


def _release(session: Session, day_id: int | None) -> None:
    if day_id is not None:
        session.execute(update(DAYS).where(d.id == day_id).values(booked=d.booked - 1))


# --- reading -------------------------------------------------------------------------------------

_COLS = (
    a.id,
    a.public_id,
    a.resident_id,
    a.season,
    a.cell_code,
    a.community_code,
    a.street_code,
    a.status,
    a.invited_at,
    a.invited_by,
    a.booked_at,
    a.checked_at,
    a.cancelled_at,
    a.version,
    d.day,
    ce.code.label("centre"),
    ce.name.label("centre_name"),
    ce.area_id.label("centre_area_id"),
)
_FROM = APPOINTMENTS.outerjoin(DAYS, d.id == a.check_day_id).outerjoin(
    CENTRES, ce.id == d.centre_id
)


def _view(row: Any, roles: frozenset[str], *, public: bool) -> dict[str, Any]:
    status = Status(row.status)
    out: dict[str, Any] = {
        "public_id": row.public_id,
        "season": row.season,
        "status": status.value,
        "status_label": STATUS_LABELS[status] if status != Status.attended else "已体检",
        "centre": {"code": row.centre, "name": row.centre_name} if row.centre else None,
        "day": row.day,
        "allowed_actions": [t.action for t in allowed(Kind.health, status, roles)],
    }
    if public:
        return out
    return {
        "id": row.id,
        **out,
        "resident_id": row.resident_id,
        "cell_code": row.cell_code,
        "community_code": row.community_code,
        "invited_at": row.invited_at,
        "invited_by": row.invited_by,
        "booked_at": row.booked_at,
        "checked_at": row.checked_at,
        "version": row.version,
    }


def get_appointment(session: Session, me: Principal, appointment_id: int) -> dict[str, Any]:
    row = session.execute(
        select(*_COLS).select_from(_FROM).where(a.id == appointment_id, appointment_filter(me))
    ).first()
    if row is None:
        raise NotFound(f"no health-check appointment {appointment_id}")
    view = _view(row, _roles(me, row, holder=False), public=False)
    view["events"] = queries.timeline(session, Kind.health, row.id, public=False)
    return view


def get_public(session: Session, public_id: str) -> dict[str, Any]:
    me = Principal.anonymous()
    apply_rls(session, me)
    queries.allow_public_ids(session, [public_id])
    row = session.execute(
        select(*_COLS)
        .select_from(_FROM)
        .where(a.public_id == public_id, appointment_filter(me, [public_id]))
    ).first()
    if row is None:
        raise NotFound(f"no invitation {public_id!r}")
    view = _view(row, _roles(me, row, holder=True), public=True)
    view["events"] = queries.timeline(session, Kind.health, row.id, public=True)
    return view


def list_appointments(
    session: Session,
    me: Principal,
    *,
    season: int,
    status: Sequence[Status] = (),
    cell: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """Appointments of the caller's scope in one season, with the resident's name (audited)."""
    where = [appointment_filter(me), a.season == season]
    if status:
        where.append(a.status.in_([s.value for s in status]))
    if cell:
        where.append(a.cell_code == cell)
    total = session.scalar(select(func.count()).select_from(APPOINTMENTS).where(*where)) or 0
    # An outer join: centre staff see no resident row (RLS), so no name; the appointment's
    # invitation code (`public_id`) is what the resident shows at the check centre's desk.
    rows = session.execute(
        select(*_COLS, Resident.name)
        .select_from(_FROM.outerjoin(Resident, Resident.id == a.resident_id))
        .where(*where)
        .order_by(d.day.nulls_last(), a.cell_code, a.id)
        .limit(limit)
        .offset(offset)
    ).all()
    items = [{**_view(r, _roles(me, r, holder=False), public=False), "name": r.name} for r in rows]
    if items:
        audit.record(
            session,
            me,
            "health_appointment.list",
            object_type="resident",
            object_ids=[i["resident_id"] for i in items],
        )
    return {
        "season": season,
        "total": total,
        "limit": limit,
        "offset": offset,
        "appointments": items,
    }


def counts(
    session: Session, me: Principal, *, season: int, by: str = "cell"
) -> list[dict[str, Any]]:
    """Invited, booked, attended, missed and cancelled per cell or community in the caller's
    scope (participation only)."""
    if by not in ("cell", "community"):
        raise InvalidInput("by is cell or community")
    key = a.cell_code if by == "cell" else a.community_code
    states = ("invited", "booked", "attended", "missed", "cancelled")
    rows = session.execute(
        select(
            key.label("code"),
            func.count().label("total"),
            *(func.count(case((a.status == s, 1))).label(s) for s in states),
        )
        .where(appointment_filter(me), a.season == season)
        .group_by(key)
        .order_by(key)
    ).mappings()
    return [dict(r) for r in rows]
