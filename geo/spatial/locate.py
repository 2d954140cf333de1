"""Point -> grid cell, the one operation every user needs (single-point path, in PostGIS).

Shared-edge rule: a point on an edge or vertex shared by several cells belongs to the cell with the
lowest 15-digit code among those whose closed polygon contains it. The batch path
(geo/spatial/batch.py) applies the same rule in-process, and a property test checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.errors import OutsideCoverage
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.crs import Crs, point_to_wgs84

# Why a point has no cell, in the words the API, `houniao locate` and `houniao geocode` share.
OUTSIDE_COVERAGE = "outside the covered area (no grid cell of Yichun's urban cores contains it)"
# A point that fits only after swapping lon and lat was swapped.
LOOKS_SWAPPED = "The numbers look like lat,lon: did you swap lon and lat?"

LOCATE_SQL = text(
    f"""
    SELECT g.code AS cell_code, g.name AS cell_name,
           c.code AS community_code, c.name AS community_name,
           s.code AS street_code, s.name AS street_name,
           d.code AS district_code, d.name AS district_name,
           coalesce((SELECT json_agg(json_build_object('name', w.name, 'work_phone', w.work_phone,
                                                       'wechat_id', w.wechat_id) ORDER BY w.id)
                     FROM grid_worker_cell wc JOIN grid_worker w ON w.id = wc.worker_id
                     WHERE wc.cell_code = g.code), '[]'::json) AS grid_workers
    FROM grid_cell g
    JOIN community c ON c.code = g.community_code AND {in_release("c")}
    JOIN street s ON s.code = c.street_code AND {in_release("s")}
    JOIN district d ON d.code = s.district_code AND {in_release("d")}
    WHERE {in_release("g")}
      AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    ORDER BY g.code
    LIMIT 1
    """
)

_INSIDE_ANY_CELL = text(
    "SELECT EXISTS (SELECT 1 FROM grid_cell g"
    f" WHERE {in_release('g')}"
    " AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)))"
)


@dataclass(frozen=True)
class Location:
    lon: float  # WGS84, after conversion from the caller's crs
    lat: float
    cell_code: str
    cell_name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    district_code: str
    district_name: str
    release: int
    grid_workers: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        # What asdict() gives, without its recursive deep copy (a tenth of a cached locate).
        out = dict(vars(self))
        out["grid_workers"] = [dict(w) for w in self.grid_workers]
        return out


def locate(
    session: Session, lon: float, lat: float, crs: Crs = Crs.wgs84, release: int | None = None
) -> Location:
    """Return the cell containing the point, with its hierarchy and grid worker(s).

    Raises InvalidInput for NaN/infinite/out-of-range values and OutsideCoverage (a NotFound)
    when no cell of the release contains the point.
    """
    wlon, wlat = point_to_wgs84(lon, lat, crs)
    rid = resolve_release(session, release)
    row = session.execute(LOCATE_SQL, {"lon": wlon, "lat": wlat, "rid": rid}).mappings().first()
    if row is None:
        raise OutsideCoverage(_outside_message(session, lon, lat, crs, rid))
    return Location(lon=wlon, lat=wlat, release=rid, **row)


def _outside_message(session: Session, lon: float, lat: float, crs: Crs, rid: int) -> str:
    message = f"the point ({lon}, {lat}) in {crs.value} lies {OUTSIDE_COVERAGE}."
    if -90 <= lon <= 90 and -180 <= lat <= 180:
        slon, slat = point_to_wgs84(lat, lon, crs)
        swapped = session.execute(_INSIDE_ANY_CELL, {"lon": slon, "lat": slat, "rid": rid}).scalar()
        if swapped:
            message += " " + LOOKS_SWAPPED
    return message
