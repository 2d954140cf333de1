"""The served maps: dispatcher, grid worker, planner — each behind its role — and map sign-in.

Browsers sign in at /maps/login, which keeps the access token in an HttpOnly, SameSite=Strict
cookie that the API honours for reads only. An unauthenticated visit to a map redirects there.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Cookie, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import MAP_COOKIE, CurrentUser, access, client_addr, public
from api.deps import SessionDep
from geo import cellview, planning
from geo.access import Role
from geo.accounts import login, tokens
from geo.cases.catalogue import catalogue
from geo.cases.workflow import TIER_LABELS
from geo.config import map_settings, security_settings
from geo.errors import InvalidInput, Unauthorized
from geo.features.items import items
from geo.inputs import Text
from maps import pages
from maps.cell import cell_map
from maps.density import density_map
from maps.dispatch import dispatch_map

REFRESH_COOKIE = "houniao_refresh"
router = APIRouter(prefix="/maps", tags=["maps"], default_response_class=HTMLResponse)
ALL = 10_000  # more than every cell, community and service area of a city


def _collection(session: SessionDep, collection_id: str) -> dict:
    page = items(session, collection_id, limit=ALL)
    return {"type": "FeatureCollection", "features": page.features}


@router.get(
    "/dispatch", summary="Dispatcher's live map of open cases (指挥中心)", **access(Role.dispatcher)
)
def dispatch(session: SessionDep, me: CurrentUser) -> str:
    categories = [(c["code"], c["name_zh"]) for c in catalogue(session)["categories"]]
    return dispatch_map(
        feed_url="/api/v1/cases/open.geojson",
        communities=_collection(session, "communities"),
        cells=_collection(session, "cells"),
        service_areas=_collection(session, "service_areas"),
        tiers=[(t.value, label) for t, label in TIER_LABELS.items()],
        categories=categories,
        basemap=map_settings().basemap,
    )


@router.get(
    "/cell/{code}",
    summary="A grid worker's phone map of one cell (网格员)",
    **access(Role.grid_worker, Role.community_staff, Role.street_staff, scope="cell"),
)
def cell(session: SessionDep, me: CurrentUser, code: str) -> str:
    return cell_map(**cellview.cell_view(session, me, code), basemap=map_settings().basemap)


@router.get(
    "/density",
    summary="Planner's seasonal density map (aggregates only)",
    **access(Role.planner),
)
def density(
    session: SessionDep,
    me: CurrentUser,
    season_from: Annotated[int, Query(ge=2000, le=2100)] = 2021,
    season_to: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> str:
    k = map_settings().disclosure_threshold
    last = season_to or planning.current_season()
    monthly = planning.monthly_density(session, me, season_from, last)
    peak = planning.peak_month(monthly)
    return density_map(
        cells=_collection(session, "cells"),
        monthly=monthly,
        hexes=planning.hexagons(session, monthly.get(peak, {}) if peak else {}, k),
        flows=planning.flows(session, season_from, last, k),
        origins=planning.origins(session, season_from, last, k),
        threshold=k,
        basemap=map_settings().basemap,
    )


@router.get("/login", summary="Sign-in page for the maps", **public())
def login_page(next: str = "/maps/dispatch", error: str | None = None) -> str:
    return pages.login_page(_safe_next(next), failed=error is not None)


@router.post("/login", summary="Sign in (form) and keep the token in a cookie", **public())
def login_submit(
    request: Request,
    session: SessionDep,
    username: Annotated[Text, Form(max_length=100)],
    password: Annotated[Text, Form(max_length=200)],
    next: Annotated[Text, Form(max_length=300)] = "/maps/dispatch",
) -> RedirectResponse:
    target = _safe_next(next)
    try:
        pair = login.authenticate(session, username, password, client_addr=client_addr(request))
    except Unauthorized:  # returning normally commits the failed-login count and audit row
        return RedirectResponse(f"/maps/login?next={quote(target)}&error=1", status_code=303)
    response = RedirectResponse(target, status_code=303)
    _keep_tokens(response, request, pair)
    return response


@router.post(
    "/refresh",
    summary="Renew the map cookie from the refresh cookie (live maps)",
    status_code=204,
    **public(),
)
def refresh(
    request: Request,
    session: SessionDep,
    cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)] = None,
) -> Response:
    if not cookie:  # a missing input, not a bad credential
        raise InvalidInput("no refresh cookie: sign in again at /maps/login")
    pair = tokens.refresh(session, cookie, client_addr=client_addr(request))
    response = Response(status_code=204)
    _keep_tokens(response, request, pair)
    return response


def _keep_tokens(response: Response, request: Request, pair: tokens.TokenPair) -> None:
    """The access token for every read; the refresh token only for /maps/refresh, so a live map
    open all day renews itself instead of going silent when the 15-minute token expires."""
    secure = request.url.scheme == "https"
    response.set_cookie(
        MAP_COOKIE,
        pair.access_token,
        max_age=pair.expires_in,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/maps/refresh",
        max_age=security_settings().refresh_token_days * 86400,
    )


@router.post("/logout", summary="Forget the map cookie", **public())
def logout() -> RedirectResponse:
    response = RedirectResponse("/maps/login", status_code=303)
    response.delete_cookie(MAP_COOKIE, path="/")
    response.delete_cookie(REFRESH_COOKIE, path="/maps/refresh")
    return response


def _safe_next(target: str) -> str:
    """Only same-site paths: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else "/maps/dispatch"
