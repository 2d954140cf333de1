"""One way to build GeoJSON (RFC 7946): WGS84 lon/lat, geometry from PostGIS's ST_AsGeoJSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

# 7 decimals of a degree is about 1 cm: enough for boundaries, small enough to ship.
GEOJSON_DECIMALS = 7


def feature(
    row: Mapping[str, Any], *, id_key: str, geometry_key: str = "geometry"
) -> dict[str, Any]:
    """A Feature from a row whose `geometry_key` holds ST_AsGeoJSON text (or None)."""
    geometry = row.get(geometry_key)
    return {
        "type": "Feature",
        "id": row[id_key],
        "geometry": orjson.loads(geometry) if isinstance(geometry, str) else geometry,
        "properties": {k: v for k, v in row.items() if k != geometry_key},
    }


def feature_collection(
    rows: Iterable[Mapping[str, Any]],
    *,
    id_key: str,
    geometry_key: str = "geometry",
    **members: Any,
) -> dict[str, Any]:
    features = [feature(r, id_key=id_key, geometry_key=geometry_key) for r in rows]
    return {"type": "FeatureCollection", "features": features, **members}
