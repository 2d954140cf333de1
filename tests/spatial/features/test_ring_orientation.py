"""RFC 7946 ring order everywhere: outer rings counter-clockwise, holes clockwise, for every
polygon layer through every way out (spatial API, OGC API items, GeoPackage export), and stored
so by every write (the tables CHECK it)."""

from __future__ import annotations

from itertools import pairwise

import pyogrio
import pytest
import shapely
import sqlalchemy.exc
from sqlalchemy import text

from geo.spatial.features import registry

POLYGON_LAYERS = [c.id for c in registry.collections() if "Polygon" in c.geometry_type]
TABLES = ("district", "street", "community", "grid_cell")


def signed_area(ring: list[list[float]]) -> float:
    """Shoelace: positive for a counter-clockwise ring (lon east, lat north)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in pairwise(ring))


def rings_in_rfc7946_order(geometry: dict) -> list[str]:
    """The problems of one GeoJSON geometry (empty when every ring is wound as RFC 7946 says)."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    problems = []
    for p, (outer, *holes) in enumerate(polygons):
        if signed_area(outer) <= 0:
            problems.append(f"polygon {p}: outer ring clockwise")
        problems += [
            f"polygon {p}: hole {h} counter-clockwise"
            for h, hole in enumerate(holes)
            if signed_area(hole) >= 0
        ]
    return problems


def assert_ccw(features: list[dict], where: str) -> None:
    assert features, f"{where}: no features to check"
    bad = {f.get("id"): rings_in_rfc7946_order(f["geometry"]) for f in features}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, (
        f"{where}: {len(bad)} of {len(features)} wound wrong, e.g. {list(bad.items())[:3]}"
    )


def test_the_polygon_layers_are_the_four_levels() -> None:
    assert set(POLYGON_LAYERS) == {"districts", "streets", "communities", "cells"}


@pytest.mark.parametrize(
    "path", ["/api/v1/districts", "/api/v1/communities", "/api/v1/cells?limit=1000"]
)
def test_spatial_api_collections(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert_ccw(r.json()["features"], path)


def test_spatial_api_one_cell(client, session) -> None:
    code = session.scalar(text("SELECT min(code) FROM grid_cell"))
    r = client.get(f"/api/v1/cells/{code}")
    assert r.status_code == 200
    assert_ccw([r.json()], r.url.path)


@pytest.mark.parametrize("layer", POLYGON_LAYERS)
def test_ogc_api_items(client, layer) -> None:
    r = client.get(f"/ogc/collections/{layer}/items", params={"limit": 1000})
    assert r.status_code == 200, r.text
    assert_ccw(r.json()["features"], f"OGC {layer}")


def test_geopackage_export(client, tmp_path) -> None:
    r = client.get("/api/v1/export/boundaries.gpkg")
    assert r.status_code == 200
    path = tmp_path / "b.gpkg"
    path.write_bytes(r.content)
    for layer in POLYGON_LAYERS:
        frame = pyogrio.read_dataframe(path, layer=layer)
        features = [
            {"id": i, "geometry": shapely.geometry.mapping(g)} for i, g in enumerate(frame.geometry)
        ]
        assert_ccw(features, f"GeoPackage {layer}")


@pytest.mark.parametrize("table", TABLES)
def test_the_tables_refuse_a_clockwise_ring(session, table) -> None:
    """Every later write keeps the order: a clockwise copy of a stored row is refused."""
    assert session.scalar(text(f"SELECT bool_and(ST_IsPolygonCCW(geom)) FROM {table}"))
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="geom_ccw"), session.begin_nested():
        session.execute(
            text(
                f"UPDATE {table} SET geom = ST_ForcePolygonCW(geom)"
                f" WHERE code = (SELECT min(code) FROM {table})"
            )
        )
