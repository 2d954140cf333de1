"""Planners' figures over HTTP: residents present (kept current from stays), weekly flows, peaks
and next season's forecast; aggregates only, small counts suppressed (geo/planning)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.params import WindowParam
from geo.access.principal import Role
from geo.core import clock
from geo.planning import coverage as walking_coverage
from geo.planning import forecast as forecasts
from geo.planning import hotspots as hot_spots
from geo.planning import presence as figures
from geo.planning import sites as candidate_sites
from geo.planning.schemas import (
    CandidateSitesRead,
    CoverageRead,
    FlowsRead,
    ForecastRead,
    HotspotsRead,
    PeaksRead,
    PresenceRead,
)

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])
LevelParam = Annotated[
    str, Query(description="cell | community | street | district | city", max_length=20)
]
SeasonParam = Annotated[int | None, Query(ge=2000, le=2100, description="default: the current")]


@router.get(
    "/presence",
    summary="Residents present per area in one window, with the year before (suppressed)",
    response_model=PresenceRead,
    **access(Role.planner),
)
def presence(
    session: SessionDep, me: CurrentUser, window: WindowParam, level: LevelParam = "community"
) -> dict[str, Any]:
    return figures.presence(session, me, window, figures.level_of(level))


@router.get(
    "/presence/flows",
    summary="Arrivals and departures per week and community, and the city's (suppressed)",
    response_model=FlowsRead,
    **access(Role.planner),
)
def flows(session: SessionDep, me: CurrentUser, season: SeasonParam = None) -> dict[str, Any]:
    return figures.flows(session, me, clock.current_season() if season is None else season)


@router.get(
    "/presence/peaks",
    summary="Peak day and peak month per community of a season (suppressed)",
    response_model=PeaksRead,
    **access(Role.planner),
)
def peaks(session: SessionDep, me: CurrentUser, season: SeasonParam = None) -> dict[str, Any]:
    return figures.peaks(session, me, clock.current_season() if season is None else season)


@router.get(
    "/forecast",
    summary="Next season's residents per area and month with an 80% interval (suppressed)",
    response_model=ForecastRead,
    **access(Role.planner),
)
def forecast(
    session: SessionDep,
    me: CurrentUser,
    level: LevelParam = "community",
    season: Annotated[int | None, Query(ge=2000, le=2100, description="default: the next")] = None,
) -> dict[str, Any]:
    return forecasts.forecast(session, me, figures.level_of(level), season)


@router.get(
    "/coverage",
    summary="Walking coverage of service areas and health checks, gaps for 65+ (suppressed)",
    response_model=CoverageRead,
    **access(Role.planner),
)
def coverage(
    session: SessionDep,
    me: CurrentUser,
    window: WindowParam,
    item: Annotated[
        str | None, Query(max_length=60, description="catalogue item 'category:item'")
    ] = None,
    speed_kmh: Annotated[
        float | None, Query(gt=1, le=7, description="walking speed (default 4.5 km/h)")
    ] = None,
) -> dict[str, Any]:
    return walking_coverage.coverage(session, me, window, item, speed_kmh)


@router.get(
    "/coverage/sites",
    summary="Candidate new service areas covering the most 65+ beyond 15 minutes (MCLP)",
    response_model=CandidateSitesRead,
    **access(Role.planner),
)
def sites(
    session: SessionDep,
    me: CurrentUser,
    window: WindowParam,
    item: Annotated[
        str | None, Query(max_length=60, description="catalogue item 'category:item'")
    ] = None,
    new_sites: Annotated[int, Query(ge=1, le=20, description="how many new sites")] = 5,
    speed_kmh: Annotated[
        float | None, Query(gt=1, le=7, description="walking speed (default 4.5 km/h)")
    ] = None,
) -> dict[str, Any]:
    return candidate_sites.candidate_sites(session, me, window, item, new_sites, speed_kmh)


@router.get(
    "/hotspots",
    summary="Hot and cold spots of cases per cell (Getis-Ord Gi*, permutations, FDR 0.05)",
    response_model=HotspotsRead,
    **access(Role.planner, Role.dispatcher, Role.street_staff, Role.community_staff),
)
def hotspots(
    session: SessionDep,
    me: CurrentUser,
    window: WindowParam,
    category: Annotated[
        str | None, Query(max_length=30, description="a case category code, e.g. medical")
    ] = None,
    permutations: Annotated[
        int, Query(ge=99, le=99999, description="conditional permutations (default 9999)")
    ] = hot_spots.PERMUTATIONS,
) -> dict[str, Any]:
    return hot_spots.hotspots(session, me, window, category, permutations)
