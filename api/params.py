"""One small validator per query parameter; each raises a domain error with a clear message."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Query, Request

from geo.cases.queue import QueueFilters
from geo.cases.workflow import Tier
from geo.core.errors import InvalidInput
from geo.privacy import windows
from geo.spatial.crs import ACCEPTED, Crs, parse_crs


async def crs_query(  # async: pure, so FastAPI calls it on the loop, not in a thread
    crs: Annotated[
        str | None, Query(description=f"coordinate system of lon/lat: {ACCEPTED}")
    ] = None,
) -> Crs:
    return parse_crs(crs)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value}")
    return value


def bbox_query(
    bbox: Annotated[
        str | None,
        Query(
            description="minLon,minLat,maxLon,maxLat in WGS84", examples=["128.8,47.6,129.1,47.8"]
        ),
    ] = None,
) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        x0, y0, x1, y1 = (_finite("bbox", float(v)) for v in bbox.split(","))
    except ValueError:
        raise InvalidInput("bbox must be four numbers: minLon,minLat,maxLon,maxLat") from None
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise InvalidInput("bbox is out of range: lon in [-180, 180], lat in [-90, 90] (WGS84)")
    if x0 > x1 or y0 > y1:
        raise InvalidInput("bbox must be minLon,minLat,maxLon,maxLat with min <= max")
    return x0, y0, x1, y1


def named_window_query(
    month: Annotated[
        str | None, Query(description="one month, YYYY-MM", examples=["2025-07"])
    ] = None,
    season: Annotated[
        int | None,
        Query(description="one season by its year: 1 May to 30 April; default the current one"),
    ] = None,
    season_from: Annotated[int | None, Query(include_in_schema=False)] = None,
    season_to: Annotated[int | None, Query(include_in_schema=False)] = None,
) -> windows.Window | None:
    """The fixed window named, None if none is; ranges (which overlap) are refused by name."""
    if season_from is not None or season_to is not None:
        raise InvalidInput(f"ranges of seasons are not published: {windows.HINT}")
    if month is None and season is None:
        return None
    return windows.window(month=month, season=season)


def window_query(
    named: Annotated[windows.Window | None, Depends(named_window_query)],
) -> windows.Window:
    """A fixed window of published aggregates, the current season if none is named."""
    return windows.current() if named is None else named


def case_filters_query(
    tier: Annotated[str | None, Query(max_length=20, description="grid, community, street")] = None,
    category: Annotated[str | None, Query(max_length=30)] = None,
    street: Annotated[str | None, Query(max_length=9, description="9-digit street code")] = None,
    clock: Annotated[
        str | None, Query(max_length=20, description="overdue, due_soon, on_track, met, missed")
    ] = None,
) -> QueueFilters:
    """The console's filter bar (also the zoomed-out map's clusters); an empty select ("全部") is
    no filter."""
    if tier and tier not in {t.value for t in Tier}:
        raise InvalidInput(f"unknown tier {tier!r}; one of: grid, community, street")
    return QueueFilters(
        tier=Tier(tier) if tier else None,
        category=category or None,
        street=street or None,
        clock_state=clock or None,
    )


CrsParam = Annotated[Crs, Depends(crs_query)]
WindowParam = Annotated[windows.Window, Depends(window_query)]
NamedWindowParam = Annotated[windows.Window | None, Depends(named_window_query)]
BboxParam = Annotated[tuple[float, float, float, float] | None, Depends(bbox_query)]
CaseFiltersParam = Annotated[QueueFilters, Depends(case_filters_query)]
Lon = Annotated[float, Query(description="longitude, in the named crs", examples=[128.905])]
Lat = Annotated[float, Query(description="latitude, in the named crs", examples=[47.728])]


# --- parsed by hand, for a hot route -------------------------------------------------------------
# FastAPI's parameter solving costs about 40 % of a request answered from memory (measured on
# /api/v1/locate, bench/locate_serving.py), so that route reads its query itself with these, and
# documents its parameters with `openapi_parameter`.


def query_float(request: Request, name: str) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        raise InvalidInput(f"{name} is required: a number")
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {raw[:40]!r}") from None


def query_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, got {raw[:40]!r}") from None


def query_crs(request: Request) -> Crs:
    return parse_crs(request.query_params.get("crs"))


def openapi_parameter(
    name: str, kind: str, description: str, *, required: bool = False, example: object = None
) -> dict[str, object]:
    """One query parameter as OpenAPI lists it (for routes that read their query by hand)."""
    parameter: dict[str, object] = {
        "name": name,
        "in": "query",
        "required": required,
        "schema": {"type": kind},
        "description": description,
    }
    if example is not None:
        parameter["example"] = example
    return parameter
