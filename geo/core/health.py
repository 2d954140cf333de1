"""Health of the spatial store, for /healthz."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from geo.core.outputs import ReadModel


def check(session: Session) -> dict[str, Any]:
    try:
        postgis = session.execute(text("SELECT postgis_lib_version()")).scalar_one()
        release = session.execute(
            text("SELECT id FROM boundary_release WHERE status = 'active'")
        ).scalar_one_or_none()
    except SQLAlchemyError as exc:
        return {"ok": False, "error": str(exc.__class__.__name__)}
    return {"ok": True, "postgis": postgis, "active_release": release}


class Health(ReadModel):
    """`ok` and, when up, PostGIS's version and the active release; when down, the error's type."""

    ok: bool
    postgis: str | None = None
    active_release: int | None = None
    error: str | None = None
