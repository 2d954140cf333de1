"""SQL of service requests: routing to the nearest area offering an item, the caller's scope,
reading a request back. Session in, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, text, true
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, SYSTEM, Principal, Role, apply_rls
from geo.core.config import spatial_settings
from geo.core.errors import InvalidInput, NotFound
from geo.services.catalogue import ITEMS, Item
from geo.services.models import EVENTS, REQUESTS
from geo.services.workflow import OPEN, REQUESTER, STAFF, STATUS_LABELS, Status, allowed
from geo.spatial.places.models import ServiceArea

r = REQUESTS.c
e = EVENTS.c

# KNN through the geography GiST index of service_area, restricted to the areas offering the
# item (and not excluded), then the exact ellipsoidal distance in metres.
NEAREST_OFFERING_SQL = text(
    """
    WITH q AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS pt)
    SELECT sa.id, sa.name, sa.community_code, sa.address, sa.opening_hours, sa.phone,
           ST_X(sa.geom) AS lon, ST_Y(sa.geom) AS lat,
           ST_Distance(sa.geom::geography, q.pt, true) AS distance_m
    FROM service_area sa, q
    WHERE :offered = ANY (sa.services) AND NOT (sa.id = ANY (CAST(:exclude AS integer[])))
    ORDER BY sa.geom::geography <-> q.pt
    LIMIT :k
    """
)

AREA_SQL = text(
    """
    SELECT sa.id, sa.name, sa.community_code, sa.address, sa.opening_hours, sa.phone,
           :offered = ANY (sa.services) AS offers,
           ST_Distance(sa.geom::geography,
                       ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, true) AS distance_m
    FROM service_area sa WHERE sa.id = :id
    """
)


def nearest_offering(
    session: Session,
    item: Item,
    lon: float,
    lat: float,
    *,
    k: int = 1,
    exclude: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """The k service areas offering `item` nearest to a WGS84 point, closest first."""
    limit = spatial_settings().max_nearest_k
    if not 1 <= k <= limit:
        raise InvalidInput(f"k must be between 1 and {limit}, got {k}")
    rows = session.execute(
        NEAREST_OFFERING_SQL,
        {"lon": lon, "lat": lat, "offered": item.offered_as, "exclude": list(exclude), "k": k},
    ).mappings()
    return [{**row, "distance_m": round(float(row["distance_m"]), 1)} for row in rows]


def area(session: Session, area_id: int, item: Item, lon: float, lat: float) -> dict[str, Any]:
    """One service area with whether it offers `item` and its distance from the point."""
    row = (
        session.execute(
            AREA_SQL, {"id": area_id, "offered": item.offered_as, "lon": lon, "lat": lat}
        )
        .mappings()
        .first()
    )
    if row is None:
        raise InvalidInput(f"to_area_id: no service area {area_id}")
    return dict(row)


# --- scope ---------------------------------------------------------------------------------------

FILING_ROLES = frozenset({PUBLIC, Role.grid_worker.value})
STAFF_ROLES = frozenset(
    {Role.community_staff.value, Role.street_staff.value, Role.centre_staff.value}
)
# Who also sees the requests they filed themselves (centre staff file none).
READING_ROLES = frozenset(
    {Role.grid_worker.value, Role.community_staff.value, Role.street_staff.value}
)


def request_filter(me: Principal, public_ids: Sequence[str] = ()) -> ColumnElement[bool]:
    """Requests in the caller's scope, the same rule as the RLS policy `service_request_read`.

    Not `geo.access.principal.scope_filter`: staff scope is the *serving area's* community or street
    (`area_*`), centre staff's the serving area itself, while a grid worker's is the resident's
    cell; a filing account also sees its own requests, and an anonymous caller exactly those
    whose public ids it holds.
    """
    if me.role == SYSTEM:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if me.role == Role.grid_worker and me.cells:
        clauses.append(r.cell_code.in_(me.cells))
    if me.role == Role.community_staff and me.community:
        clauses.append(r.area_community_code == me.community)
    if me.role == Role.street_staff and me.street:
        clauses.append(r.area_street_code == me.street)
    if me.role == Role.centre_staff and me.area is not None:
        clauses.append(r.area_id == me.area)
    if me.role in READING_ROLES and me.account_id is not None:
        clauses.append(r.created_by_account == me.account_id)
    if me.role == PUBLIC and public_ids:
        clauses.append(r.public_id.in_(list(public_ids)))
    return or_(*clauses) if clauses else false()


def allow_public_ids(session: Session, public_ids: Sequence[str]) -> None:
    """Let this transaction's anonymous caller see the requests whose public ids it holds (RLS:
    `houniao.service_request_public_ids`)."""
    session.execute(
        select(func.set_config("houniao.service_request_public_ids", ",".join(public_ids), True))
    )


def effective_roles(me: Principal, row: Any, *, holds_public_id: bool = False) -> frozenset[str]:
    """`staff` for the serving area's community, street or centre staff, `requester` for the
    filing account or the holder of the public id (see geo/services/workflow.py)."""
    roles = {me.role}
    if (
        (me.role == Role.community_staff and me.community == row.area_community_code)
        or (me.role == Role.street_staff and me.street == row.area_street_code)
        or (me.role == Role.centre_staff and me.area == row.area_id)
    ):
        roles.add(STAFF)
    if holds_public_id or (me.account_id is not None and row.created_by_account == me.account_id):
        roles.add(REQUESTER)
    return frozenset(roles)


# --- reading -------------------------------------------------------------------------------------

_COLUMNS = (
    r.id,
    r.public_id,
    r.item_code,
    r.status,
    r.description,
    r.address,
    func.ST_X(r.geom).label("lon"),
    func.ST_Y(r.geom).label("lat"),
    r.cell_code,
    r.community_code,
    r.area_id,
    r.area_community_code,
    r.area_street_code,
    r.distance_m,
    r.requester_name,
    r.phone_masked,
    r.created_by,
    r.created_by_role,
    r.created_by_account,
    r.requested_at,
    r.due_at,
    r.accepted_at,
    r.fulfilled_at,
    r.rated_at,
    r.cancelled_at,
    r.cancel_reason,
    r.rating,
    r.rating_comment,
    r.handover_count,
    r.version,
    r.updated_at,
    ServiceArea.name.label("area_name"),
    ServiceArea.address.label("area_address"),
    ServiceArea.phone.label("area_phone"),
    ServiceArea.opening_hours.label("area_opening_hours"),
)
# Every read of requests joins the serving area (public information) in the same statement.
_FROM = REQUESTS.join(ServiceArea, ServiceArea.id == r.area_id)


def _view(row: Any, now: datetime, roles: frozenset[str], *, public: bool) -> dict[str, Any]:
    item = ITEMS.get(row.item_code)
    status = Status(row.status)
    out: dict[str, Any] = {
        "public_id": row.public_id,
        "item": item.as_dict() if item else {"code": row.item_code},
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "area": {
            "id": row.area_id,
            "name": row.area_name,
            "address": row.area_address,
            "phone": row.area_phone,
            "opening_hours": row.area_opening_hours,
            "community_code": row.area_community_code,
            "distance_m": round(float(row.distance_m), 1),
        },
        "requested_at": row.requested_at,
        "due_at": row.due_at,
        "overdue": status in OPEN and now > row.due_at,
        "accepted_at": row.accepted_at,
        "fulfilled_at": row.fulfilled_at,
        "rated_at": row.rated_at,
        "cancelled_at": row.cancelled_at,
        "cancel_reason": row.cancel_reason,
        "rating": row.rating,
        "rating_comment": row.rating_comment,
        "handover_count": row.handover_count,
        "allowed_actions": [t.action for t in allowed(status, roles)],
    }
    if public:  # the holder of the public id: no coordinates, names or phone back
        return out
    return {
        "id": row.id,
        **out,
        "description": row.description,
        "address": row.address,
        "lon": row.lon,
        "lat": row.lat,
        "cell_code": row.cell_code,
        "community_code": row.community_code,
        "requester_name": row.requester_name,
        "phone": row.phone_masked,  # masked; the full number only through an audited reveal
        "created_by": row.created_by,
        "created_by_role": row.created_by_role,
        "version": row.version,
    }


def timeline(session: Session, request_id: int, *, public: bool) -> list[dict[str, Any]]:
    cols = [e.at, e.action, e.from_status, e.to_status, e.from_area_id, e.to_area_id, e.note]
    if not public:
        cols += [e.actor, e.actor_role, e.data]
    rows = session.execute(
        select(*cols).where(e.request_id == request_id).order_by(e.id)
    ).mappings()
    return [dict(x) for x in rows]


def get_request(
    session: Session, me: Principal, request_id: int, *, now: datetime
) -> dict[str, Any]:
    """One request in the caller's scope, with its timeline (NotFound outside it)."""
    row = session.execute(
        select(*_COLUMNS).select_from(_FROM).where(r.id == request_id, request_filter(me))
    ).first()
    if row is None:
        raise NotFound(f"no service request {request_id}")
    view = _view(row, now, effective_roles(me, row), public=False)
    view["events"] = timeline(session, row.id, public=False)
    return view


def get_public(session: Session, public_id: str, *, now: datetime) -> dict[str, Any]:
    """A request as its anonymous holder sees it (NotFound for an id it does not hold)."""
    me = Principal.anonymous()
    apply_rls(session, me)  # whoever else the caller is, here they are the id's holder
    allow_public_ids(session, [public_id])
    row = session.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(r.public_id == public_id, request_filter(me, [public_id]))
    ).first()
    if row is None:
        raise NotFound(f"no service request {public_id!r}")
    view = _view(row, now, effective_roles(me, row, holds_public_id=True), public=True)
    view["events"] = timeline(session, row.id, public=True)
    return view


def list_requests(
    session: Session,
    me: Principal,
    *,
    now: datetime,
    status: Sequence[Status] = (),
    item: str | None = None,
    overdue: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Requests in the caller's scope, open ones first by due time, then newest."""
    where = [request_filter(me)]
    if status:
        where.append(r.status.in_([s.value for s in status]))
    if item:
        where.append(r.item_code == item)
    if overdue is not None:
        late = (r.status.in_([s.value for s in OPEN])) & (r.due_at < now)
        where.append(late if overdue else ~late)
    total = session.scalar(select(func.count()).select_from(REQUESTS).where(*where)) or 0
    rows = session.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(*where)
        .order_by(r.status.in_([s.value for s in OPEN]).desc(), r.due_at, r.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [_view(x, now, effective_roles(me, x), public=False) for x in rows]
    return {"total": total, "limit": limit, "offset": offset, "requests": items}
