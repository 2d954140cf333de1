"""Liveness with a real check: PostGIS answers and a boundary release is active."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SessionDep
from geo.core import health
from geo.core.health import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(session: SessionDep) -> Any:
    status = health.check(session)
    return JSONResponse(status, status_code=200 if status["ok"] else 503)
