"""Designated contacts and regular contact (专人对接、常态互动、党员联人头, issue 13): each
household present in a cell has a designated contact (the grid worker, or a party member or
volunteer of the grid assigned by the community); contacts are logged as a visit, call or
message; residents present and not contacted for `days` days (14 by default) are listed for
their contact and counted per cell. Grid workers their cells, community and street staff theirs;
404 outside."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.community.contacts import queries, service
from geo.community.contacts.models import ContactKind
from geo.community.contacts.schemas import (
    DEFAULT_DAYS,
    AssignmentCreate,
    AssignmentList,
    AssignmentRead,
    ContactCreate,
    ContactList,
    DefaultAssignments,
    OverdueCounts,
    OverdueList,
)
from geo.core.errors import NotFound

router = APIRouter(prefix="/api/v1/contacts", tags=["designated contacts"])
STAFF = (Role.community_staff, Role.street_staff)
READERS = (Role.grid_worker, *STAFF)
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Cell = Annotated[str | None, Query(max_length=15, pattern=r"^[0-9]{15}$")]
Days = Annotated[
    int, Query(ge=1, le=queries.MAX_DAYS, description="not contacted for this many days")
]
Obj = dict[str, object]


@router.post(
    "/assignments",
    status_code=201,
    summary="Make a grid worker of the cell, or a party member / volunteer of its grid, the"
    " designated contact of a resident's household (ends the one before)",
    **returns(AssignmentRead),
    **access(*STAFF, scope="cell"),
)
def assign(session: SessionDep, me: CurrentUser, body: AssignmentCreate) -> Obj:
    assignment_id = service.assign(session, me, body)
    found = [
        a
        for a in queries.list_assignments(session, me, limit=500)["assignments"]
        if a["id"] == assignment_id
    ]
    if not found:  # pragma: no cover - written in this transaction, in scope
        raise NotFound(f"no assignment {assignment_id}")
    return found[0]


@router.post(
    "/cells/{code}/default-assignments",
    summary="The cell's grid worker as the contact of every household present without one",
    **returns(DefaultAssignments),
    **access(*STAFF, scope="cell"),
)
def assign_defaults(
    session: SessionDep,
    me: CurrentUser,
    code: Annotated[str, Path(max_length=15, pattern=r"^[0-9]{15}$")],
) -> Obj:
    return service.assign_defaults(session, me, code)


@router.get(
    "/assignments",
    summary="Live assignments in scope: household, contact (phone: work phone or masked),"
    " residents present; audited",
    **returns(AssignmentList),
    **access(*READERS, scope="cell"),
)
def list_assignments(
    session: SessionDep, me: CurrentUser, cell: Cell = None, limit: Limit = 200, offset: Offset = 0
) -> Obj:
    return queries.list_assignments(session, me, cell=cell, limit=limit, offset=offset)


@router.post(
    "/logs",
    status_code=201,
    summary="Log a visit, call or message (a short note, no medical content) to a resident"
    " present, or to their whole household",
    **returns(ContactList),
    **access(*READERS, scope="cell"),
)
def log_contact(session: SessionDep, me: CurrentUser, body: ContactCreate) -> Obj:
    ids = service.log_contact(session, me, body)
    rows = queries.contacts_by_id(session, me, ids)
    return {"total": len(rows), "contacts": rows}


@router.get(
    "/logs",
    summary="The contact log in scope, newest first (audited)",
    **returns(ContactList),
    **access(*READERS, scope="cell"),
)
def list_contacts(
    session: SessionDep,
    me: CurrentUser,
    resident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cell: Cell = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Obj:
    return queries.list_contacts(
        session, me, resident_id=resident_id, cell=cell, limit=limit, offset=offset
    )


@router.get(
    "/overdue",
    summary="Residents present and not contacted for `days` days (14), longest first, with their"
    " designated contact and counts per contact; narrow to one contact with contact_kind and"
    " contact_id",
    **returns(OverdueList),
    **access(*READERS, scope="cell"),
)
def overdue(
    session: SessionDep,
    me: CurrentUser,
    days: Days = DEFAULT_DAYS,
    cell: Cell = None,
    contact_kind: ContactKind | None = None,
    contact_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> Obj:
    return queries.overdue(
        session,
        me,
        days=days,
        cell=cell,
        contact_kind=contact_kind,
        contact_id=contact_id,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/overdue/counts",
    summary="Per cell in scope: residents present, with a designated contact, overdue, never"
    " contacted",
    **returns(OverdueCounts),
    **access(*READERS, scope="cell"),
)
def overdue_counts(session: SessionDep, me: CurrentUser, days: Days = DEFAULT_DAYS) -> Obj:
    return queries.overdue_counts(session, me, days=days)
