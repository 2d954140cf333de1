"""Cases over HTTP: file (idempotent), read (scoped, GeoJSON), move through the workflow (ETags),
the timeline, the live feed for maps (GeoJSON with ETag/304, Server-Sent Events), and KPIs."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from api import lifecycle
from api.auth import CurrentUser, RequestCredentials, access, access_in_handler, public
from api.deps import SessionDep
from api.params import BboxParam, CaseFiltersParam
from api.reads import ReadSessionDep
from api.responses import GEOJSON, GeoJSONResponse, returns
from api.unit_of_work import in_one_thread
from geo.access.principal import Principal, Role, app_engine
from geo.cases import clusters, feed, feed_cache, idempotency, kpis, queries, service, stream
from geo.cases.catalogue import catalogue
from geo.cases.schemas import (
    CaseCatalogue,
    CaseCreate,
    CaseEventRead,
    CaseFeature,
    CaseFiled,
    CasePage,
    CasePhoneRevealed,
    KpiReport,
    OpenCaseClusters,
    OpenCases,
    RevealPhone,
    TransitionRequest,
)
from geo.cases.stream import SessionOpener
from geo.cases.workflow import Status, Tier
from geo.core.db import session_scope
from geo.core.errors import InvalidInput, PreconditionFailed, PreconditionRequired

router = APIRouter(prefix="/api/v1", tags=["cases"])

# Who may read cases at all; each sees only their scope (404 outside it).
READERS = (
    Role.dispatcher,
    Role.street_staff,
    Role.community_staff,
    Role.grid_worker,
    Role.department,
    Role.channel,
)
_ETAG = re.compile(r'^(?:W/)?"case-(\d+)-v(\d+)"$')


def _headers_for(case: dict[str, Any]) -> dict[str, str]:
    props = case["properties"]
    return {
        "ETag": service.etag(props["id"], props["version"]),
        "Location": f"/api/v1/cases/{props['id']}",
    }


@router.post(
    "/cases",
    status_code=201,
    summary="File a case (any caller; Idempotency-Key makes retries safe)",
    response_model=CaseFiled,
    **public(),
)
async def create_case(
    request: Request,
    credentials: RequestCredentials,
    body: CaseCreate,
    idempotency_key: Annotated[
        str | None,
        Header(description="a unique key per case; a retry with the same key replays the answer"),
    ] = None,
) -> JSONResponse:
    def work(session: Session, me: Principal) -> idempotency.Outcome:
        return idempotency.file_once(
            session,
            me,
            idempotency_key,
            method="POST",
            path="/api/v1/cases",
            payload=body.model_dump(mode="json"),
            work=lambda: service.create_case(session, me, body),
        )

    outcome = await in_one_thread(request, credentials, work)  # a hot write: one thread hop
    headers = _created_headers(outcome.body)
    if outcome.replayed:
        headers = {"Idempotent-Replayed": "true", **headers}
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


def _created_headers(body: dict[str, Any]) -> dict[str, str]:
    case = body["case"]
    if case.get("type") == "Feature":
        return _headers_for(case)
    # A public filer gets the Open311 view: follow it there.
    return {"Location": f"/open311/v2/requests/{case['service_request_id']}.json"}


@router.get(
    "/cases",
    response_class=GeoJSONResponse,
    summary="Cases in the caller's scope, newest first (GeoJSON, paged)",
    **returns(CasePage),
    **access(*READERS, scope="cell"),
)
def list_cases(
    request: Request,
    session: SessionDep,
    me: CurrentUser,
    bbox: BboxParam,
    status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
    tier: Tier | None = None,
    category: str | None = None,
    cell: Annotated[str | None, Query(description="15-digit grid code")] = None,
    overdue: Annotated[bool | None, Query(description="only (true) or no (false) overdue")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    features, total = queries.list_cases(
        session,
        me,
        status=status or (),
        tier=tier,
        category=category,
        cell=cell,
        bbox=bbox,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )
    links = []
    if offset + len(features) < total:
        href = str(request.url.include_query_params(offset=offset + limit, limit=limit))
        links.append({"rel": "next", "type": GEOJSON, "href": href})
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": total,
        "numberReturned": len(features),
        "links": links,
    }


@router.get(
    "/cases/open.geojson",
    response_class=GeoJSONResponse,
    summary="Every open case in scope, for live maps (ETag; 304 when unchanged)",
    response_model=OpenCases,
    **access(*READERS, scope="cell"),
)
def open_cases(
    request: Request,
    session: ReadSessionDep,
    me: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    tags = [t.strip() for t in if_none_match.split(",")] if if_none_match else []
    store: feed_cache.FeedFeatures | None = request.app.state.feed_features
    if store is not None:
        body, tag = feed_cache.open_cases(session, me, store, unless_etag_in=tags)
    elif tags and (tag := feed.open_etag(session, me)) in tags:
        body = None
    else:  # its ETag comes from the body's own rows
        body, tag = feed.open_cases_json_etag(session, me)
    if body is None:
        return Response(status_code=304, headers=_feed_headers(tag))
    return Response(body, media_type=GEOJSON, headers=_feed_headers(tag))


@router.get(
    "/cases/open/clusters.geojson",
    response_class=GeoJSONResponse,
    summary="Open cases in scope as clusters, one per square of the map's grid at zoom z",
    response_model=OpenCaseClusters,
    **access(*READERS, scope="cell"),
)
def open_case_clusters(
    session: ReadSessionDep,
    me: CurrentUser,
    bbox: BboxParam,
    z: Annotated[int, Query(ge=0, le=clusters.MAX_ZOOM, description="the map's zoom")],
    filters: CaseFiltersParam,
) -> Response:
    """For a map zoomed out past a street (a province holds a million open cases): a point
    per square of 64 screen pixels with the count of cases and of each clock state. Filtered
    as the console's queue (tier, category, street, clock), so its map counts what it lists."""
    body = clusters.open_case_clusters_json(session, me, zoom=z, bbox=bbox, filters=filters)
    return Response(body, media_type=GEOJSON, headers={"Cache-Control": "private, no-cache"})


def _feed_headers(tag: str) -> dict[str, str]:
    return {"ETag": tag, "Cache-Control": "private, no-cache"}


def feed_sessions() -> SessionOpener:
    """How the SSE stream opens a short session per poll: on the API's engine (the application
    role, so row-level security applies), like every request. Tests override this."""
    return lambda: session_scope(app_engine())


@router.get(
    "/cases/changes",
    summary="Server-Sent Events: each case change in scope with the case's current state",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    **access(*READERS, scope="cell"),
)
async def case_changes(
    request: Request,
    me: CurrentUser,
    credentials: RequestCredentials,
    opener: Annotated[SessionOpener, Depends(feed_sessions)],
    last_event_id: Annotated[str | None, Header()] = None,
    since: Annotated[
        int | None,
        Query(ge=0, description="event id to resume after; default: from now (no replay)"),
    ] = None,
    max_seconds: Annotated[float, Query(gt=0, le=3600, description="then reconnect")] = 300,
    poll_seconds: Annotated[float, Query(ge=0.2, le=60)] = 1.0,
) -> StreamingResponse:
    """Without `since` (or Last-Event-ID) the stream starts at the newest event in the caller's
    scope: it sends what changes from now on, never the history. Each poll checks the caller's
    credentials again, so the stream ends (`event: end`) at logout, when the account is
    disabled or its role or scope changes, when an API key is revoked, and when the access
    token expires."""
    given = since
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise InvalidInput("Last-Event-ID must be an event id (digits)")
        given = int(last_event_id)
    messages = stream.case_changes(
        me,
        opener,
        caller=credentials.principal,
        since=given,
        max_seconds=max_seconds,
        poll_seconds=poll_seconds,
        token_expires=credentials.expires_at(),
        disconnected=request.is_disconnected,
        pause=lifecycle.pause,
    )
    return StreamingResponse(
        messages,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/cases/{case_id}",
    response_class=GeoJSONResponse,
    summary="One case (GeoJSON Feature) with its summons, duplicates and your next actions",
    response_model=CaseFeature,
    **access(*READERS, scope="cell"),
)
def get_case(
    session: SessionDep,
    me: CurrentUser,
    case_id: int,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    case = queries.get_case(session, me, case_id)
    headers = _headers_for(case)
    del headers["Location"]
    if if_none_match is not None and headers["ETag"] in if_none_match:
        return Response(status_code=304, headers=headers)
    return GeoJSONResponse(case, headers=headers)


def _expected_version(case_id: int, if_match: str | None) -> int | None:
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag of the case you looked at (GET /api/v1/cases/{id})"
        )
    if if_match.strip() == "*":
        return None
    m = _ETAG.match(if_match.strip())
    if m is None or int(m.group(1)) != case_id:
        raise PreconditionFailed(f"If-Match {if_match!r} is not an ETag of case {case_id}")
    return int(m.group(2))


@router.post(
    "/cases/{case_id}/transitions",
    response_class=GeoJSONResponse,
    summary="One workflow step (If-Match required); 409 lists the allowed next steps",
    response_model=CaseFeature,
    **access_in_handler(*READERS, scope="cell"),
)
async def transition(
    request: Request,
    credentials: RequestCredentials,
    case_id: int,
    body: TransitionRequest,
    if_match: Annotated[str | None, Header(description='the ETag, e.g. "case-12-v3"')] = None,
) -> Response:
    def work(session: Session, me: Principal) -> dict[str, Any]:
        expected = _expected_version(case_id, if_match)  # after the caller: 401/403 come first
        return service.transition(session, me, case_id, body, expected_version=expected)

    case = await in_one_thread(request, credentials, work, roles=READERS)  # a hot write
    headers = _headers_for(case)
    del headers["Location"]
    return GeoJSONResponse(case, headers=headers)


@router.post(
    "/cases/{case_id}/reveal-phone",
    summary="The reporter's full phone number, to call back (purpose required; audited)",
    **returns(CasePhoneRevealed),
    **access(*sorted(service.REVEAL_ROLES), scope="cell"),
)
def reveal_phone(
    session: SessionDep, me: CurrentUser, case_id: int, body: RevealPhone
) -> dict[str, Any]:
    phone = service.reveal_reporter_phone(
        session, me, case_id, purpose=body.purpose.value, reason=body.reason
    )
    return {"case_id": case_id, "field": "reporter_phone", "value": phone}


@router.get(
    "/cases/{case_id}/events",
    summary="The case's append-only timeline, oldest first",
    **returns(list[CaseEventRead]),
    **access(*READERS, scope="cell"),
)
def case_events(session: SessionDep, me: CurrentUser, case_id: int) -> list[dict[str, Any]]:
    return queries.timeline(session, me, case_id)


@router.get(
    "/case-catalogue",
    summary="Categories with their time limits per grade, and the departments a street summons",
    **returns(CaseCatalogue),
    **public(),
)
def case_catalogue(session: SessionDep) -> dict[str, Any]:
    return catalogue(session)


@router.get(
    "/kpis",
    summary="Response, on-time, resolution and satisfaction rates, medians per stage, overdue",
    **returns(KpiReport),
    description=(
        "Staff and dispatchers: exact figures in their scope, any grouping, `from`/`to` or a"
        " window. Planners: one window (`month` or `season`, default the current season), at"
        " most one of street/community/category (and month); small counts suppressed so that"
        " none can be worked out from totals or other answers."
    ),
    **access(*sorted(kpis.KPI_ROLES)),
)
def case_kpis(
    session: SessionDep,
    me: CurrentUser,
    group_by: Annotated[
        list[str] | None, Query(description="any of cell, community, street, category, month")
    ] = None,
    month_from: Annotated[str | None, Query(description="YYYY-MM", alias="from")] = None,
    month_to: Annotated[str | None, Query(description="YYYY-MM", alias="to")] = None,
    month: Annotated[str | None, Query(description="window: one month, YYYY-MM")] = None,
    season: Annotated[
        int | None, Query(description="window: one season (1 May to 30 April), by its year")
    ] = None,
    category: str | None = None,
    street: str | None = None,
    community: str | None = None,
    cell: str | None = None,
) -> dict[str, Any]:
    groups = [g for item in (group_by or []) for g in item.split(",") if g]
    rows = kpis.kpis(
        session,
        me,
        group_by=groups,
        month_from=month_from,
        month_to=month_to,
        month=month,
        season=season,
        category=category,
        street=street,
        community=community,
        cell=cell,
    )
    return {"group_by": groups, "rows": rows, "definitions": kpis.DEFINITIONS}
