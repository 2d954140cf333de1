"""Writing the lists: adding demands and resources, reviewing stale ones, making a match a
service plan and moving the plan on. Session in, never commits.

Every write is checked against the caller's scope (the point's community for a new entry; the
locked row for a change), logged in `community_list_event` (append-only) and audited, in the
caller's one transaction. A resource's contact phone is encrypted, hashed and masked; reading
it in full is `reveal_contact` (purpose and reason, audited).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from geo.access.principal import SYSTEM, Principal, in_scope
from geo.audit import service as audit
from geo.community.lists import queries
from geo.community.lists.models import (
    CONTACT_CONTEXT,
    DEMANDS,
    LIST_EVENTS,
    PLANS,
    RESOURCES,
    DemandStatus,
    PlanStatus,
    ResourceStatus,
)
from geo.community.lists.schemas import DemandCreate, PlanCreate, PlanStep, ResourceCreate, Review
from geo.community.lists.workflow import step
from geo.core.clock import db_now, season_of
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.privacy import crypto, ids, masking
from geo.privacy.reveal import reveal
from geo.services.catalogue import item as catalogue_item
from geo.spatial import locate as locating
from geo.spatial.crs import parse_crs
from geo.spatial.places.catalogue import SERVICE_CATALOGUE

d, r, p = DEMANDS.c, RESOURCES.c, PLANS.c
STAFF = frozenset({*(x.value for x in queries.STAFF_ROLES), SYSTEM})


def staff_only(me: Principal) -> None:
    if me.role not in STAFF:
        raise Forbidden("only community and street staff keep the demand and resource lists")


def _category(category: str | None, item: str | None) -> tuple[str, str | None]:
    """(category, item code) from either; an item fixes its category."""
    if item:
        it = catalogue_item(item)
        if category and category != it.category:
            raise InvalidInput(
                f"item {it.code} ({it.name}) belongs to {it.category!r}, not {category!r}"
            )
        return it.category, it.code
    if not category:
        raise InvalidInput("give a category (e.g. health) or an item (e.g. health.04)")
    if category not in SERVICE_CATALOGUE:
        raise InvalidInput(f"unknown category {category!r}: one of {', '.join(SERVICE_CATALOGUE)}")
    return category, None


def _window(session: Session, start: date, end: date, valid: date | None, what: str) -> date:
    if valid is not None and valid < queries.today(session):
        raise InvalidInput("valid_until is in the past: an entry is added to be current")
    if end < start:
        raise InvalidInput(f"{what}: the last date is before the first")
    if (end - start).days > 400:
        raise InvalidInput(f"{what}: at most a season (400 days) at a time")
    return valid or end


def _place(session: Session, me: Principal, lon: float, lat: float, crs: str | None) -> Any:
    where = locating.locate(session, lon, lat, parse_crs(crs))
    if not in_scope(me, cell_code=where.cell_code):
        raise InvalidInput(
            f"the point lies in community {where.community_code} ({where.community_name}),"
            " outside your scope: keep the lists of your own community or street"
        )
    return where


def log(
    session: Session,
    me: Principal,
    kind: str,
    object_id: int,
    community: str,
    action: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """One event of the lists, and its audit row (`<kind>.<action>`)."""
    clean = {k: v for k, v in (data or {}).items() if v is not None}
    session.execute(
        insert(LIST_EVENTS).values(
            object_type=kind,
            object_id=object_id,
            community_code=community,
            street_code=community[:9],
            at=at,
            action=action,
            actor=me.name[:100],
            actor_role=me.role,
            data=clean,
        )
    )
    object_type = "service_plan" if kind == "plan" else f"community_{kind}"
    audit.record(
        session,
        me,
        f"{object_type}.{action}",
        object_type=object_type,
        object_ids=[object_id],
        detail=clean,
    )


def create_demand(
    session: Session, me: Principal, data: DemandCreate, *, now: datetime | None = None
) -> int:
    """Add a demand at a point in the caller's scope; returns its id."""
    staff_only(me)
    category, item = _category(data.category, data.item)
    valid = _window(session, data.needed_from, data.needed_until, data.valid_until, "needed")
    where = _place(session, me, data.lon, data.lat, data.crs)
    at = now or db_now(session)
    demand_id: int = session.scalar(
        insert(DEMANDS)
        .values(
            community_code=where.community_code,
            street_code=where.community_code[:9],
            category=category,
            item_code=item,
            title=data.title,
            people=data.people,
            season=season_of(data.needed_from),
            source=data.source.value,
            needed_from=data.needed_from,
            needed_until=data.needed_until,
            valid_until=valid,
            geom=func.ST_SetSRID(func.ST_MakePoint(where.lon, where.lat), 4326),
            status=DemandStatus.open.value,
            created_by=me.name[:100],
            created_at=at,
            updated_at=at,
        )
        .returning(d.id)
    )
    log(
        session,
        me,
        "demand",
        demand_id,
        where.community_code,
        "create",
        at,
        {"category": category, "item": item, "people": data.people, "source": data.source.value},
    )
    return demand_id


def _protect(phone: str | None) -> tuple[str | None, str | None, str | None]:
    if phone is None or not phone.strip():
        return None, None, None
    try:
        digits = ids.validate_mobile(phone)
    except InvalidInput as exc:
        raise InvalidInput(f"contact_phone: {exc.detail}") from None
    return (
        masking.mask_phone(digits),
        crypto.encrypt(digits, context=CONTACT_CONTEXT),
        crypto.lookup_hash(digits, kind="phone"),
    )


def create_resource(
    session: Session, me: Principal, data: ResourceCreate, *, now: datetime | None = None
) -> int:
    """Add a resource at a point in the caller's scope; returns its id."""
    staff_only(me)
    category, item = _category(data.category, data.item)
    valid = _window(
        session, data.available_from, data.available_until, data.valid_until, "available"
    )
    masked, enc, hashed = _protect(data.contact_phone)
    where = _place(session, me, data.lon, data.lat, data.crs)
    at = now or db_now(session)
    resource_id: int = session.scalar(
        insert(RESOURCES)
        .values(
            community_code=where.community_code,
            street_code=where.community_code[:9],
            provider_kind=data.provider_kind.value,
            provider_name=data.provider_name,
            category=category,
            item_code=item,
            title=data.title,
            capacity=data.capacity,
            available_from=data.available_from,
            available_until=data.available_until,
            hours=data.hours or None,
            valid_until=valid,
            geom=func.ST_SetSRID(func.ST_MakePoint(where.lon, where.lat), 4326),
            contact_name=data.contact_name or None,
            contact_masked=masked,
            contact_enc=enc,
            contact_hash=hashed,
            status=ResourceStatus.active.value,
            created_by=me.name[:100],
            created_at=at,
            updated_at=at,
        )
        .returning(r.id)
    )
    log(
        session,
        me,
        "resource",
        resource_id,
        where.community_code,
        "create",
        at,
        {
            "category": category,
            "item": item,
            "capacity": data.capacity,
            "provider_kind": data.provider_kind.value,
        },
    )
    return resource_id


def review(
    session: Session,
    me: Principal,
    kind: str,
    object_id: int,
    body: Review,
    *,
    now: datetime | None = None,
) -> None:
    """renew (a new valid-until, not in the past), close a demand or retire a resource."""
    staff_only(me)
    table = DEMANDS if kind == "demand" else RESOURCES
    row = session.execute(
        select(table.c.id, table.c.status, table.c.community_code, table.c.valid_until)
        .where(table.c.id == object_id, queries.scope(me, table))
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no {kind} {object_id}")
    s = step(kind, body.action, row.status)
    values: dict[str, Any] = {"status": s.to_status}
    if s.action == "renew":
        today = queries.today(session)
        if body.valid_until is None or body.valid_until < today:
            raise InvalidInput(f"renew needs valid_until, today ({today}) or later")
        values["valid_until"] = body.valid_until
    elif body.valid_until is not None:
        raise InvalidInput(f"{s.action} does not take valid_until")
    if kind == "resource" and s.action == "retire":
        live = session.scalar(
            select(func.count()).where(
                p.resource_id == object_id, p.status == PlanStatus.active.value
            )
        )
        if live:
            raise Conflict(
                f"resource {object_id} serves {live} active plan(s): finish or cancel them first"
            )
    at = now or db_now(session)
    session.execute(
        update(table)
        .where(table.c.id == object_id)
        .values(**values, version=table.c.version + 1, updated_at=at)
    )
    log(
        session,
        me,
        kind,
        object_id,
        row.community_code,
        s.action,
        at,
        {
            "from": row.status,
            "to": s.to_status,
            "valid_until": str(body.valid_until) if body.valid_until else None,
            "note": body.note,
        },
    )


# --- plans -----------------------------------------------------------------------------------

FEASIBLE_SQL = """
    SELECT ST_Distance(dm.geom::geography, rs.geom::geography, true) AS distance_m
    FROM community_demand dm, community_resource rs
    WHERE dm.id = :demand AND rs.id = :resource
"""


def create_plan(
    session: Session, me: Principal, body: PlanCreate, *, now: datetime | None = None
) -> int:
    """Make a service plan of (demand, resource) with an owner, after checking, with both rows
    locked, that the pair is still feasible: the demand open and current, the resource active,
    current, of the demand's category (and item), their dates overlapping, and capacity left
    for the demand's people. Conflict (409) saying which rule failed otherwise."""
    staff_only(me)
    dm = session.execute(
        select(
            d.id,
            d.status,
            d.community_code,
            d.category,
            d.item_code,
            d.people,
            d.needed_from,
            d.needed_until,
            d.valid_until,
        )
        .where(d.id == body.demand_id, queries.scope(me, DEMANDS))
        .with_for_update()
    ).first()
    if dm is None:
        raise NotFound(f"no demand {body.demand_id}")
    rs = session.execute(
        select(
            r.id,
            r.status,
            r.category,
            r.item_code,
            r.capacity,
            r.available_from,
            r.available_until,
            r.valid_until,
        )
        .where(r.id == body.resource_id, queries.scope(me, RESOURCES))
        .with_for_update()
    ).first()
    if rs is None:
        raise NotFound(f"no resource {body.resource_id}")
    step("demand", "plan", dm.status)
    today = queries.today(session)
    used = session.scalar(
        select(func.coalesce(func.sum(p.people), 0)).where(
            p.resource_id == rs.id, p.status.in_(queries.LIVE)
        )
    )
    problems = []
    if dm.valid_until < today:
        problems.append("the demand is past its valid-until: review it first")
    if rs.status != ResourceStatus.active.value:
        problems.append("the resource is retired")
    if rs.valid_until < today:
        problems.append("the resource is past its valid-until: review it first")
    if rs.category != dm.category or (
        rs.item_code and dm.item_code and rs.item_code != dm.item_code
    ):
        problems.append(
            f"the resource offers {rs.item_code or rs.category}, the demand needs"
            f" {dm.item_code or dm.category}"
        )
    if rs.available_from > dm.needed_until or dm.needed_from > rs.available_until:
        problems.append("their dates do not overlap")
    if rs.capacity - int(used or 0) < dm.people:
        problems.append(
            f"the resource has {rs.capacity - int(used or 0)} places left,"
            f" the demand needs {dm.people}"
        )
    if problems:
        raise Conflict("this match cannot become a plan: " + "; ".join(problems))
    distance = float(session.scalar(text(FEASIBLE_SQL), {"demand": dm.id, "resource": rs.id}))
    at = now or db_now(session)
    plan_id: int = session.scalar(
        insert(PLANS)
        .values(
            demand_id=dm.id,
            resource_id=rs.id,
            community_code=dm.community_code,
            street_code=dm.community_code[:9],
            people=dm.people,
            distance_m=round(distance, 1),
            owner=body.owner,
            owner_account=me.account_id,
            status=PlanStatus.active.value,
            note=body.note or None,
            created_by=me.name[:100],
            created_at=at,
            updated_at=at,
        )
        .returning(p.id)
    )
    session.execute(
        update(DEMANDS)
        .where(d.id == dm.id)
        .values(status=DemandStatus.planned.value, version=d.version + 1, updated_at=at)
    )
    data = {
        "demand_id": dm.id,
        "resource_id": rs.id,
        "people": dm.people,
        "distance_m": round(distance, 1),
        "owner": body.owner,
    }
    log(session, me, "plan", plan_id, dm.community_code, "create", at, data)
    log(session, me, "demand", dm.id, dm.community_code, "plan", at, {"plan_id": plan_id})
    return plan_id


def plan_step(
    session: Session, me: Principal, plan_id: int, body: PlanStep, *, now: datetime | None = None
) -> None:
    """finish a plan (its demand is closed) or cancel it with a reason (the demand is open
    again and its people's places go back to the resource)."""
    staff_only(me)
    row = session.execute(
        select(p.id, p.status, p.demand_id, p.community_code)
        .where(p.id == plan_id, queries.scope(me, PLANS))
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no service plan {plan_id}")
    s = step("plan", body.action, row.status)
    if s.action == "cancel" and (not body.reason or len(body.reason.strip()) < 2):
        raise InvalidInput("cancel needs a reason (2 to 300 characters)")
    if s.action == "finish" and body.reason:
        raise InvalidInput("finish does not take a reason")
    at = now or db_now(session)
    session.execute(update(PLANS).where(p.id == plan_id).values(status=s.to_status, updated_at=at))
    dem_status = session.scalar(select(d.status).where(d.id == row.demand_id).with_for_update())
    demand_step = step("demand", "fulfil" if s.action == "finish" else "reopen", str(dem_status))
    session.execute(
        update(DEMANDS)
        .where(d.id == row.demand_id)
        .values(status=demand_step.to_status, version=d.version + 1, updated_at=at)
    )
    log(session, me, "plan", plan_id, row.community_code, s.action, at, {"reason": body.reason})
    log(
        session,
        me,
        "demand",
        row.demand_id,
        row.community_code,
        demand_step.action,
        at,
        {"plan_id": plan_id},
    )


def reveal_contact(
    session: Session, me: Principal, resource_id: int, *, purpose: str, reason: str
) -> str | None:
    """The full contact phone of a resource in scope (audited as `community_resource.reveal`)."""
    token = session.execute(
        select(r.contact_enc).where(r.id == resource_id, queries.scope(me, RESOURCES))
    ).first()
    if token is None:
        raise NotFound(f"no resource {resource_id}")
    return reveal(
        session,
        me,
        object_type="community_resource",
        object_id=resource_id,
        field="contact_phone",
        token=token[0],
        context=CONTACT_CONTEXT,
        purpose=purpose,
        reason=reason,
        allowed_roles=queries.STAFF_ROLES,
    )
