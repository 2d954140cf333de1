"""The served maps: dispatcher, grid worker, planner — each behind its role — and map sign-in.

Browsers sign in at /maps/login, which keeps the access token in an HttpOnly, SameSite=Strict
cookie that the API honours for reads only. An unauthenticated visit to a map redirects there;
after signing in a person goes back (`next`, a local path only) or to their role's page
(`api.pages.landing`); /maps/ lists what they may open. Cookies are Secure unless
HOUNIAO_COOKIE_SECURE=false or HOUNIAO_ENV=development. Signing out (/maps/logout) revokes the
login session on the server, so a copied cookie dies with it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Cookie, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api import pages as web
from api.auth import MAP_COOKIE, CurrentUser, access, authenticated, client_addr, public
from api.deps import SessionDep
from api.hardening import script_page
from api.params import NamedWindowParam, WindowParam
from geo.access.principal import Role
from geo.accounts import login, tokens
from geo.cases.catalogue import catalogue
from geo.cases.workflow import TIER_LABELS
from geo.core.config import map_settings, security_settings
from geo.core.errors import InvalidInput, Unauthorized
from geo.core.inputs import Text
from geo.planning import coverage_map, presence
from geo.planning import map_data as planning
from geo.planning.density_table import density_table
from geo.privacy.windows import Window
from geo.spatial import cellview
from geo.spatial.features.items import items
from maps import pages
from maps.cell import cell_map
from maps.coverage import coverage_map as coverage_page
from maps.density import density_map
from maps.density_compare import compare_map
from maps.dispatch import dispatch_map

REFRESH_COOKIE = "houniao_refresh"
# The refresh cookie goes to /maps/refresh (renewal) and /maps/logout (revocation) only.
REFRESH_PATH = "/maps"
router = APIRouter(prefix="/maps", tags=["maps"], default_response_class=HTMLResponse)
ALL = 10_000  # more than every cell, community and service area of a city
SeasonQuery = Annotated[
    int | None,
    Query(ge=2000, le=2100, description="a season by its year; default the latest with residents"),
]


def _collection(session: SessionDep, collection_id: str) -> dict:
    page = items(session, collection_id, limit=ALL)
    return {"type": "FeatureCollection", "features": page.features}


@router.get(
    "/dispatch", summary="Dispatcher's live map of open cases (指挥中心)", **access(Role.dispatcher)
)
def dispatch(session: SessionDep, me: CurrentUser) -> HTMLResponse:
    categories = [(c["code"], c["name_zh"]) for c in catalogue(session)["categories"]]
    html = dispatch_map(
        feed_url="/api/v1/cases/open.geojson",
        communities=_collection(session, "communities"),
        cells=_collection(session, "cells"),
        service_areas=_collection(session, "service_areas"),
        tiers=[(t.value, label) for t, label in TIER_LABELS.items()],
        categories=categories,
        basemap=map_settings().basemap,
        hotspots_url="/api/v1/planning/hotspots",
        clusters_url="/api/v1/cases/open/clusters.geojson",
    )
    return script_page(html)


@router.get(
    "/cell/{code}",
    summary="A grid worker's phone map of one cell (网格员)",
    **access(Role.grid_worker, Role.community_staff, Role.street_staff, scope="cell"),
)
def cell(session: SessionDep, me: CurrentUser, code: str) -> HTMLResponse:
    view = cellview.cell_view(session, me, code)
    return script_page(cell_map(**view, basemap=map_settings().basemap))


@router.get(
    "/density",
    summary="Planner's seasonal density map (aggregates only)",
    **access(Role.planner),
)
def density(
    session: SessionDep,
    me: CurrentUser,
    named: NamedWindowParam,
    forecast: Annotated[
        bool, Query(description="add next season's forecast beside this one (slower)")
    ] = False,
) -> HTMLResponse:
    window = named or Window(presence.latest_season(session))
    k = map_settings().disclosure_threshold
    monthly = planning.monthly_density(session, me, window)
    peak = planning.peak_month(monthly)
    html = density_map(
        cells=_collection(session, "cells"),
        monthly=monthly,
        hexes=planning.hexagons(session, monthly.get(peak, {}) if peak else {}, k),
        flows=planning.flows(session, me, window),
        origins=planning.origins(session, me, window.season),
        threshold=k,
        season=window.season,
        basemap=map_settings().basemap,
        outlook=planning.outlook(session, me, window.season) if forecast else None,
        peak=peak,
        outlines=_outlines(session),
    )
    return script_page(html)


def _outlines(session: SessionDep) -> dict[str, dict]:
    return {key: _collection(session, key) for key in ("districts", "streets")}


@router.get(
    "/density/compare",
    summary="Planner's two seasons side by side: the same month of each (aggregates only)",
    **access(Role.planner),
)
def density_compare(
    session: SessionDep,
    me: CurrentUser,
    season: SeasonQuery = None,
    other: Annotated[
        int | None,
        Query(ge=2000, le=2100, description="the season on the left; default the one before"),
    ] = None,
    month: Annotated[
        int | None, Query(ge=1, le=12, description="calendar month 1-12; default the peak")
    ] = None,
) -> HTMLResponse:
    right = presence.latest_season(session) if season is None else season
    left = right - 1 if other is None else other
    if left == right:
        raise InvalidInput(f"compare two different seasons: other={left} is season={right}")
    by_month = [planning.monthly_density(session, me, Window(s)) for s in (left, right)]
    if month is None:
        peak = planning.peak_month(by_month[1]) or planning.peak_month(by_month[0])
        month = int(peak[5:]) if peak else 7
    months = tuple(planning.month_of(s, month) for s in (left, right))
    html = compare_map(
        cells=_collection(session, "cells"),
        outlines=_outlines(session),
        seasons=(left, right),
        months=(months[0], months[1]),
        counts=(by_month[0].get(months[0], {}), by_month[1].get(months[1], {})),
        threshold=map_settings().disclosure_threshold,
        basemap=map_settings().basemap,
    )
    return script_page(html)


@router.get(
    "/density/table",
    summary="Planner's density as a table of cells by month, with its CSV (aggregates only)",
    **access(Role.planner),
)
def density_table_page(session: SessionDep, me: CurrentUser, season: SeasonQuery = None) -> str:
    season = presence.latest_season(session) if season is None else season
    return pages.density_table_page(
        density_table(session, me, season),
        map_settings().disclosure_threshold,
        f"/api/v1/residents/density.csv?season={season}",
    )


@router.get(
    "/coverage",
    summary="Planner's coverage page: walking-time areas, gaps, candidate sites, hot spots",
    **access(Role.planner),
)
def coverage(
    session: SessionDep,
    me: CurrentUser,
    window: WindowParam,
    item: Annotated[
        str | None, Query(max_length=60, description="catalogue item 'category:item'")
    ] = None,
    category: Annotated[
        str | None, Query(max_length=30, description="hot spots of this case category")
    ] = None,
) -> HTMLResponse:
    html = coverage_page(
        cells=_collection(session, "cells"),
        service_areas=_collection(session, "service_areas"),
        data=coverage_map.page_data(session, me, window, item, category),
        basemap=map_settings().basemap,
    )
    return script_page(html)


@router.get("/", summary="What the signed-in person may open (their home page)", **authenticated())
def home(session: SessionDep, me: CurrentUser) -> str:
    return web.home_page(session, me)


@router.get("/login", summary="Sign-in page for the maps", **public())
def login_page(next: str = "", error: str | None = None) -> str:
    return pages.login_page(web.local_path(next) or "", failed=error is not None)


@router.post("/login", summary="Sign in (form) and keep the token in a cookie", **public())
def login_submit(
    request: Request,
    session: SessionDep,
    username: Annotated[Text, Form(max_length=100)],
    password: Annotated[Text, Form(max_length=200)],
    next: Annotated[Text, Form(max_length=300)] = "",
) -> RedirectResponse:
    wanted = web.local_path(next)
    try:
        pair = login.authenticate(session, username, password, client_addr=client_addr(request))
    except Unauthorized:  # returning normally commits the failed-login count and audit row
        return RedirectResponse(f"/maps/login?next={quote(wanted or '')}&error=1", status_code=303)
    me = tokens.principal_from_access_token(session, pair.access_token)
    response = RedirectResponse(web.after_sign_in(request.app, wanted, me), status_code=303)
    _keep_tokens(response, pair)
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
    _keep_tokens(response, pair)
    return response


def _keep_tokens(response: Response, pair: tokens.TokenPair) -> None:
    """The access token for every read; the refresh token only for /maps/refresh and
    /maps/logout, so a live map open all day renews itself instead of going silent when the
    15-minute token expires, and signing out can revoke the session even after that."""
    secure = security_settings().secure_cookies
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
        path=REFRESH_PATH,
        max_age=security_settings().refresh_token_days * 86400,
    )


@router.post(
    "/logout", summary="Sign out: revoke the login session and forget the cookies", **public()
)
def logout(
    request: Request,
    session: SessionDep,
    access_cookie: Annotated[str | None, Cookie(alias=MAP_COOKIE, include_in_schema=False)] = None,
    refresh_cookie: Annotated[
        str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)
    ] = None,
) -> RedirectResponse:
    # SameSite=Strict: a cross-site form posts without these cookies, so it revokes nothing.
    tokens.end_browser_session(
        session,
        access_token=access_cookie,
        refresh_token=refresh_cookie,
        client_addr=client_addr(request),
    )
    response = RedirectResponse("/maps/login", status_code=303)
    secure = security_settings().secure_cookies
    response.delete_cookie(MAP_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_PATH, secure=secure, httponly=True, samesite="strict"
    )
    return response
