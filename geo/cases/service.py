"""Filing a case and moving it through the workflow. Keyword-only, session in, never commits.

Every change locks the case row (SELECT ... FOR UPDATE), checks the caller's `If-Match` version
under the lock, checks the action against the one table in geo/cases/workflow.py, then updates the
row (version + 1) and appends one event. Two concurrent changes therefore serialise: the second
sees the first's version and fails with 412 (or, without If-Match, 409 when the status moved on).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo import locate as locating
from geo.access import PUBLIC, Principal, Role, in_scope
from geo.cases import queries
from geo.cases.clock import db_now
from geo.cases.models import (
    Case,
    CaseCategory,
    CaseDepartment,
    CaseEvent,
    CaseSummons,
    ReporterKind,
)
from geo.cases.reporter import protect_phone
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.cases.scope import (
    allow_public_ids,
    case_filter,
    is_reporter,
    matches_department,
    sees_cases,
)
from geo.cases.workflow import (
    GRADING_ROLES,
    REPORTING_ROLES,
    CancelReason,
    Status,
    Tier,
    Transition,
    allowed,
    effective_roles,
    find,
    guard_problem,
    next_tier,
)
from geo.crs import parse_crs
from geo.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
)
from geo.places.models import GridWorkerCell

c = Case.__table__.c
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
_CELL_SCOPED = frozenset({Role.grid_worker, Role.community_staff, Role.street_staff})
_REPORTER_KIND = {
    "public": ReporterKind.public,
    "channel": ReporterKind.channel,
    "grid_worker": ReporterKind.grid_worker,
}


def etag(case_id: int, version: int) -> str:
    """The strong ETag of one version of a case."""
    return f'"case-{case_id}-v{version}"'


def new_public_id() -> str:
    """An unguessable id the public and Open311 use (about 50 bits)."""
    return "HN" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def _place(session: Session, data: CaseCreate) -> tuple[locating.Location, str | None]:
    if data.lon is not None or data.lat is not None:
        if data.lon is None or data.lat is None:
            raise InvalidInput("give both lon and lat (and crs when not wgs84)")
        return locating.locate(session, data.lon, data.lat, parse_crs(data.crs)), data.address
    if not data.address:
        raise InvalidInput("a case needs a location: lon and lat (with crs), or an address")
    from geo.addresses.geocode import geocode_address

    match = geocode_address(session, data.address)
    if match.lon is None or match.lat is None or match.cell_code is None:
        raise InvalidInput(
            f"could not place the address {data.address!r} in a grid cell ({match.note});"
            " give a point (lon, lat, crs) instead",
            candidates=[c.address for c in match.candidates],
        )
    return locating.locate(session, match.lon, match.lat), data.address


def create_case(
    session: Session,
    principal: Principal,
    data: CaseCreate,
    *,
    now: datetime | None = None,
    read_back: bool = True,
) -> dict[str, Any]:
    """File a case: place it in its cell, start its clock, log `report`, offer duplicates.

    Returns {"case": Feature, "possible_duplicates": [...]} (duplicates only among the cases the
    caller may see). Raises Forbidden for roles that may not file, InvalidInput for a bad body,
    OutsideCoverage (404) for a point outside every cell.
    """
    role = principal.role
    if role not in REPORTING_ROLES:
        raise Forbidden(f"the role {role!r} may not file cases")
    category = session.get(CaseCategory, data.category)
    if category is None or not category.active:
        codes = session.scalars(
            select(CaseCategory.code).where(CaseCategory.active).order_by(CaseCategory.sort_order)
        ).all()
        raise InvalidInput(f"unknown category {data.category!r}; one of: {', '.join(codes)}")
    if data.grade is not None and role not in GRADING_ROLES:
        raise InvalidInput("grade is set by staff when they accept the case; leave it out")
    reporter = data.reporter
    phone = protect_phone(reporter.phone if reporter else None)
    location, address = _place(session, data)
    if role in _CELL_SCOPED and not in_scope(principal, cell_code=location.cell_code):
        raise InvalidInput(
            f"the point lies in cell {location.cell_code}, outside your scope: staff file cases"
            " in their own area; elsewhere the dispatcher (指挥中心) files them"
        )
    at = now or db_now(session)
    public_id = new_public_id()
    if role == PUBLIC:
        allow_public_ids(session, [public_id])  # RLS: the public sees only ids it holds
    kind = _REPORTER_KIND.get(role, ReporterKind.resident if reporter else ReporterKind.staff)
    case_id = session.scalar(
        insert(Case)
        .values(
            public_id=public_id,
            category_code=category.code,
            grade=(data.grade or category.default_grade).value,
            status=Status.reported.value,
            tier=Tier.grid.value,
            description=data.description,
            address=address,
            geom=func.ST_SetSRID(func.ST_MakePoint(location.lon, location.lat), 4326),
            cell_code=location.cell_code,
            community_code=location.community_code,
            street_code=location.street_code,
            district_code=location.district_code,
            release_id=location.release,
            reporter_kind=kind.value,
            channel=principal.channel if role == Role.channel else None,
            reporter_name=reporter.name if reporter else None,
            reporter_phone_masked=phone.masked if phone else None,
            reporter_phone_enc=phone.ciphertext if phone else None,
            reporter_phone_hash=phone.lookup_hash if phone else None,
            resident_id=reporter.resident_id if reporter else None,
            created_by=principal.name,
            created_by_account=principal.account_id,
            created_by_role=role,
            reported_at=at,
            updated_at=at,
        )
        .returning(c.id)
    )
    _log(
        session,
        case_id,
        principal,
        at,
        "report",
        None,
        Status.reported,
        None,
        Tier.grid,
        note=None,
        data=_attachments(data.attachments),
    )
    if not read_back:  # bulk loads: skip the read of the new case and its duplicates
        return {"id": case_id, "public_id": public_id}
    duplicates = (
        queries.possible_duplicates(session, principal, case_id) if sees_cases(principal) else []
    )
    return {"case": _read_own(session, principal, case_id, at), "possible_duplicates": duplicates}


def _read_own(session: Session, principal: Principal, case_id: int, at: datetime) -> dict[str, Any]:
    """The case as its filer sees it; a filer outside the scope (public) gets the public view."""
    try:
        return queries.get_case(session, principal, case_id, now=at)
    except NotFound:
        from geo.cases.open311 import public_view

        return public_view(session, case_id)


def transition(
    session: Session,
    principal: Principal,
    case_id: int,
    req: TransitionRequest,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
    read_back: bool = True,
) -> dict[str, Any]:
    """Apply one workflow action; returns the case Feature after it (with `read_back=False`,
    for bulk loads, only {"id", "version"}).

    Raises NotFound (out of scope), PreconditionFailed (stale `expected_version`), InvalidTransition
    (not in the table for this status and the caller's roles, or a guard fails; `allowed` lists
    what the caller may do), InvalidInput (the action's payload is missing or wrong).
    """
    row = session.execute(
        select(c.id, c.status, c.tier, c.version, c.created_by_account, c.cell_code)
        .where(c.id == case_id, case_filter(principal))
        .with_for_update(of=Case.__table__)
    ).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    if expected_version is not None and row.version != expected_version:
        raise PreconditionFailed(
            f"case {case_id} has changed: you sent version {expected_version}, it is now at"
            f" version {row.version}; fetch it again",
            etag=etag(case_id, row.version),
        )
    status, tier = Status(row.status), Tier(row.tier)
    summons = queries.summons_of(session, case_id)
    pending, own = queries.summons_state(summons, principal)
    roles = effective_roles(
        principal.role, tier=tier, is_reporter=is_reporter(principal, row.created_by_account)
    )
    t = find(req.action, status)
    problem = None
    if t is None or not (t.roles & roles):
        problem = f"{req.action!r} is not allowed from {status.value!r} for role {principal.role!r}"
    else:
        problem = guard_problem(t, tier=tier, pending_summons=pending, own_summons=own)
    if problem is not None or t is None:
        options = allowed(status, roles, tier=tier, pending_summons=pending, own_summons=own)
        raise InvalidTransition(
            problem or "not allowed",
            status=status.value,
            tier=tier.value,
            allowed=[{"action": o.action, "to": o.to_status.value} for o in options],
            allowed_next_states=sorted({o.to_status.value for o in options}),
        )
    at = now or db_now(session)
    values, data, to_tier = _effects(session, principal, t, req, row, summons, at)
    session.execute(
        update(Case)
        .where(c.id == case_id)
        .values(status=t.to_status.value, version=c.version + 1, updated_at=at, **values)
    )
    _log(
        session,
        case_id,
        principal,
        at,
        t.action,
        status,
        t.to_status,
        tier,
        to_tier,
        note=req.note,
        data={**data, **_attachments(req.attachments)},
    )
    if not read_back:
        return {"id": case_id, "version": row.version + 1}
    return queries.get_case(session, principal, case_id, now=at)


def _effects(
    session: Session,
    principal: Principal,
    t: Transition,
    req: TransitionRequest,
    row: Any,
    summons: list[dict[str, Any]],
    at: datetime,
) -> tuple[dict[str, Any], dict[str, Any], Tier]:
    """(column values, event data, tier after) of one action; side rows are written here."""
    tier = Tier(row.tier)
    match t.action:
        case "accept":
            values: dict[str, Any] = {"responded_at": at}
            if req.grade is not None:
                values["grade"] = req.grade.value  # the trigger recomputes the deadlines
            return values, {"grade": req.grade.value} if req.grade else {}, tier
        case "cancel":
            return (
                _cancel(session, principal, req, row, at),
                {
                    "reason": req.reason.value if req.reason else None,
                    "duplicate_of": req.duplicate_of,
                },
                tier,
            )
        case "dispatch":
            values = {"dispatched_at": at}
            if tier == Tier.grid:
                values["assigned_worker_id"] = _grid_worker(session, row.cell_code, req.worker_id)
            elif req.worker_id is not None:
                raise InvalidInput("worker_id applies only at the grid tier")
            return values, {"worker_id": values.get("assigned_worker_id")}, tier
        case "start":
            return {"started_at": func.coalesce(c.started_at, at)}, {}, tier
        case "escalate":
            up = next_tier(tier)
            assert up is not None  # guarded in workflow.guard_problem
            values = {
                "tier": up.value,
                "escalated_at": at,
                "dispatched_at": func.coalesce(c.dispatched_at, at),
            }
            return values, {}, up
        case "summon":
            return {}, {"departments": _summon(session, principal, req, row.id, at)}, tier
        case "acknowledge" | "report_back":
            return {}, _department_step(session, principal, t.action, req, summons, at), tier
        case "give_feedback":
            if not req.note:
                raise InvalidInput(
                    "give_feedback needs a note: the result reported to the reporter"
                )
            return {"resolved_at": at}, {}, tier
        case "confirm":
            if req.solved is None or req.satisfaction is None:
                raise InvalidInput("confirm needs solved (true/false) and satisfaction (1-5)")
            values = {"confirmed_at": at, "solved": req.solved, "satisfaction": req.satisfaction}
            return values, {"solved": req.solved, "satisfaction": req.satisfaction}, tier
        case "reopen":
            if not req.note:
                raise InvalidInput("reopen needs a note: why the reporter is not satisfied")
            # The clock is NOT restarted: reported_at and due_at stay; only the stop is undone.
            values = {"resolved_at": None, "reopen_count": c.reopen_count + 1}
            return values, {"solved": req.solved, "satisfaction": req.satisfaction}, tier
        case "close":
            return {"closed_at": at}, {}, tier
    raise AssertionError(f"transition {t.action!r} has no effects defined")  # pragma: no cover


def _cancel(
    session: Session, principal: Principal, req: TransitionRequest, row: Any, at: datetime
) -> dict[str, Any]:
    if req.reason is None:
        raise InvalidInput("cancel needs a reason: duplicate or invalid")
    values: dict[str, Any] = {
        "cancel_reason": req.reason.value,
        "cancelled_at": at,
        "responded_at": func.coalesce(c.responded_at, at),
    }
    if req.reason == CancelReason.invalid:
        if req.duplicate_of is not None:
            raise InvalidInput("duplicate_of goes with reason 'duplicate'")
        if not req.note:
            raise InvalidInput("cancelling as invalid needs a note saying why")
        return values
    if req.duplicate_of is None or req.duplicate_of == row.id:
        raise InvalidInput("reason 'duplicate' needs duplicate_of: the id of another case")
    primary = session.execute(
        select(c.id, c.status, c.tier)
        .where(c.id == req.duplicate_of, case_filter(principal))
        .with_for_update(of=Case.__table__)
    ).first()
    if primary is None:
        raise NotFound(f"no case {req.duplicate_of}")
    if Status(primary.status) == Status.cancelled:
        raise InvalidInput(f"case {primary.id} is itself cancelled; link to the case it duplicates")
    # Linking keeps both reporters informed: the primary's timeline records the duplicate, and
    # the duplicate's public status (Open311) follows the primary's.
    _log(
        session,
        primary.id,
        principal,
        at,
        "link_duplicate",
        None,
        None,
        None,
        None,
        note=req.note,
        data={"duplicate": row.id},
    )
    session.execute(
        update(Case).where(c.id == primary.id).values(version=c.version + 1, updated_at=at)
    )
    values["duplicate_of"] = primary.id
    return values


def _grid_worker(session: Session, cell_code: str, worker_id: int | None) -> int:
    wc = GridWorkerCell.__table__.c
    workers = session.scalars(
        select(wc.worker_id).where(wc.cell_code == cell_code).order_by(wc.worker_id)
    ).all()
    if worker_id is None:
        if not workers:
            raise InvalidInput(f"cell {cell_code} has no grid worker; escalate to the community")
        return workers[0]
    if worker_id not in workers:
        raise InvalidInput(f"grid worker {worker_id} does not work cell {cell_code}")
    return worker_id


def _summon(
    session: Session, principal: Principal, req: TransitionRequest, case_id: int, at: datetime
) -> list[str]:
    codes = sorted(set(req.departments or ()))
    if not codes:
        raise InvalidInput("summon needs departments: one or more department codes")
    d = CaseDepartment.__table__.c
    found = session.execute(
        select(d.code, d.ack_limit, d.report_limit).where(d.code.in_(codes), d.active)
    ).all()
    unknown = set(codes) - {r.code for r in found}
    if unknown:
        raise InvalidInput(f"unknown department(s): {', '.join(sorted(unknown))}")
    s = CaseSummons.__table__.c
    already = session.scalars(
        select(s.department_code).where(
            s.case_id == case_id, s.department_code.in_(codes), s.reported_at.is_(None)
        )
    ).all()
    if already:
        raise InvalidInput(f"already summoned and not yet reported back: {', '.join(already)}")
    session.execute(
        insert(CaseSummons),
        [
            {
                "case_id": case_id,
                "department_code": r.code,
                "summoned_by": principal.name,
                "summoned_at": at,
                "ack_due_at": at + r.ack_limit,
                "report_due_at": at + r.report_limit,
            }
            for r in found
        ],
    )
    return codes


def _department_step(
    session: Session,
    principal: Principal,
    action: str,
    req: TransitionRequest,
    summons: list[dict[str, Any]],
    at: datetime,
) -> dict[str, Any]:
    """报到 or report back on the caller's department's open summons (the guard checked it)."""
    own = next(x for x in summons if x["state"] != "reported" and matches_department(principal, x))
    if action == "acknowledge":
        values: dict[str, Any] = {"acknowledged_at": at}
    else:
        if not req.report:
            raise InvalidInput("report_back needs report: what the department did")
        values = {"reported_at": at, "report": req.report}
    session.execute(
        update(CaseSummons).where(CaseSummons.__table__.c.id == own["id"]).values(**values)
    )
    return {"department": own["department_code"]}


def _attachments(items: list[Any]) -> dict[str, Any]:
    return {"attachments": [a.model_dump(exclude_none=True) for a in items]} if items else {}


def _log(
    session: Session,
    case_id: int,
    principal: Principal,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status | None,
    from_tier: Tier | None,
    to_tier: Tier | None,
    *,
    note: str | None,
    data: dict[str, Any],
) -> None:
    session.execute(
        insert(CaseEvent).values(
            case_id=case_id,
            at=at,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            from_tier=from_tier.value if from_tier else None,
            to_tier=to_tier.value if to_tier else None,
            actor=principal.name,
            actor_role=principal.role,
            note=note,
            data={k: v for k, v in data.items() if v is not None},
        )
    )
