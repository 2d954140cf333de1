"""Reading designated contacts in the caller's scope: residents present with their household,
its live assignment and their last contact; the overdue list and its counts per cell; the
assignments; the contact log. Session in, never commits.

"Present" is the residents' rule, reused: a stay whose `stay_state` on the date is present or
departure_due, of the date's season or the one before (`geo.residents.service`), the latest such
stay per resident. A resident is overdue when the last contact on or before the date (or, never
contacted, the arrival) lies `days` or more days back: contacted 14 days ago is overdue at 14.
The date is the city's (`geo.core.clock.today`), whatever the host's zone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    case,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, scope_filter
from geo.audit import service as audit
from geo.community.contacts.models import (
    ASSIGNMENTS,
    CHANNEL_LABELS,
    CONTACT_LABELS,
    CONTACT_LOG,
    Channel,
    ContactKind,
)
from geo.community.volunteers.models import MEMBERS
from geo.core import clock
from geo.core.errors import Forbidden, InvalidInput
from geo.residents.models import Resident, Stay
from geo.residents.service import PRESENT_STATES, first_present_season, rows_in_scope, stay_state
from geo.spatial.places.models import GridWorker

asg, cl, mb = ASSIGNMENTS.c, CONTACT_LOG.c, MEMBERS.c
READERS = frozenset(
    {Role.grid_worker.value, Role.community_staff.value, Role.street_staff.value, "system"}
)
STAFF = frozenset({Role.community_staff.value, Role.street_staff.value, "system"})
MAX_DAYS = 365


def readers_only(me: Principal) -> None:
    if me.role not in READERS:
        raise Forbidden(f"role {me.role} sees no designated contacts")


def scope(me: Principal, table: Table) -> ColumnElement[bool]:
    return scope_filter(
        me, cell=table.c.cell_code, community=table.c.community_code, street=table.c.street_code
    )


def household_key(address: Any, resident_id: Any) -> ColumnElement[str]:
    """The household rule, in SQL (`contact_household_key`, migration 0013people)."""
    return func.contact_household_key(address, resident_id)


def present(me: Principal, on: date) -> Any:
    """Residents present on `on` in scope: one row each (its latest present stay), with the
    stay's cell, address, arrival and household key."""
    state = stay_state(on)
    return (
        select(
            Stay.resident_id,
            Resident.name,
            Stay.cell_code,
            Stay.community_code,
            Stay.street_code,
            Stay.address,
            Stay.arrived_on,
            household_key(Stay.address, Stay.resident_id).label("household_key"),
        )
        .join(Resident, Resident.id == Stay.resident_id)
        .where(
            Resident.status == "active",
            rows_in_scope(me, Stay),
            Stay.cell_code.is_not(None),
            Stay.season >= first_present_season(on),
            state.in_(PRESENT_STATES),
        )
        .ext(distinct_on(Stay.resident_id))
        .order_by(Stay.resident_id, Stay.season.desc())
    )


def _contact_cols() -> list[Any]:
    return [
        asg.id.label("assignment_id"),
        asg.contact_kind,
        asg.contact_name,
        asg.grid_worker_id,
        asg.member_id,
    ]


def _contact(row: Any) -> dict[str, Any] | None:
    if row.contact_kind is None:
        return None
    kind = ContactKind(row.contact_kind)
    return {
        "kind": kind,
        "label": CONTACT_LABELS[kind],
        "name": row.contact_name,
        "grid_worker_id": row.grid_worker_id,
        "member_id": row.member_id,
    }


def _days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")


def _status(me: Principal, on: date) -> Select[Any]:
    """Each present resident with the live assignment of their household and the last contact
    on or before `on`."""
    p = present(me, on).subquery("p")
    last = (
        select(cl.resident_id, func.max(cl.contacted_on).label("last"))
        .where(cl.contacted_on <= on, scope(me, CONTACT_LOG))
        .group_by(cl.resident_id)
        .subquery("last")
    )
    since = func.coalesce(last.c.last, p.c.arrived_on)
    return (
        select(
            p,
            last.c.last.label("last_contacted_on"),
            type_coerce(on - since, Integer).label("days_since"),
            *_contact_cols(),
        )
        .select_from(p)
        .outerjoin(last, last.c.resident_id == p.c.resident_id)
        .outerjoin(
            ASSIGNMENTS,
            and_(
                asg.cell_code == p.c.cell_code,
                asg.household_key == p.c.household_key,
                asg.ended_at.is_(None),
            ),
        )
    )


def overdue(
    session: Session,
    me: Principal,
    *,
    days: int = 14,
    on: date | None = None,
    cell: str | None = None,
    community: str | None = None,
    contact_kind: ContactKind | None = None,
    contact_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """Residents present and not contacted for `days` days, longest first, each with their
    designated contact (None: their household has none), and how many per contact. A grid
    worker sees their cells; `contact_kind` + `contact_id` narrow it to one contact's list
    (grid_worker: a grid worker's id; party_member/volunteer: a member's id). Audited as a read
    of the residents listed."""
    readers_only(me)
    _days(days)
    on = on or clock.today()
    s = _status(me, on).subquery("s")
    where: list[ColumnElement[bool]] = [s.c.days_since >= days]
    if cell:
        where.append(s.c.cell_code == cell)
    if community:
        where.append(s.c.community_code == community)
    if contact_kind is not None:
        if contact_id is None:
            raise InvalidInput("contact_kind needs contact_id")
        column = s.c.grid_worker_id if contact_kind == ContactKind.grid_worker else s.c.member_id
        where += [s.c.contact_kind == contact_kind.value, column == contact_id]
    elif contact_id is not None:
        raise InvalidInput("contact_id needs contact_kind (grid_worker, party_member, volunteer)")
    per = session.execute(
        select(
            s.c.contact_kind,
            s.c.contact_name,
            s.c.grid_worker_id,
            s.c.member_id,
            func.count().label("overdue"),
        )
        .where(*where)
        .group_by(s.c.contact_kind, s.c.contact_name, s.c.grid_worker_id, s.c.member_id)
        .order_by(func.count().desc(), s.c.contact_name)
    ).all()
    rows = session.execute(
        select(s)
        .where(*where)
        .order_by(s.c.days_since.desc(), s.c.cell_code, s.c.resident_id)
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        {
            "resident_id": r.resident_id,
            "name": r.name,
            "cell_code": r.cell_code,
            "address": r.address,
            "household_key": r.household_key,
            "arrived_on": r.arrived_on,
            "last_contacted_on": r.last_contacted_on,
            "days_since": int(r.days_since),
            "contact": _contact(r),
        }
        for r in rows
    ]
    if items:
        audit.record(
            session,
            me,
            "contact.overdue",
            object_type="resident",
            object_ids=[i["resident_id"] for i in items],
            detail={"days": days},
        )
    return {
        "on": on,
        "days": days,
        "total": sum(int(x.overdue) for x in per),
        "per_contact": [{"contact": _contact(x), "overdue": int(x.overdue)} for x in per],
        "items": items,
    }


def overdue_counts(
    session: Session,
    me: Principal,
    *,
    days: int = 14,
    on: date | None = None,
    community: str | None = None,
) -> dict[str, Any]:
    """Per cell in scope: residents present, those whose household has a designated contact,
    those overdue and those never contacted. Counts only (not audited: no person)."""
    readers_only(me)
    _days(days)
    on = on or clock.today()
    s = _status(me, on).subquery("s")
    rows = session.execute(
        select(
            s.c.cell_code,
            func.count().label("present"),
            func.count(s.c.assignment_id).label("with_contact"),
            func.count().filter(s.c.days_since >= days).label("overdue"),
            func.count().filter(s.c.last_contacted_on.is_(None)).label("never_contacted"),
        )
        .where(s.c.community_code == community if community else true())
        .group_by(s.c.cell_code)
        .order_by(s.c.cell_code)
    ).all()
    cells = [{k: (int(v) if k != "cell_code" else v) for k, v in r._mapping.items()} for r in rows]
    return {
        "on": on,
        "days": days,
        "cells": cells,
        "present": sum(c["present"] for c in cells),
        "with_contact": sum(c["with_contact"] for c in cells),
        "overdue": sum(c["overdue"] for c in cells),
    }


def list_assignments(
    session: Session,
    me: Principal,
    *,
    cell: str | None = None,
    on: date | None = None,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """Live assignments in scope with the residents present in each household and the contact's
    phone (a grid worker's work phone; a member's masked): audited as a read of contacts."""
    readers_only(me)
    on = on or clock.today()
    p = present(me, on).subquery("p")
    here = (
        select(p.c.cell_code, p.c.household_key, func.count().label("n"))
        .group_by(p.c.cell_code, p.c.household_key)
        .subquery("here")
    )
    where = [asg.ended_at.is_(None), scope(me, ASSIGNMENTS)]
    if cell:
        where.append(asg.cell_code == cell)
    phone = case(
        (asg.contact_kind == ContactKind.grid_worker.value, GridWorker.work_phone),
        else_=mb.phone_masked,
    )
    total = session.scalar(select(func.count()).select_from(ASSIGNMENTS).where(*where)) or 0
    rows = session.execute(
        select(
            asg.id,
            asg.cell_code,
            asg.household_key,
            asg.address,
            *_contact_cols(),
            phone.label("contact_phone"),
            func.coalesce(here.c.n, 0).label("residents_present"),
            asg.assigned_by,
            asg.assigned_at,
        )
        .select_from(ASSIGNMENTS)
        .outerjoin(GridWorker, GridWorker.id == asg.grid_worker_id)
        .outerjoin(MEMBERS, mb.id == asg.member_id)
        .outerjoin(
            here,
            and_(here.c.cell_code == asg.cell_code, here.c.household_key == asg.household_key),
        )
        .where(*where)
        .order_by(asg.cell_code, asg.household_key)
        .limit(limit)
        .offset(offset)
    ).all()
    out = []
    for r in rows:
        item = {
            k: getattr(r, k)
            for k in (
                "id",
                "cell_code",
                "household_key",
                "address",
                "contact_phone",
                "residents_present",
                "assigned_by",
                "assigned_at",
            )
        }
        item["residents_present"] = int(item["residents_present"])
        item["contact"] = _contact(r)
        out.append(item)
    if out:
        audit.record(
            session,
            me,
            "contact_assignment.list",
            object_type="contact_assignment",
            object_ids=[x["id"] for x in out],
            fields=["contact_name", "contact_phone"],
        )
    return {"total": total, "assignments": out}


def _log_columns() -> tuple[Any, ...]:
    """What the contact log shows of a row (listed and just written alike)."""
    return (
        cl.id,
        cl.resident_id,
        cl.cell_code,
        cl.household_key,
        cl.channel,
        cl.contacted_on,
        cl.by_name,
        cl.note,
        cl.created_at,
    )


def list_contacts(
    session: Session,
    me: Principal,
    *,
    resident_id: int | None = None,
    cell: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The contact log in scope, newest first (audited as a read of the residents named)."""
    readers_only(me)
    where = [scope(me, CONTACT_LOG)]
    if resident_id is not None:
        where.append(cl.resident_id == resident_id)
    if cell:
        where.append(cl.cell_code == cell)
    total = session.scalar(select(func.count()).select_from(CONTACT_LOG).where(*where)) or 0
    rows = session.execute(
        select(*_log_columns())
        .where(*where)
        .order_by(cl.contacted_on.desc(), cl.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["channel_label"] = CHANNEL_LABELS[Channel(r.channel)]
        out.append(item)
    if out:
        audit.record(
            session,
            me,
            "contact_log.read",
            object_type="resident",
            object_ids=sorted({x["resident_id"] for x in out}),
        )
    return {"total": total, "contacts": out}


def contacts_by_id(session: Session, me: Principal, ids: list[int]) -> list[dict[str, Any]]:
    """The given log rows (just written) as the log lists them."""
    if not ids:
        return []
    rows = session.execute(
        select(*_log_columns()).where(cl.id.in_(ids), scope(me, CONTACT_LOG)).order_by(cl.id)
    ).all()
    return [dict(r._mapping) | {"channel_label": CHANNEL_LABELS[Channel(r.channel)]} for r in rows]
