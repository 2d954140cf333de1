"""Serve ``maps/static`` (the vendored Leaflet and plugin files) at ``/static``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from maps.offline import STATIC_DIR


def mount_static(app: FastAPI) -> None:
    """Mount ``maps/static`` at ``/static``, where `maps.offline` links vendored files."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
