"""Planners' figures of a season as files: an Excel workbook (one sheet per figure, Chinese
headers) and a GeoPackage of the cell-level figures; suppressed counts stay suppressed
(geo/planning/exports.py). Kept apart from api/routes/planning.py (the JSON figures)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from api.auth import CurrentUser, access
from api.deps import SessionDep
from geo.access.principal import Principal, Role
from geo.core import clock
from geo.planning import exports
from geo.planning.season_figures import SeasonFigures, season_figures

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])
SeasonParam = Annotated[
    int | None, Query(ge=2000, le=2100, description="a season (its year); default the current")
]
_SUPPRESSED = (
    " Counts below the disclosure threshold, and those that would let one be worked out, are"
    " empty (NULL) with a flag column beside them; never the number."
)


def _file_response(
    session: Session,
    me: Principal,
    season: int | None,
    kind: str,
    write: Callable[[SeasonFigures, Path], Any],
) -> FileResponse:
    season = clock.current_season() if season is None else season
    figures = season_figures(session, me, season)
    folder = tempfile.mkdtemp(prefix="houniao-planning-")
    path = Path(folder) / f"houniao-planning-{season}.{kind}"
    try:
        write(figures, path)
    except BaseException:
        path.unlink(missing_ok=True)
        os.rmdir(folder)
        raise

    def _clean() -> None:
        path.unlink(missing_ok=True)
        os.rmdir(folder)

    return FileResponse(
        path,
        media_type=exports.FORMATS[kind],
        filename=path.name,
        background=BackgroundTask(_clean),
    )


@router.get(
    "/export.xlsx",
    response_class=FileResponse,
    responses={200: {"content": {exports.XLSX_TYPE: {}}, "description": "an Excel workbook"}},
    summary="A season's planner figures as an Excel workbook, one sheet per figure (suppressed)",
    description=(
        "Sheets (Chinese headers): 说明 (what the numbers are), 在住人数 (presence per month and"
        " level with the year before), 年龄段, 来源地, 每周到离 (arrivals and departures per"
        " week), 高峰 (peaks), 预测 (next season with an 80% interval), 覆盖分层 and 覆盖缺口"
        " (walking coverage tiers and gaps)." + _SUPPRESSED + " A season with nobody present"
        " is a 404."
    ),
    **access(Role.planner),
)
def export_xlsx(session: SessionDep, me: CurrentUser, season: SeasonParam = None) -> FileResponse:
    return _file_response(session, me, season, "xlsx", exports.write_xlsx)


@router.get(
    "/export.gpkg",
    response_class=FileResponse,
    responses={200: {"content": {exports.GPKG_TYPE: {}}, "description": "a GeoPackage"}},
    summary="A season's cell-level planner figures as a GeoPackage (EPSG:4326, suppressed)",
    description=(
        "Polygon layers on the active release's grid cells, EPSG:4326: presence_cells (the"
        " season, with the year before), presence_cell_months, forecast_cells (next season,"
        " 80% interval) and coverage_cells (walks to the nearest service area and health-check"
        " centre, tiers, 65+ gaps)." + _SUPPRESSED + " A season with nobody present is a 404."
    ),
    **access(Role.planner),
)
def export_gpkg(session: SessionDep, me: CurrentUser, season: SeasonParam = None) -> FileResponse:
    return _file_response(
        session, me, season, "gpkg", lambda f, p: exports.write_gpkg(session, f, p)
    )
