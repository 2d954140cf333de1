"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from api import errors, hardening, lifecycle, locate_cache, scheduler, tile_cache
from api.auth import declare_public_routes
from api.lanes import Lanes
from api.limits import RequestLimits
from api.reads import ReadYourWrites, read_router
from api.request_log import RequestLog
from api.routes import (
    admin,
    audit,
    bookings,
    card,
    cases,
    concerns,
    console,
    contacts,
    council,
    docs,
    export,
    health,
    health_appointments,
    intake,
    lists,
    maps,
    mobile,
    mobile_cases,
    mobile_health,
    ogc,
    open311,
    planning,
    planning_exports,
    planning_services,
    residents,
    selfreg,
    services,
    spatial,
    tiles,
    volunteers,
)
from api.routes import auth as auth_routes
from api.static import mount_static
from geo.cases import replies
from geo.cases.feed_cache import FeedFeatures
from geo.core import logs
from geo.core.config import feed_cache_settings
from geo.models import load_models
from geo.spatial.crs import ACCEPTED


def create_app() -> FastAPI:
    logs.configure()  # JSON lines on stderr (geo/core/logs.py)
    load_models()  # every table, encrypted column and purger (geo/models.py)
    replies.load_templates()  # a broken templates file stops the start, not a panel
    app = FastAPI(
        title="Houniao 候鸟 API",
        version="0.1.0",
        description=(
            "Grid management for seasonal residents in Yichun: grid cells, locate, geocode, "
            "service areas. Coordinates are WGS84 unless a `crs` parameter names another system "
            f"({ACCEPTED}). GeoJSON responses follow RFC 7946."
        ),
        lifespan=scheduler.lifespan,  # escalates overdue cases each minute; HOUNIAO_SCHEDULER=0
        docs_url=None,  # /docs and /redoc come from api/routes/docs.py, on vendored files
        redoc_url=None,
    )
    errors.install(app)
    hardening.install(app)  # security headers, trusted proxies, access log, settings check
    locate_cache.install(app)  # point -> cell from memory, dropped on release activation
    tile_cache.install(app)  # vector tiles from memory, dropped by case events and activations
    settings = feed_cache_settings()  # the open-cases feed's Features by case version
    app.state.feed_features = FeedFeatures(int(settings.mb * 2**20)) if settings.mb else None
    lifecycle.install(app)  # SIGTERM ends SSE streams and the scheduler instead of waiting
    app.add_middleware(Lanes)  # aggregates, exports, intake, OGC reads: a few places per worker
    app.add_middleware(RequestLimits)  # body size (413), NUL in path or query (422)
    # A read replica or the tile cache: writes tell their writer the WAL position, so the
    # writer's next map read has the write.
    if read_router() is not None or app.state.tile_cache is not None:
        app.add_middleware(ReadYourWrites)
    app.add_middleware(RequestLog)  # one log line per request (outermost: it sees 413s too)
    # Routers are tried in order, each route of each one before the next (~2 us a route): the
    # busiest paths first (cases: every filing and workflow step; then tiles and locate). No other
    # router has paths under theirs, so the order changes no answer.
    app.include_router(cases.router)
    app.include_router(tiles.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(spatial.router)
    app.include_router(ogc.router)
    app.include_router(export.router)
    app.include_router(card.router)
    app.include_router(auth_routes.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(open311.router)
    app.include_router(maps.router)
    app.include_router(console.router)
    app.include_router(mobile.router)
    app.include_router(mobile_cases.router)
    app.include_router(mobile_health.router)  # /m/health: 65+ checks on the phone
    app.include_router(intake.router)
    app.include_router(residents.router)
    app.include_router(planning.router)
    app.include_router(planning_exports.router)
    app.include_router(planning_services.router)  # requests, visits, checks in aggregate
    app.include_router(concerns.router)
    app.include_router(services.router)
    app.include_router(services.pages)
    app.include_router(selfreg.pages)
    app.include_router(bookings.router)
    app.include_router(health_appointments.router)
    app.include_router(lists.router)
    app.include_router(council.router)
    app.include_router(volunteers.router)
    app.include_router(contacts.router)
    mount_static(app)
    declare_public_routes(app)  # the spatial core's public routes (api/auth.py)
    return app


app = create_app()
