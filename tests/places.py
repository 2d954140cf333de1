"""Places for tests: a WGS84 point well inside a grid cell, the one helper every test folder uses
(the newest row of the code, so it answers before and after a release is activated)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_POINT_IN = text(
    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell"
    " WHERE code = :c ORDER BY release_low DESC LIMIT 1) q"
)


def point_in(session: Session, cell: str) -> tuple[float, float]:
    """A WGS84 (lon, lat) point well inside `cell` (ST_PointOnSurface)."""
    lon, lat = session.execute(_POINT_IN, {"c": cell}).one()
    return float(lon), float(lat)
