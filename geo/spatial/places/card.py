"""The public service card (您来旅居我服务): a point -> its cell, grid worker, nearest service area.

Everything on the card is public work information: the cell, the grid worker's name, work phone
and WeChat id, the service area. Nothing about residents.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.spatial import locate as locating
from geo.spatial.boundaries import queries
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import active_release_id
from geo.spatial.crs import Crs
from geo.spatial.places import service as places
from geo.spatial.places.catalogue import SERVICE_CATALOGUE


@dataclass(frozen=True)
class ServiceCard:
    """What the card shows. `cell` is a GeoJSON Feature; `service_area` has `distance_m`
    (on the ellipsoid, straight line) and lon/lat, or is None when no service area exists."""

    lon: float  # WGS84
    lat: float
    cell: dict[str, Any]
    grid_workers: list[dict[str, str]]
    service_area: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def services_by_category(services: list[str]) -> list[tuple[str, list[str]]]:
    """``["culture:书画", ...]`` -> ``[("文化休闲", ["书画", ...]), ...]`` in catalogue order.

    >>> services_by_category(["culture:书画", "tourism:景区导览", "culture:编织"])
    [('旅游咨询', ['景区导览']), ('文化休闲', ['书画', '编织'])]
    """
    grouped: dict[str, list[str]] = {}
    for entry in services:
        category, _, name = entry.partition(":")
        grouped.setdefault(category, []).append(name)
    return [
        (label, grouped[code]) for code, (label, _) in SERVICE_CATALOGUE.items() if code in grouped
    ]


def service_card(session: Session, lon: float, lat: float, crs: Crs = Crs.wgs84) -> ServiceCard:
    """Locate the point and gather the card's contents.

    Raises InvalidInput for a malformed point and OutsideCoverage when no cell contains it.
    """
    where = locating.locate(session, lon, lat, crs)
    cell = queries.cell(session, where.cell_code, where.release)
    geometry = cell.pop("geometry")
    cell.pop("grid_workers", None)
    nearest = places.nearest_service_areas(session, where.lon, where.lat, Crs.wgs84, k=1)
    area = None
    if nearest:
        area = {
            **nearest[0],
            "distance_m": round(float(nearest[0]["distance_m"]), 1),
            "services_by_category": services_by_category(nearest[0]["services"]),
        }
    return ServiceCard(
        lon=where.lon,
        lat=where.lat,
        cell={
            "type": "Feature",
            "id": where.cell_code,
            "geometry": json.loads(geometry) if isinstance(geometry, str) else geometry,
            "properties": cell,
        },
        grid_workers=list(where.grid_workers),
        service_area=area,
    )


_EXAMPLE = text(
    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell"
    f" WHERE {in_release('grid_cell')} ORDER BY code LIMIT 1) AS first_cell"
)


def example_point(session: Session) -> tuple[float, float] | None:
    """A WGS84 point inside the first cell of the active release, for usage examples (so the
    example always answers with a card); None before any release is loaded."""
    rid = active_release_id(session)
    if rid is None:
        return None
    row = session.execute(_EXAMPLE, {"rid": rid}).first()
    return (float(row[0]), float(row[1])) if row else None
