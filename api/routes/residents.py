"""Residents (候鸟) over HTTP: lists and archives for grid workers and staff (masked, audited),
the review queue, merges and splits, departures, edits, counts for dispatchers, aggregates for
planners (small counts suppressed), and the Excel/CSV upload for staff.

Reads use the request's session (row-level security on top of the query filters); changes to
archives run in the intake's system unit of work after the service checked the caller's scope.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.params import WindowParam
from api.reads import ReadSessionDep
from api.responses import returns
from api.routes.intake import SystemSession
from geo.access.principal import Role
from geo.core.inputs import CRS_LENGTH, Text
from geo.planning import aggregates, density_table, presence
from geo.planning.schemas import Density, Flows, Origins
from geo.residents import service
from geo.residents.archive import operations, review
from geo.residents.intake import excel, imports
from geo.residents.schemas import (
    ArchiveRead,
    DepartureConfirm,
    DepartureConfirmed,
    DeparturesDue,
    ImportResult,
    MergeRequest,
    ResidentCounts,
    ResidentEdit,
    ResidentEdited,
    ResidentPage,
    ResidentRevealed,
    ResidentsMerged,
    ResidentSplit,
    RevealRequest,
    ReviewDecided,
    ReviewDecision,
    ReviewQueue,
    SplitRequest,
)

router = APIRouter(prefix="/api/v1", tags=["residents"])
PERSONS = (Role.grid_worker, Role.community_staff, Role.street_staff)
COUNTS = (Role.dispatcher, *PERSONS)
AGGREGATES = (Role.planner, Role.dispatcher)
Season = Annotated[int | None, Query(ge=2000, le=2100, description="default: the current one")]


@router.get(
    "/residents",
    summary="Residents present in the caller's cells now (masked)",
    **returns(ResidentPage),
    **access(*PERSONS, scope="cell"),
)
def list_residents(
    session: SessionDep,
    me: CurrentUser,
    present: Annotated[bool, Query(description="only those present on `on`")] = True,
    on: Annotated[date | None, Query(description="default today")] = None,
    season: Season = None,
    cell: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    q: Annotated[str | None, Query(max_length=20, description="part of a name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return service.list_residents(
        session,
        me,
        on=on,
        present=present,
        season=season,
        cell=cell,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/residents/counts",
    summary="Residents present per cell (counts only)",
    **returns(ResidentCounts),
    **access(*COUNTS),
)
def counts(
    session: SessionDep,
    me: CurrentUser,
    on: Annotated[date | None, Query(description="default today")] = None,
) -> dict[str, Any]:
    return service.counts_by_cell(session, me, on=on)


@router.get(
    "/residents/density",
    summary="Residents per cell and month of one window (small counts suppressed)",
    **returns(Density),
    **access(*AGGREGATES),
)
def density(session: ReadSessionDep, me: CurrentUser, window: WindowParam) -> dict[str, Any]:
    return aggregates.density(session, me, window)


@router.get(
    "/residents/density.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM"}},
    summary="One season's residents per cell and month as CSV for Excel (small counts empty)",
    description=(
        "The planner's density table (/maps/density/table): one row per cell of the active"
        " release with its community, one column per month (May to April), Chinese headers."
        " A hidden count is an empty field, and the last column names that row's hidden months."
    ),
    **access(Role.planner),
)
def density_csv(
    session: ReadSessionDep,
    me: CurrentUser,
    season: Annotated[
        int | None,
        Query(
            ge=2000, le=2100, description="a season (its year); default the latest with residents"
        ),
    ] = None,
) -> Response:
    season = presence.latest_season(session) if season is None else season
    table = density_table.density_table(session, me, season)
    return Response(
        density_table.to_csv(table),
        media_type=density_table.CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="houniao-density-{season}.csv"'},
    )


@router.get(
    "/residents/flows",
    summary="Arrivals and departures per month and community, and the city's",
    **returns(Flows),
    **access(*AGGREGATES),
)
def flows(session: SessionDep, me: CurrentUser, window: WindowParam) -> dict[str, Any]:
    return aggregates.flows(session, me, window)


@router.get(
    "/residents/origins",
    summary="Residents of one season by province and city of origin (来源地)",
    **returns(Origins),
    **access(*AGGREGATES),
)
def origins(session: SessionDep, me: CurrentUser, window: WindowParam) -> dict[str, Any]:
    return aggregates.origins(session, me, window)


@router.get(
    "/residents/review",
    summary="Reports the linkage left for the grid worker to decide",
    **returns(ReviewQueue),
    **access(*PERSONS),
)
def review_queue(
    session: SessionDep, me: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> dict[str, Any]:
    items = review.review_queue(session, me, limit=limit)
    return {"items": items}


@router.post(
    "/residents/review/{report_id}",
    summary="Decide a report in review: link to an archive, a new archive, or reject",
    **returns(ReviewDecided),
    **access(*PERSONS, scope="cell"),
)
def decide_review(
    me: CurrentUser, system: SystemSession, report_id: int, body: ReviewDecision
) -> dict[str, Any]:
    return review.resolve_review(
        system, me, report_id, action=body.action, resident_id=body.resident_id, note=body.note
    )


@router.get(
    "/residents/departures",
    summary="Stays past their expected departure with no report since: to confirm",
    **returns(DeparturesDue),
    **access(*PERSONS),
)
def departures(
    session: SessionDep, me: CurrentUser, on: Annotated[date | None, Query()] = None
) -> dict[str, Any]:
    return {"items": operations.departures_due(session, me, on=on)}


@router.post(
    "/stays/{stay_id}/departure",
    summary="Confirm a departure: closes the stay",
    **returns(DepartureConfirmed),
    **access(*PERSONS, scope="cell"),
)
def confirm_departure(
    me: CurrentUser, system: SystemSession, stay_id: int, body: DepartureConfirm
) -> dict[str, Any]:
    (report_id,) = operations.confirm_departures(
        system, me, [(stay_id, body.departed_on)], note=body.note
    )
    return {"stay_id": stay_id, "departed_on": body.departed_on, "report_id": report_id}


@router.post(
    "/residents/import",
    summary="Upload an Excel/CSV list (Chinese headers); dry run unless commit",
    **returns(ImportResult),
    **access(Role.community_staff, Role.street_staff),
)
def upload(
    me: CurrentUser,
    system: SystemSession,
    file: Annotated[UploadFile, File(description=".xlsx or .csv")],
    channel: Annotated[
        Text | None,
        Form(max_length=30, description="the caller's own channel (grid_worker); default it"),
    ] = None,
    crs: Annotated[
        Text | None,
        Form(max_length=CRS_LENGTH, description="crs of 经度/纬度 without a 坐标系 column"),
    ] = None,
    commit: Annotated[bool, Form()] = False,
    skip_rejected: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    data = file.file.read()  # at most HOUNIAO_LIMIT_UPLOAD_BYTES: larger bodies are a 413
    table = excel.read_table(data, file.filename or "upload.xlsx")
    return imports.run_import(
        system, me, table, channel=channel, crs=crs, commit=commit, skip_rejected=skip_rejected
    )


@router.get(
    "/residents/{resident_id}",
    summary="动态管理档案: one archive with stays, reports, history (masked, audited)",
    **returns(ArchiveRead),
    **access(*PERSONS, scope="cell"),
)
def get_resident(session: SessionDep, me: CurrentUser, resident_id: int) -> dict[str, Any]:
    return service.get_archive(session, me, resident_id)


@router.patch(
    "/residents/{resident_id}",
    summary="Correct or add facts (recorded as the grid worker's own report)",
    **returns(ResidentEdited),
    **access(*PERSONS, scope="cell"),
)
def edit_resident(
    session: SessionDep,
    me: CurrentUser,
    system: SystemSession,
    resident_id: int,
    body: ResidentEdit,
) -> dict[str, Any]:
    service.get_resident_row(session, me, resident_id)  # 404 outside the scope
    return operations.edit(system, me, resident_id, body.model_dump(exclude_unset=True))


@router.post(
    "/residents/{resident_id}/reveal",
    summary="Reveal a full ID or phone number: needs a purpose, audited",
    **returns(ResidentRevealed),
    **access(*PERSONS, scope="cell"),
)
def reveal(
    session: SessionDep, me: CurrentUser, resident_id: int, body: RevealRequest
) -> dict[str, Any]:
    return service.reveal(
        session, me, resident_id, field=body.field, purpose=body.purpose, reason=body.reason
    )


@router.post(
    "/residents/{resident_id}/merge",
    summary="Merge another archive into this one",
    **returns(ResidentsMerged),
    **access(*PERSONS, scope="cell"),
)
def merge(
    session: SessionDep,
    me: CurrentUser,
    system: SystemSession,
    resident_id: int,
    body: MergeRequest,
) -> dict[str, Any]:
    service.get_resident_row(session, me, resident_id)
    service.get_resident_row(session, me, body.other_id)
    return operations.merge(system, me, resident_id, body.other_id, note=body.note)


@router.post(
    "/residents/{resident_id}/split",
    summary="Move reports that are about another person into a new archive",
    **returns(ResidentSplit),
    **access(*PERSONS, scope="cell"),
)
def split(
    session: SessionDep,
    me: CurrentUser,
    system: SystemSession,
    resident_id: int,
    body: SplitRequest,
) -> dict[str, Any]:
    service.get_resident_row(session, me, resident_id)
    return operations.split(system, me, resident_id, body.report_ids, note=body.note)
