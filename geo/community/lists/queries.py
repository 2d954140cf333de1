"""Reading the lists in the caller's scope: demands, resources (with what capacity is left),
plans, the per-community and per-street view of unmatched demands and idle resources, and the
stale entries. Session in, never commits.

Scope is the row's community for community staff and its street for street staff, in every
query here (`scope`) and again in RLS (migration 0010lists).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, scope_filter
from geo.community.lists.models import (
    DEMANDS,
    LIST_EVENTS,
    PLANS,
    RESOURCES,
    DemandStatus,
    PlanStatus,
    ResourceStatus,
)
from geo.core.clock import sql_today
from geo.core.errors import NotFound
from geo.services.catalogue import ITEMS
from geo.spatial.places.catalogue import SERVICE_CATALOGUE

d, r, p, ev = DEMANDS.c, RESOURCES.c, PLANS.c, LIST_EVENTS.c
STAFF_ROLES = (Role.community_staff, Role.street_staff)
LIVE = (PlanStatus.active.value, PlanStatus.done.value)  # plans that take capacity


def scope(me: Principal, table: Table) -> ColumnElement[bool]:
    """Rows of `table` in the caller's scope: its community or its street (deny otherwise)."""
    return scope_filter(me, community=table.c.community_code, street=table.c.street_code)


def used_capacity() -> Any:
    """People of each resource's live plans (a subquery: resource_id, used)."""
    return (
        select(p.resource_id, func.sum(p.people).label("used"))
        .where(p.status.in_(LIVE))
        .group_by(p.resource_id)
        .subquery("used")
    )


def _stale(table: Table, live: str) -> ColumnElement[bool]:
    return and_(table.c.valid_until < sql_today(), table.c.status == live)


def _demand_select() -> Select[Any]:
    return select(
        d.id,
        d.community_code,
        d.street_code,
        d.category,
        d.item_code,
        d.title,
        d.people,
        d.season,
        d.source,
        d.needed_from,
        d.needed_until,
        d.valid_until,
        or_(_stale(DEMANDS, DemandStatus.open), _stale(DEMANDS, DemandStatus.planned)).label(
            "stale"
        ),
        d.status,
        func.ST_X(d.geom).label("lon"),
        func.ST_Y(d.geom).label("lat"),
        d.created_by,
        d.created_at,
        d.version,
    )


def _resource_select() -> Select[Any]:
    used = used_capacity()
    return select(
        r.id,
        r.community_code,
        r.street_code,
        r.provider_kind,
        r.provider_name,
        r.category,
        r.item_code,
        r.title,
        r.capacity,
        (r.capacity - func.coalesce(used.c.used, 0)).label("remaining"),
        r.available_from,
        r.available_until,
        r.hours,
        r.valid_until,
        _stale(RESOURCES, ResourceStatus.active).label("stale"),
        r.status,
        func.ST_X(r.geom).label("lon"),
        func.ST_Y(r.geom).label("lat"),
        r.contact_name,
        r.contact_masked.label("contact_phone"),
        r.created_by,
        r.created_at,
        r.version,
    ).select_from(RESOURCES.outerjoin(used, used.c.resource_id == r.id))


def _labels(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["category_label"] = SERVICE_CATALOGUE.get(out["category"], (out["category"], []))[0]
    item = ITEMS.get(out["item_code"] or "")
    out["item_name"] = item.name if item else None
    return out


def _plan_select() -> Select[Any]:
    return select(
        p.id,
        p.demand_id,
        p.resource_id,
        p.community_code,
        p.people,
        p.distance_m,
        p.owner,
        p.status,
        p.note,
        p.created_by,
        p.created_at,
        d.title.label("demand_title"),
        r.title.label("resource_title"),
    ).select_from(PLANS.join(DEMANDS, d.id == p.demand_id).join(RESOURCES, r.id == p.resource_id))


def _events(session: Session, kind: str, object_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ev.at, ev.action, ev.actor, ev.actor_role, ev.data)
        .where(ev.object_type == kind, ev.object_id == object_id)
        .order_by(ev.id)
    ).mappings()
    return [dict(x) for x in rows]


def _plans(session: Session, me: Principal, clause: ColumnElement[bool]) -> list[dict[str, Any]]:
    rows = session.execute(_plan_select().where(clause, scope(me, PLANS)).order_by(p.id))
    return [dict(x._mapping) for x in rows]


def get_demand(session: Session, me: Principal, demand_id: int) -> dict[str, Any]:
    row = session.execute(_demand_select().where(d.id == demand_id, scope(me, DEMANDS))).first()
    if row is None:
        raise NotFound(f"no demand {demand_id}")
    out = _labels(row)
    out["events"] = _events(session, "demand", demand_id)
    out["plans"] = _plans(session, me, p.demand_id == demand_id)
    return out


def get_resource(session: Session, me: Principal, resource_id: int) -> dict[str, Any]:
    row = session.execute(
        _resource_select().where(r.id == resource_id, scope(me, RESOURCES))
    ).first()
    if row is None:
        raise NotFound(f"no resource {resource_id}")
    out = _labels(row)
    out["events"] = _events(session, "resource", resource_id)
    out["plans"] = _plans(session, me, p.resource_id == resource_id)
    return out


def get_plan(session: Session, me: Principal, plan_id: int) -> dict[str, Any]:
    row = session.execute(_plan_select().where(p.id == plan_id, scope(me, PLANS))).first()
    if row is None:
        raise NotFound(f"no service plan {plan_id}")
    return dict(row._mapping)


def _place_filter(table: Table, community: str | None, street: str | None) -> list[Any]:
    out = []
    if community:
        out.append(table.c.community_code == community)
    if street:
        out.append(table.c.street_code == street)
    return out


def list_demands(
    session: Session,
    me: Principal,
    *,
    community: str | None = None,
    street: str | None = None,
    status: DemandStatus | None = None,
    category: str | None = None,
    stale: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Demands in scope, newest first (filters: place, status, category, stale)."""
    where = [scope(me, DEMANDS), *_place_filter(DEMANDS, community, street)]
    if status:
        where.append(d.status == status.value)
    if category:
        where.append(d.category == category)
    if stale is not None:
        flag = or_(_stale(DEMANDS, DemandStatus.open), _stale(DEMANDS, DemandStatus.planned))
        where.append(flag if stale else ~flag)
    total = session.scalar(select(func.count()).select_from(DEMANDS).where(*where)) or 0
    rows = session.execute(
        _demand_select().where(*where).order_by(d.id.desc()).limit(limit).offset(offset)
    )
    return {"total": total, "demands": [_labels(x) for x in rows]}


def list_resources(
    session: Session,
    me: Principal,
    *,
    community: str | None = None,
    street: str | None = None,
    status: ResourceStatus | None = None,
    category: str | None = None,
    stale: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Resources in scope, newest first, each with the capacity its live plans leave."""
    where = [scope(me, RESOURCES), *_place_filter(RESOURCES, community, street)]
    if status:
        where.append(r.status == status.value)
    if category:
        where.append(r.category == category)
    if stale is not None:
        flag = _stale(RESOURCES, ResourceStatus.active)
        where.append(flag if stale else ~flag)
    total = session.scalar(select(func.count()).select_from(RESOURCES).where(*where)) or 0
    rows = session.execute(
        _resource_select().where(*where).order_by(r.id.desc()).limit(limit).offset(offset)
    )
    return {"total": total, "resources": [_labels(x) for x in rows]}


def list_plans(
    session: Session,
    me: Principal,
    *,
    status: PlanStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    where = [scope(me, PLANS)]
    if status:
        where.append(p.status == status.value)
    total = session.scalar(select(func.count()).select_from(PLANS).where(*where)) or 0
    rows = session.execute(
        _plan_select().where(*where).order_by(p.id.desc()).limit(limit).offset(offset)
    )
    return {"total": total, "plans": [dict(x._mapping) for x in rows]}


def overview(
    session: Session, me: Principal, *, street: str | None = None, community: str | None = None
) -> list[dict[str, Any]]:
    """Per street, then per community in scope: open demands without a live plan (unmatched),
    active resources without one (idle), and how many entries are past valid-until."""
    dem_where = [
        scope(me, DEMANDS),
        *_place_filter(DEMANDS, community, street),
        d.status == DemandStatus.open.value,
    ]
    unmatched = [_labels(x) for x in session.execute(_demand_select().where(*dem_where))]
    busy = select(p.resource_id).where(p.status == PlanStatus.active.value)
    res_where = [
        scope(me, RESOURCES),
        *_place_filter(RESOURCES, community, street),
        r.status == ResourceStatus.active.value,
        r.id.not_in(busy),
    ]
    idle = [_labels(x) for x in session.execute(_resource_select().where(*res_where))]
    stale_d: dict[str, int] = dict(
        session.execute(
            select(d.community_code, func.count())
            .where(
                scope(me, DEMANDS),
                *_place_filter(DEMANDS, community, street),
                or_(_stale(DEMANDS, DemandStatus.open), _stale(DEMANDS, DemandStatus.planned)),
            )
            .group_by(d.community_code)
        ).all()
    )
    stale_r: dict[str, int] = dict(
        session.execute(
            select(r.community_code, func.count())
            .where(
                scope(me, RESOURCES),
                *_place_filter(RESOURCES, community, street),
                _stale(RESOURCES, ResourceStatus.active),
            )
            .group_by(r.community_code)
        ).all()
    )
    codes = sorted({x["community_code"] for x in unmatched + idle} | set(stale_d) | set(stale_r))
    streets: dict[str, dict[str, Any]] = {}
    for code in codes:
        row: dict[str, Any] = {
            "community_code": code,
            "open_demands": sum(1 for x in unmatched if x["community_code"] == code),
            "unmatched_demands": [x for x in unmatched if x["community_code"] == code],
            "idle_resources": [x for x in idle if x["community_code"] == code],
            "stale_demands": int(stale_d.get(code, 0)),
            "stale_resources": int(stale_r.get(code, 0)),
        }
        fresh: dict[str, Any] = {
            "street_code": code[:9],
            "open_demands": 0,
            "idle_resources": 0,
            "stale": 0,
            "communities": [],
        }
        s = streets.setdefault(code[:9], fresh)
        s["open_demands"] += row["open_demands"]
        s["idle_resources"] += len(row["idle_resources"])
        s["stale"] += row["stale_demands"] + row["stale_resources"]
        s["communities"].append(row)
    return list(streets.values())


def today(session: Session) -> date:
    """The city's date by the database's clock (the one `valid_until` is compared with)."""
    return session.scalar(select(sql_today()))  # type: ignore[return-value]
