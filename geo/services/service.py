"""Making service requests and moving them through the workflow. Session in, never commits.

A request is placed in its cell (`geo.spatial.locate`, the project's crs rules and coverage), routed
to the nearest service area that offers its item (metres on the ellipsoid), given the item's due
time, logged (`request` event) and audited. Every change locks the row (SELECT ... FOR UPDATE
with the caller's scope in the query), checks the action against the one table of
geo/services/workflow.py (409 with what the caller may do instead), appends an event, updates
the row (version + 1) and queues an audit event: all in the request's one transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, Role, apply_rls, in_scope
from geo.audit import service as audit
from geo.core import lock_waits
from geo.core.clock import db_now
from geo.core.errors import Forbidden, InvalidInput, InvalidTransition, NotFound, RateLimited
from geo.privacy import crypto, ids, masking
from geo.privacy.reveal import reveal
from geo.services import queries
from geo.services.catalogue import ITEMS
from geo.services.catalogue import item as catalogue_item
from geo.services.models import EVENTS, PHONE_CONTEXT, REQUESTS
from geo.services.schemas import ServiceRequestCreate, ServiceTransition
from geo.services.workflow import Status, Transition, allowed, find
from geo.spatial import locate as locating
from geo.spatial.crs import parse_crs

r = REQUESTS.c
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone

# The public form (no account): at most this many requests per client address per window.
PUBLIC_LIMIT = 5
PUBLIC_WINDOW = timedelta(hours=1)


def new_public_id() -> str:
    """An unguessable id (about 50 bits) the requester keeps to follow, cancel and rate."""
    return "SR" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def _client_key(client_addr: str | None) -> str:
    return crypto.lookup_hash(client_addr or "unknown", kind="client_addr")


def _check_public_rate(session: Session, key: str, at: datetime) -> None:
    """Refuse (429, Retry-After) the request past PUBLIC_LIMIT in PUBLIC_WINDOW from one address.

    Counted in the database (every API process agrees) under a transaction lock per address, so
    concurrent requests from one address cannot all slip under the limit.
    """
    with lock_waits.waiting("service_request_rate"):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 13))"), {"k": key})
    n, oldest = session.execute(
        text("SELECT n, oldest FROM service_request_recent(:k, :since)"),
        {"k": key, "since": at - PUBLIC_WINDOW},
    ).one()
    if n >= PUBLIC_LIMIT:
        wait = int((oldest + PUBLIC_WINDOW - at).total_seconds()) + 1
        raise RateLimited(
            f"too many service requests from this address ({PUBLIC_LIMIT} an hour without an"
            f" account); try again in {wait} s, or ask your grid worker (网格员)",
            retry_after=wait,
        )


def _protect_phone(phone: str | None) -> tuple[str, str, str] | None:
    """(masked, ciphertext, lookup hash) of an optional mobile number; InvalidInput if bad."""
    if phone is None or not phone.strip():
        return None
    try:
        digits = ids.validate_mobile(phone)
    except InvalidInput as exc:
        raise InvalidInput(f"phone: {exc.detail}") from None
    return (
        masking.mask_phone(digits) or "",
        crypto.encrypt(digits, context=PHONE_CONTEXT),
        crypto.lookup_hash(digits, kind="phone"),
    )


def create_request(
    session: Session,
    me: Principal,
    data: ServiceRequestCreate,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Make a request: validate, place, route, rate-limit (public), insert, log and audit.

    Returns the request as its maker sees it (the public view for an anonymous caller, who keeps
    `public_id`). Raises Forbidden (a role that does not make requests), InvalidInput (unknown
    item, bad point or crs, a point outside a grid worker's cells, no area offers the item),
    OutsideCoverage (404), RateLimited (429).
    """
    if me.role not in queries.FILING_ROLES:
        raise Forbidden(
            f"the role {me.role!r} does not make service requests: a resident makes them (on the"
            " service card, without an account) or their grid worker does for them"
        )
    item = catalogue_item(data.item)
    phone = _protect_phone(data.phone)
    where = locating.locate(session, data.lon, data.lat, parse_crs(data.crs))
    if me.role == Role.grid_worker and not in_scope(me, cell_code=where.cell_code):
        raise InvalidInput(
            f"the point lies in cell {where.cell_code}, outside your cells: grid workers make"
            " requests for residents of their own cells"
        )
    nearest = queries.nearest_offering(session, item, where.lon, where.lat)
    if not nearest:
        raise InvalidInput(f"no service area offers {item.code} ({item.name}) yet")
    area = nearest[0]
    at = now or db_now(session)
    client_key = None
    if me.role == PUBLIC:
        client_key = _client_key(me.client_addr)
        _check_public_rate(session, client_key, at)
    public_id = new_public_id()
    if me.role == PUBLIC:
        queries.allow_public_ids(session, [public_id])
    request_id: int = session.scalar(
        insert(REQUESTS)
        .values(
            public_id=public_id,
            item_code=item.code,
            status=Status.submitted.value,
            description=data.description or None,
            address=data.address or None,
            geom=func.ST_SetSRID(func.ST_MakePoint(where.lon, where.lat), 4326),
            cell_code=where.cell_code,
            community_code=where.community_code,
            release_id=where.release,
            area_id=area["id"],
            area_community_code=area["community_code"],
            area_street_code=area["community_code"][:9],
            distance_m=area["distance_m"],
            requester_name=data.name or None,
            phone_masked=phone[0] if phone else None,
            phone_enc=phone[1] if phone else None,
            phone_hash=phone[2] if phone else None,
            client_key=client_key,
            created_by=me.name,
            created_by_role=me.role,
            created_by_account=me.account_id,
            requested_at=at,
            due_at=at + item.due,
            updated_at=at,
        )
        .returning(r.id)
    )
    _log(session, me, request_id, at, "request", None, Status.submitted, None, area["id"], None, {})
    audit.record(
        session,
        me,
        "service_request.create",
        object_type="service_request",
        object_ids=[request_id],
        detail={"item": item.code, "area_id": area["id"], "distance_m": area["distance_m"]},
    )
    if me.role == PUBLIC:
        return queries.get_public(session, public_id, now=at)
    return queries.get_request(session, me, request_id, now=at)


def _log(
    session: Session,
    me: Principal,
    request_id: int,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status,
    from_area: int | None,
    to_area: int,
    note: str | None,
    data: dict[str, Any],
) -> None:
    session.execute(
        insert(EVENTS).values(
            request_id=request_id,
            at=at,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            from_area_id=from_area,
            to_area_id=to_area,
            actor=me.name[:100],
            actor_role=me.role,
            note=note,
            data={k: v for k, v in data.items() if v is not None},
        )
    )


def transition(
    session: Session,
    me: Principal,
    *,
    request_id: int | None = None,
    public_id: str | None = None,
    req: ServiceTransition,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply one action to a request in the caller's scope (by id), or as the anonymous holder
    of its public id. Returns the request after it (after a handover out of the caller's scope,
    only what the caller may still know: id, status and the new area)."""
    holder = public_id is not None
    if holder:
        me = Principal.anonymous(me.client_addr)
        apply_rls(session, me)  # the holder acts as the requester, whatever else it is
        queries.allow_public_ids(session, [public_id or ""])
        clause = queries.request_filter(me, [public_id or ""]) & (r.public_id == public_id)
        missing = f"no service request {public_id!r}"
    else:
        clause = queries.request_filter(me) & (r.id == request_id)
        missing = f"no service request {request_id}"
    row = session.execute(
        select(
            r.id,
            r.public_id,
            r.item_code,
            r.status,
            r.area_id,
            r.area_community_code,
            r.area_street_code,
            r.created_by_account,
            r.version,
            func.ST_X(r.geom).label("lon"),
            func.ST_Y(r.geom).label("lat"),
        )
        .where(clause)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(missing)
    status = Status(row.status)
    roles = queries.effective_roles(me, row, holds_public_id=holder)
    t = find(req.action, status)
    if t is None or not (t.roles & roles):
        options = allowed(status, roles)
        if t is None:
            problem = f"{req.action!r} is not possible from {status.value!r}"
        else:
            problem = f"{req.action!r} is not yours to do on this request"
        raise InvalidTransition(
            f"{problem}; you may: {', '.join(o.action for o in options) or 'nothing now'}",
            status=status.value,
            allowed=[{"action": o.action, "to": o.to_status.value} for o in options],
        )
    at = now or db_now(session)
    values, data, to_area = _effects(session, t, req, row, at)
    _log(
        session, me, row.id, at, t.action, status, t.to_status, row.area_id, to_area, req.note, data
    )
    if t.action == "hand_over":
        # The row leaves the caller's scope: moved by the database function that checks the
        # caller's staff scope itself (an UPDATE of theirs could not write the moved row).
        moved = session.scalar(
            text("SELECT service_request_hand_over(:id, :area, :at)"),
            {"id": row.id, "area": to_area, "at": at},
        )
        if not moved:  # pragma: no cover - the row is locked and was checked above
            raise NotFound(missing)
    else:
        session.execute(
            update(REQUESTS)
            .where(r.id == row.id)
            .values(status=t.to_status.value, version=r.version + 1, updated_at=at, **values)
        )
    audit.record(
        session,
        me,
        f"service_request.{t.action}",
        object_type="service_request",
        object_ids=[row.id],
        detail={"from": status.value, "to": t.to_status.value, **data},
    )
    if holder:
        return queries.get_public(session, row.public_id, now=at)
    try:
        return queries.get_request(session, me, row.id, now=at)
    except NotFound:  # handed over out of the caller's scope
        return {"id": row.id, "status": t.to_status.value, "area": {"id": to_area}}


def _effects(
    session: Session, t: Transition, req: ServiceTransition, row: Any, at: datetime
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(column values, event data, area after) of one action; InvalidInput for a bad payload."""
    _only(req, t.action)
    match t.action:
        case "accept":
            return {"accepted_at": at}, {}, row.area_id
        case "fulfil":
            return {"fulfilled_at": at}, {}, row.area_id
        case "cancel":
            reason = _reason(req, "cancel")
            return {"cancelled_at": at, "cancel_reason": reason}, {"reason": reason}, row.area_id
        case "rate":
            if req.rating is None:
                raise InvalidInput("rate needs rating: a whole number from 1 to 5")
            values = {"rated_at": at, "rating": req.rating, "rating_comment": req.comment or None}
            return values, {"rating": req.rating}, row.area_id
        case "hand_over":
            reason = _reason(req, "hand_over")
            target = _handover_target(session, req, row)
            return {}, {"reason": reason, "to_area_id": target["id"]}, int(target["id"])
    raise InvalidInput(f"unknown action {t.action!r}")  # pragma: no cover - the table has no other


_FIELDS_OF = {
    "accept": {"note"},
    "fulfil": {"note"},
    "cancel": {"note", "reason"},
    "hand_over": {"note", "reason", "to_area_id"},
    "rate": {"note", "rating", "comment"},
}


def _only(req: ServiceTransition, action: str) -> None:
    given = {k for k, v in req.model_dump(exclude={"action"}).items() if v is not None}
    extra = sorted(given - _FIELDS_OF[action])
    if extra:
        raise InvalidInput(f"{action} does not take {', '.join(extra)}")


def _reason(req: ServiceTransition, action: str) -> str:
    if not req.reason or len(req.reason.strip()) < 2:
        raise InvalidInput(f"{action} needs a reason (2 to 300 characters)")
    return req.reason.strip()


def _handover_target(session: Session, req: ServiceTransition, row: Any) -> dict[str, Any]:
    item = ITEMS[row.item_code]
    if req.to_area_id is None:
        found = queries.nearest_offering(session, item, row.lon, row.lat, exclude=[row.area_id])
        if not found:
            raise InvalidInput(f"no other service area offers {item.code} ({item.name})")
        return found[0]
    if req.to_area_id == row.area_id:
        raise InvalidInput("to_area_id is the area that already serves this request")
    target = queries.area(session, req.to_area_id, item, row.lon, row.lat)
    if not target["offers"]:
        raise InvalidInput(
            f"service area {req.to_area_id} does not offer {item.code} ({item.name});"
            " hand over to one that does (leave to_area_id out for the next nearest)"
        )
    return target


REVEAL_ROLES = frozenset(
    {Role.community_staff, Role.street_staff, Role.centre_staff, Role.grid_worker}
)


def reveal_phone(
    session: Session, me: Principal, request_id: int, *, purpose: str, reason: str
) -> str | None:
    """The requester's full phone number of a request in the caller's scope, to call them back
    (audited as `service_request.reveal`, field `phone`, with the purpose); None when none was
    given. NotFound outside the scope."""
    token = session.execute(
        select(r.phone_enc).where(r.id == request_id, queries.request_filter(me))
    ).first()
    if token is None:
        raise NotFound(f"no service request {request_id}")
    return reveal(
        session,
        me,
        object_type="service_request",
        object_id=request_id,
        field="phone",
        token=token[0],
        context=PHONE_CONTEXT,
        purpose=purpose,
        reason=reason,
        allowed_roles=REVEAL_ROLES,
    )
