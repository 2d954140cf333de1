"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from api import errors
from api.routes import health, spatial


def create_app() -> FastAPI:
    app = FastAPI(
        title="Houniao 候鸟 API",
        version="0.1.0",
        description=(
            "Grid management for seasonal residents in Yichun: grid cells, locate, geocode, "
            "service areas. Coordinates are WGS84 unless a `crs` parameter names another system "
            "(wgs84, cgcs2000, gcj02, bd09). GeoJSON responses follow RFC 7946."
        ),
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(spatial.router)
    return app


app = create_app()
