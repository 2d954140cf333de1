"""Reading residents, per role.

| role | sees |
| --- | --- |
| grid worker | residents of its cell(s): lists, archives (stays, reports, history), masked |
| community / street staff | the same for the community / street |
| dispatcher | counts of residents present per cell, nothing else |
| planner | aggregates only: geo.planning.aggregates (one window, small counts suppressed) |
| channel | its own reports (geo.residents.intake.reports), never an archive |

A resident is in scope by its latest stay's cell (the `resident` row's scope columns); within an
archive, stays and reports show as far as they lie in the caller's scope (row-level security
would hide the rest anyway). ID and phone numbers are masked in every response; revealing one is
an explicit, audited act (`reveal`). Every read of a person's record writes an audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, in_scope, scope_filter
from geo.audit import service as audit
from geo.core import clock
from geo.core.errors import Forbidden, InvalidInput, NotFound
from geo.privacy import reveal as privacy_reveal
from geo.residents.models import (
    HOUSING_LABELS,
    ConcernEntry,
    HealthCheck,
    IntakeReport,
    Resident,
    ResidentEvent,
    Stay,
)
from geo.residents.schemas import PERSON_ROLES

PRESENT_STATES = ("present", "departure_due")
STATE_LABELS = {
    "arriving": "即将入住",
    "present": "在住",
    "departure_due": "待确认离开",
    "departed": "已离开",
}
MAX_LIMIT = 500


def first_present_season(on: date) -> int:
    """Presence on `on` looks at the stays of its season and the one before (a stay over the
    winter): the rule of the API's lists, the grid worker's cell map and `resident_counts`."""
    return clock.season_of(on) - 1


def stay_state(on: date) -> ColumnElement[str]:
    """The SQL `stay_state(...)` of each stay on a date: arriving/present/departure_due/departed."""
    return func.stay_state(
        Stay.arrived_on, Stay.expected_departure, Stay.departed_on, Stay.last_reported_on, on
    )


def rows_in_scope(me: Principal, model: Any) -> ColumnElement[bool]:
    """The SQL condition: rows of `model` (its cell, community and street columns) that the
    caller's scope covers. `geo.access.principal.in_scope` answers the same for one known cell in
    Python."""
    return scope_filter(
        me, cell=model.cell_code, community=model.community_code, street=model.street_code
    )


def _persons_only(me: Principal) -> None:
    if me.role not in (*PERSON_ROLES, "system"):
        raise Forbidden(f"role {me.role} sees no person records")


def age_in(birth_year: int | None, year: int) -> int | None:
    return None if birth_year is None else year - birth_year


def _stay_dict(s: Any, state: str | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "season": s.season,
        "address": s.address,
        "precision": s.precision,
        "cell_code": s.cell_code,
        "community_code": s.community_code,
        "housing_type": s.housing_type,
        "housing_label": HOUSING_LABELS.get(s.housing_type) if s.housing_type else None,
        "household_size": s.household_size,
        "arrived_on": s.arrived_on,
        "expected_departure": s.expected_departure,
        "departed_on": s.departed_on,
        "last_reported_on": s.last_reported_on,
        "departure_confirmed_by": s.departure_confirmed_by,
        "state": state,
        "state_label": STATE_LABELS.get(state or ""),
    }


def person_row(r: Any, on: date) -> dict[str, Any]:
    """A resident as the person roles see it: numbers masked, no ciphertext, no hash."""
    return {
        "id": r.id,
        "status": r.status,
        "merged_into_id": r.merged_into_id,
        "name": r.name,
        "sex": r.sex,
        "birth_year": r.birth_year,
        "age": age_in(r.birth_year, on.year),
        "id_number": r.id_number_masked,
        "phone": r.phone_masked,
        "origin": r.origin,
        "origin_province": r.origin_province,
        "origin_city": r.origin_city,
        "occupation": r.occupation,
        "tags": list(r.tags or []),
        "conflicts": r.conflicts or {},
        "cell_code": r.cell_code,
        "community_code": r.community_code,
        "street_code": r.street_code,
        "first_seen_at": r.first_seen_at,
        "last_seen_at": r.last_seen_at,
    }


def list_residents(
    session: Session,
    me: Principal,
    *,
    on: date | None = None,
    present: bool = True,
    season: int | None = None,
    cell: str | None = None,
    q: str | None = None,
    address: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Residents with a stay in the caller's scope: present on `on` (default today), or of a
    season; each with that stay; `q` part of the name, `address` part of the stay's address (a
    building, 3号楼). Paged; audited as one read of the listed records."""
    _persons_only(me)
    on = on or clock.today()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    state = stay_state(on).label("state")
    stmt: Select[*tuple[Any, ...]] = (
        select(Resident, Stay, state)
        .join(Stay, Stay.resident_id == Resident.id)
        .where(Resident.status == "active", rows_in_scope(me, Stay))
    )
    if present:
        stmt = stmt.where(state.in_(PRESENT_STATES), Stay.season >= first_present_season(on))
    if season is not None:
        stmt = stmt.where(Stay.season == season)
    if cell:
        stmt = stmt.where(Stay.cell_code == cell)
    if q:
        stmt = stmt.where(Resident.name.contains(q, autoescape=True))
    if address:
        stmt = stmt.where(Stay.address.contains(address, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(
        stmt.order_by(Stay.cell_code, Resident.name, Resident.id, Stay.season.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = []
    for r, s, st in rows:
        item = person_row(r, on)
        item["stay"] = _stay_dict(s, st)
        items.append(item)
    if items:
        audit.record(
            session,
            me,
            "resident.list",
            object_type="resident",
            object_ids=[i["id"] for i in items],
        )
    return {"total": total, "limit": limit, "offset": offset, "on": on, "items": items}


def get_resident_row(session: Session, me: Principal, resident_id: int) -> Resident:
    """The resident, if in the caller's scope; NotFound otherwise (existence does not leak)."""
    _persons_only(me)
    row = session.scalar(
        select(Resident).where(Resident.id == resident_id, rows_in_scope(me, Resident))
    )
    if row is None or row.status == "purged":
        raise NotFound(f"no resident {resident_id}")
    return row


def get_archive(
    session: Session, me: Principal, resident_id: int, *, on: date | None = None
) -> dict[str, Any]:
    """动态管理档案: the resident, stays, reports (what each channel said, when), history,
    concern-log entries and health-check participation, with the provenance of each value."""
    on = on or clock.today()
    r = get_resident_row(session, me, resident_id)
    out = person_row(r, on)
    state = stay_state(on).label("state")
    stays = session.execute(
        select(Stay, state)
        .where(Stay.resident_id == r.id, rows_in_scope(me, Stay))
        .order_by(Stay.season.desc())
    ).all()
    out["stays"] = [_stay_dict(s, st) for s, st in stays]
    reports = session.scalars(
        select(IntakeReport)
        .where(IntakeReport.resident_id == r.id, rows_in_scope(me, IntakeReport))
        .order_by(IntakeReport.reported_at, IntakeReport.id)
    ).all()
    out["reports"] = [report_summary(x) for x in reports]
    out["provenance"] = provenance(reports)
    out["history"] = [
        {
            "at": e.at,
            "kind": e.kind,
            "other_resident_id": e.other_resident_id,
            "report_ids": list(e.report_ids),
            "by": e.actor_name,
            "role": e.actor_role,
            "note": e.note,
        }
        for e in session.scalars(
            select(ResidentEvent)
            .where(ResidentEvent.resident_id == r.id, rows_in_scope(me, ResidentEvent))
            .order_by(ResidentEvent.at, ResidentEvent.id)
        )
    ]
    out["concerns"] = [
        {
            "id": c.id,
            "category": c.category,
            "status": c.status,
            "text": c.text,
            "created_at": c.created_at,
        }
        for c in session.scalars(
            select(ConcernEntry)
            .where(ConcernEntry.resident_id == r.id, rows_in_scope(me, ConcernEntry))
            .order_by(ConcernEntry.created_at)
        )
    ]
    out["health_checks"] = [
        {
            "season": h.season,
            "status": h.status,
            "invited_on": h.invited_on,
            "booked_for": h.booked_for,
            "done_on": h.done_on,
        }
        for h in session.scalars(
            select(HealthCheck)
            .where(HealthCheck.resident_id == r.id, rows_in_scope(me, HealthCheck))
            .order_by(HealthCheck.season)
        )
    ]
    audit.record(session, me, "resident.read", object_type="resident", object_ids=[r.id])
    return out


def report_summary(x: IntakeReport) -> dict[str, Any]:
    """A report as the archive lists it: what was said, masked, and what became of it."""
    return {
        "id": x.id,
        "channel": x.channel,
        "reported_at": x.reported_at,
        "received_at": x.received_at,
        "submitted_by": x.submitted_by_name,
        "season": x.season,
        "decision": x.decision,
        "score": x.score,
        "reasons": x.reasons,
        "reject_reason": x.reject_reason,
        "payload": x.payload,
        "geocode": x.geocode,
        "cell_code": x.cell_code,
    }


_PROVENANCE_FIELDS = (
    "name",
    "sex",
    "birth_year",
    "age",
    "id_number_masked",
    "phone_masked",
    "origin",
    "occupation",
    "housing_type",
    "household_size",
    "arrived_on",
    "expected_departure",
    "departed_on",
    "address",
)


def provenance(reports: Sequence[IntakeReport]) -> dict[str, list[dict[str, Any]]]:
    """Field -> every value any report gave, with which channel said it and when (oldest first).
    ID and phone numbers appear masked."""
    out: dict[str, list[dict[str, Any]]] = {}
    for x in reports:
        if x.decision not in ("new", "linked"):
            continue
        for f in _PROVENANCE_FIELDS:
            value = getattr(x, f)
            if value is None:
                continue
            key = f.removesuffix("_masked")
            out.setdefault(key, []).append(
                {"value": value, "channel": x.channel, "at": x.reported_at, "report_id": x.id}
            )
    return out


def reveal(
    session: Session, me: Principal, resident_id: int, *, field: str, purpose: str, reason: str
) -> dict[str, Any]:
    """The full ID or phone number of a resident in scope: needs a purpose, always audited."""
    r = get_resident_row(session, me, resident_id)
    token = r.id_number_enc if field == "id_number" else r.phone_enc
    value = privacy_reveal.reveal(
        session,
        me,
        object_type="resident",
        object_id=r.id,
        field=field,
        token=token,
        context=f"resident.{field}",
        purpose=purpose,
        reason=reason,
        allowed_roles=PERSON_ROLES,
    )
    return {"id": r.id, "field": field, "value": value}


# --- counts: dispatchers, staff and planners ------------------------------------------------


def counts_by_cell(session: Session, me: Principal, *, on: date | None = None) -> dict[str, Any]:
    """Residents present (and awaiting a departure check) per cell on a date.

    Dispatchers see every cell; staff and grid workers their own scope. No person, no point.
    """
    on = on or clock.today()
    if me.role not in (Role.dispatcher.value, *PERSON_ROLES, "system"):
        raise Forbidden(f"role {me.role} may not read resident counts per cell")
    rows = (
        session.execute(
            text(
                "SELECT cell_code, community_code, present, departure_due FROM resident_counts(:on)"
                " ORDER BY cell_code NULLS LAST, community_code"
            ),
            {"on": on},
        )
        .mappings()
        .all()
    )
    cells = [
        dict(r)
        for r in rows
        if in_scope(
            me,
            cell_code=r["cell_code"],
            community_code=r["community_code"],
            city_wide=(Role.dispatcher,),
        )
    ]
    return {
        "on": on,
        "cells": cells,
        "total_present": sum(r["present"] for r in cells),
        "total_departure_due": sum(r["departure_due"] for r in cells),
    }
