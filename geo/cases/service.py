"""Filing a case and moving it through the workflow. Keyword-only, session in, never commits.

Every change locks the case row (SELECT ... FOR UPDATE, the summons read in the same query),
checks the caller's `If-Match` version under the lock, checks the action against the one table in
geo/cases/workflow.py, applies the action's effects (geo/cases/effects.py), then updates the row
(version + 1) and appends one event (geo/cases/events.py) in one statement. Two concurrent
changes therefore serialise: the second sees the first's version and fails with 412 (or, without
If-Match, 409 when the status moved on).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, Role, in_scope
from geo.cases import effects, events, queries
from geo.cases.models import (
    CASES,
    Case,
    CaseCategory,
    ReporterKind,
)
from geo.cases.reporter import PHONE_CONTEXT, protect_phone
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.cases.scope import (
    allow_public_ids,
    case_filter,
    is_reporter,
    sees_cases,
)
from geo.cases.workflow import (
    GRADING_ROLES,
    REPORTING_ROLES,
    Status,
    Tier,
    allowed,
    effective_roles,
    find,
    guard_problem,
)
from geo.core.clock import db_now
from geo.core.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
)
from geo.privacy.reveal import reveal
from geo.residents import service as residents
from geo.spatial import locate as locating
from geo.spatial.addresses.geocode import geocode_address
from geo.spatial.crs import parse_crs

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


# Who may see a reporter's full phone number (to call back), with a purpose; always audited.
REVEAL_ROLES = frozenset(
    {Role.dispatcher, Role.street_staff, Role.community_staff, Role.grid_worker, Role.department}
)


def reveal_reporter_phone(
    session: Session, principal: Principal, case_id: int, *, purpose: str, reason: str
) -> str | None:
    """The reporter's full phone number of a case in the caller's scope (audited as
    `case.reveal`, field `reporter_phone`, with the purpose); None when none was given."""
    token = session.execute(
        select(c.reporter_phone_enc).where(c.id == case_id, case_filter(principal))
    ).first()
    if token is None:
        raise NotFound(f"no case {case_id}")
    return reveal(
        session,
        principal,
        object_type="case",
        object_id=case_id,
        field="reporter_phone",
        token=token[0],
        context=PHONE_CONTEXT,
        purpose=purpose,
        reason=reason,
        allowed_roles=REVEAL_ROLES,
    )


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
    match = geocode_address(session, data.address)
    if match.lon is None or match.lat is None or match.cell_code is None:
        raise InvalidInput(
            f"could not place the address {data.address!r} in a grid cell ({match.note});"
            " give a point (lon, lat, crs) instead",
            candidates=[m.address for m in match.candidates],
        )
    return locating.locate(session, match.lon, match.lat), data.address


def _linkable_resident(
    session: Session, principal: Principal, resident_id: int | None
) -> int | None:
    """The reporter's archive, if the caller may see it. An id outside the caller's scope (or
    any id, for roles that see no archives) is answered exactly like an unknown one, so a filer
    can neither link a stranger's archive nor learn which ids exist."""
    if resident_id is None:
        return None
    try:
        return residents.get_resident_row(session, principal, resident_id).id
    except (NotFound, Forbidden):
        raise InvalidInput(
            f"reporter.resident_id: no resident {resident_id} among the archives you can see"
        ) from None


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
    resident_id = _linkable_resident(session, principal, reporter.resident_id if reporter else None)
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
    filing = (
        insert(CASES)
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
            resident_id=resident_id,
            created_by=principal.name,
            created_by_account=principal.account_id,
            created_by_role=role,
            reported_at=at,
            updated_at=at,
        )
        .returning(c.id)
    )
    report = events.event(
        principal,
        at,
        "report",
        None,
        Status.reported,
        None,
        Tier.grid,
        note=None,
        data=events.attachments(data.attachments),
    )
    # Two statements here: the event's RLS check must see the new case, which a CTE would not.
    case_id = session.scalar(filing)
    events.log(session, case_id, report)
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
        select(
            c.id,
            c.status,
            c.tier,
            c.version,
            c.created_by_account,
            c.cell_code,
            queries.summons_column().label("summons"),
        )
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
    summons = queries.with_state(row.summons)
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
    values, data, to_tier = effects.effects(session, principal, t, req, row, summons, at)
    change = (
        update(CASES)
        .where(c.id == case_id)
        .values(status=t.to_status.value, version=c.version + 1, updated_at=at, **values)
        .returning(c.id)
    )
    event = events.event(
        principal,
        at,
        t.action,
        status,
        t.to_status,
        tier,
        to_tier,
        note=req.note,
        data={**data, **events.attachments(req.attachments)},
    )
    events.write_and_log(session, change, event)
    if not read_back:
        return {"id": case_id, "version": row.version + 1}
    return queries.get_case(session, principal, case_id, now=at)
