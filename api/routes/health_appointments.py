"""免费健康体检 appointments (issue 13): check centres and their free places per day (public),
invitations by the grid worker or staff, booking a day by the invitation code (no account) or
for the resident, attended or missed, and counts per cell or community for staff.
Participation only: never a medical result."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.auth import CurrentUser, MaybeUser, access, public
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.bookings import health
from geo.bookings.schemas import (
    AppointmentCounts,
    AppointmentList,
    AppointmentRead,
    BookingTransition,
    CentresRead,
    HealthInvite,
)
from geo.bookings.workflow import Status
from geo.core.clock import city_date, current_season, db_now
from geo.core.errors import InvalidInput

router = APIRouter(prefix="/api/v1/health-checks", tags=["health-check appointments"])

PEOPLE = (Role.grid_worker, Role.community_staff, Role.street_staff)
# The check centre's desk (centre staff): the appointments booked at it, attended or missed.
DESK = (*PEOPLE, Role.centre_staff)
AppointmentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
InvitationCode = Annotated[
    str, Path(min_length=4, max_length=16, description="the invitation code (TJ…)")
]
Season = Annotated[int | None, Query(ge=2000, le=2100, description="default: the current one")]


def _check_code(code: str) -> None:
    if not (code.isascii() and code.isalnum() and code.startswith("TJ")):
        raise InvalidInput("the invitation code is the one the grid worker gave (TJ…)")


@router.get(
    "/centres",
    summary="Check centres (体检点) and their free places per day",
    **returns(CentresRead),
    **public(),
)
def centres(
    session: SessionDep,
    start: Annotated[date | None, Query(alias="from", description="default today")] = None,
    end: Annotated[date | None, Query(alias="to", description="default 14 days on")] = None,
    street: Annotated[str | None, Query(pattern="^[0-9]{9}$")] = None,
) -> dict[str, Any]:
    first = start or city_date(db_now(session))
    last = end or first + timedelta(days=14)
    if last < first or last - first > timedelta(days=62):
        raise InvalidInput("to must be on or after from, at most 62 days later")
    return {"centres": health.centres(session, since=first, until=last, street=street)}


@router.post(
    "/invitations",
    status_code=201,
    summary="Invite an eligible resident (65+, present this season, in the caller's scope);"
    " answered with the invitation code the resident books with",
    **returns(AppointmentRead),
    **access(*PEOPLE, scope="cell"),
)
def invite(session: SessionDep, me: CurrentUser, body: HealthInvite) -> dict[str, Any]:
    return health.invite(session, me, body.resident_id)


@router.get(
    "/invitations/{invitation_code}",
    summary="An appointment as the resident follows it, by the invitation code",
    **returns(AppointmentRead),
    **public(),
)
def get_invitation(session: SessionDep, invitation_code: InvitationCode) -> dict[str, Any]:
    _check_code(invitation_code)
    return health.get_public(session, invitation_code)


@router.post(
    "/invitations/{invitation_code}/transitions",
    summary="The resident's steps by invitation code: book (centre, day), cancel. A full day:"
    " 409 with other days and centres that have places",
    **returns(AppointmentRead),
    **public(),
)
def invitation_transition(
    session: SessionDep, me: MaybeUser, invitation_code: InvitationCode, body: BookingTransition
) -> dict[str, Any]:
    _check_code(invitation_code)
    return health.transition(session, me, public_id=invitation_code, req=body)


@router.get(
    "/appointments",
    summary="Appointments of the caller's scope in one season, with the resident's name (audited)",
    **returns(AppointmentList),
    **access(*DESK, scope="cell"),
)
def list_appointments(
    session: SessionDep,
    me: CurrentUser,
    season: Season = None,
    status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
    cell: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    return health.list_appointments(
        session,
        me,
        season=season or current_season(),
        status=status or (),
        cell=cell,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/appointment-counts",
    summary="Invited, booked, attended, missed and cancelled per cell or community of the"
    " caller's scope",
    **returns(AppointmentCounts),
    **access(*PEOPLE),
)
def appointment_counts(
    session: SessionDep,
    me: CurrentUser,
    season: Season = None,
    by: Annotated[str, Query(pattern="^(cell|community)$")] = "cell",
) -> dict[str, Any]:
    chosen = season or current_season()
    return {"season": chosen, "by": by, "rows": health.counts(session, me, season=chosen, by=by)}


@router.get(
    "/appointments/{appointment_id}",
    summary="One appointment of the caller's scope, with its timeline",
    **returns(AppointmentRead),
    **access(*DESK, scope="cell"),
)
def get_appointment(
    session: SessionDep, me: CurrentUser, appointment_id: AppointmentId
) -> dict[str, Any]:
    return health.get_appointment(session, me, appointment_id)


@router.post(
    "/appointments/{appointment_id}/transitions",
    summary="book (centre, day) for the resident, cancel, attend, miss; 409 lists what the"
    " caller may do instead",
    **returns(AppointmentRead),
    **access(*DESK, scope="cell"),
)
def transition(
    session: SessionDep, me: CurrentUser, appointment_id: AppointmentId, body: BookingTransition
) -> dict[str, Any]:
    return health.transition(session, me, appointment_id=appointment_id, req=body)
