"""Planners' figures of community services over HTTP (issue 13): service requests per community,
category and item, bookings and visits of the activity spaces per space and day, health-check
participation per community. Aggregates only, one fixed window, small counts suppressed
(geo/planning/service_figures.py); planners only, every other role 403."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.params import WindowParam
from geo.access.principal import Role
from geo.planning import service_figures as figures
from geo.planning.schemas_services import (
    HealthParticipationRead,
    RequestFiguresRead,
    VisitFiguresRead,
)

router = APIRouter(prefix="/api/v1/planning/services", tags=["planning"])


@router.get(
    "/requests",
    summary="Service requests per community and category, and per item city-wide: count,"
    " fulfilled share, median hours to fulfil, mean rating (suppressed)",
    response_model=RequestFiguresRead,
    **access(Role.planner),
)
def requests(session: SessionDep, me: CurrentUser, window: WindowParam) -> dict[str, Any]:
    return figures.requests(session, me, window)


@router.get(
    "/visits",
    summary="Bookings and visits of the activity spaces per space and day (a month) or month"
    " (a season), with the mean visits a day (suppressed)",
    response_model=VisitFiguresRead,
    **access(Role.planner),
)
def visits(session: SessionDep, me: CurrentUser, window: WindowParam) -> dict[str, Any]:
    return figures.visits(session, me, window)


@router.get(
    "/health-checks",
    summary="Health-check participation (65+) per community of a season: invited, booked,"
    " attended, missed (suppressed; never a result)",
    response_model=HealthParticipationRead,
    **access(Role.planner),
)
def health_checks(session: SessionDep, me: CurrentUser, window: WindowParam) -> dict[str, Any]:
    return figures.health_checks(session, me, window)
