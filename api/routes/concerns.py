"""The concern log (民情记录本) and the 65+ health checks (免费健康体检) over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.core import clock
from geo.residents import concerns, health_checks
from geo.residents.schemas import (
    ConcernCase,
    ConcernCreate,
    ConcernPage,
    ConcernRead,
    ConcernToCase,
    ConcernUpdate,
    HealthCheckList,
    HealthCheckSet,
    HealthCheckUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["concern log", "health checks"])
PERSONS = (Role.grid_worker, Role.community_staff, Role.street_staff)


@router.get(
    "/concerns",
    summary="Concern-log entries in the caller's cells",
    **returns(ConcernPage),
    **access(*PERSONS),
)
def list_concerns(
    session: SessionDep,
    me: CurrentUser,
    status: Annotated[str | None, Query(description="open, following, resolved, case")] = None,
    category: Annotated[str | None, Query()] = None,
    cell: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    resident_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return concerns.list_entries(
        session,
        me,
        status=status,
        category=category,
        cell=cell,
        resident_id=resident_id,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/concerns",
    summary="Write a concern-log entry (on a resident or a place)",
    **returns(ConcernRead),
    status_code=201,
    **access(*PERSONS),
)
def create_concern(session: SessionDep, me: CurrentUser, body: ConcernCreate) -> dict[str, Any]:
    return concerns.create(session, me, body)


@router.get(
    "/concerns/{entry_id}",
    summary="One concern-log entry",
    **returns(ConcernRead),
    **access(*PERSONS, scope="cell"),
)
def get_concern(session: SessionDep, me: CurrentUser, entry_id: int) -> dict[str, Any]:
    return concerns.get(session, me, entry_id)


@router.patch(
    "/concerns/{entry_id}",
    summary="Follow up an entry (open -> following -> resolved)",
    **returns(ConcernRead),
    **access(*PERSONS, scope="cell"),
)
def update_concern(
    session: SessionDep, me: CurrentUser, entry_id: int, body: ConcernUpdate
) -> dict[str, Any]:
    return concerns.update_entry(session, me, entry_id, body)


@router.post(
    "/concerns/{entry_id}/case",
    summary="Turn an entry into a case (48-hour loop)",
    **returns(ConcernCase),
    status_code=201,
    **access(*PERSONS, scope="cell"),
)
def concern_to_case(
    session: SessionDep, me: CurrentUser, entry_id: int, body: ConcernToCase
) -> dict[str, Any]:
    return concerns.to_case(session, me, entry_id, body)


@router.get(
    "/health-checks",
    summary="65+ health check: eligible residents this season and their participation",
    **returns(HealthCheckList),
    **access(*PERSONS),
)
def list_health_checks(
    session: SessionDep,
    me: CurrentUser,
    season: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    cell: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
) -> dict[str, Any]:
    return health_checks.eligible(session, me, season=season or clock.current_season(), cell=cell)


@router.put(
    "/health-checks/{resident_id}/{season}",
    summary="Record participation: invited, booked, done, declined (no results)",
    **returns(HealthCheckSet),
    **access(*PERSONS, scope="cell"),
)
def set_health_check(
    session: SessionDep, me: CurrentUser, resident_id: int, season: int, body: HealthCheckUpdate
) -> dict[str, Any]:
    return health_checks.set_status(session, me, resident_id, season, body)
