"""Queries over places: nearest service areas (KNN on the ellipsoid)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.config import spatial_settings
from geo.core.errors import InvalidInput
from geo.spatial.crs import Crs, point_to_wgs84

# KNN through the geography GiST index (sphere ordering), then the exact ellipsoidal distance.
NEAREST_SQL = text(
    """
    WITH q AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS pt)
    SELECT sa.id, sa.name, sa.community_code, sa.address, sa.opening_hours, sa.phone,
           sa.services, ST_X(sa.geom) AS lon, ST_Y(sa.geom) AS lat,
           ST_Distance(sa.geom::geography, q.pt, true) AS distance_m
    FROM service_area sa, q
    ORDER BY sa.geom::geography <-> q.pt
    LIMIT :k
    """
)


def area_name(session: Session, area_id: int) -> str | None:
    """The name of a service area (public information), None when there is none."""
    name = session.scalar(text("SELECT name FROM service_area WHERE id = :id"), {"id": area_id})
    return None if name is None else str(name)


def nearest_service_areas(
    session: Session, lon: float, lat: float, crs: Crs = Crs.wgs84, k: int = 1
) -> list[dict[str, Any]]:
    """The k service areas nearest to the point, closest first, with distance in metres."""
    limit = spatial_settings().max_nearest_k
    if not 1 <= k <= limit:
        raise InvalidInput(f"k must be between 1 and {limit}, got {k}")
    wlon, wlat = point_to_wgs84(lon, lat, crs)
    rows = session.execute(NEAREST_SQL, {"lon": wlon, "lat": wlat, "k": k}).mappings()
    return [dict(r) for r in rows]
