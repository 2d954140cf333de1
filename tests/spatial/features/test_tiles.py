"""Vector tiles: MVT from PostGIS, decoded with mapbox-vector-tile, counted against PostGIS."""

from __future__ import annotations

import re
from dataclasses import replace

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from geo.spatial.boundaries.models import in_release
from geo.spatial.features import registry
from tests.spatial.conftest import ACTIVE, CELL, tile_of

MVT = "application/vnd.mapbox-vector-tile"
HAN = re.compile(r"[\u4e00-\u9fff]")

# layer -> (table, id column) of the PostGIS count a tile must match
TABLES = {
    "cells": ("grid_cell", "code"),
    "communities": ("community", "code"),
    "districts": ("district", "code"),
    "streets": ("street", "code"),
    "service_areas": ("service_area", "id"),
}


def postgis_ids(session, layer: str, z: int, x: int, y: int) -> set[str]:
    """Ids of the rows intersecting the tile envelope, by PostGIS directly."""
    table, id_col = TABLES[layer]
    current = "" if layer == "service_areas" else (f" AND {in_release(table, ACTIVE)}")
    rows = session.execute(
        text(
            f"SELECT {id_col}::text FROM {table}"
            " WHERE ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y))" + current
        ),
        {"z": z, "x": x, "y": y},
    )
    return {r[0] for r in rows}


def get_tile(client, layer: str, z: int, x: int, y: int) -> dict:
    r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MVT
    return mapbox_vector_tile.decode(r.content)


@pytest.mark.parametrize("z", [12, 14, 15])
def test_cells_tile_holds_exactly_the_cells_postgis_finds(client, session, inside, z):
    x, y = tile_of(*inside, z)
    tile = get_tile(client, "cells", z, x, y)
    assert list(tile) == ["cells"]
    features = tile["cells"]["features"]
    expected = postgis_ids(session, "cells", z, x, y)
    assert CELL in expected
    assert len(features) == len(expected)
    assert {f["properties"]["code"] for f in features} == expected
    for f in features:
        props = f["properties"]
        assert f["id"] == int(props["code"])  # the MVT feature id is the grid code
        assert HAN.search(props["name"]) and props["name"].endswith("网格")
        assert props["community_code"] == props["code"][:12] and HAN.search(props["district_name"])


@pytest.mark.parametrize(
    "layer,z", [("communities", 12), ("service_areas", 12), ("streets", 10), ("districts", 8)]
)
def test_other_layers_match_postgis_counts(client, session, inside, layer, z):
    x, y = tile_of(*inside, z)
    features = get_tile(client, layer, z, x, y)[layer]["features"]
    expected = postgis_ids(session, layer, z, x, y)
    assert expected and len(features) == len(expected)
    id_key = "id" if layer == "service_areas" else "code"
    assert {str(f["properties"][id_key]) for f in features} == expected
    assert all(HAN.search(f["properties"]["name"]) for f in features)


def test_tile_headers(client, inside):
    x, y = tile_of(*inside, 14)
    r = client.get(f"/tiles/cells/14/{x}/{y}.mvt")
    assert r.headers["content-type"] == MVT
    assert r.headers["cache-control"].startswith("public")


def test_empty_tile_is_204(client):
    r = client.get("/tiles/cells/14/0/0.mvt")  # the Pacific, off Alaska
    assert r.status_code == 204 and r.content == b""


def test_tile_below_the_layer_minzoom_is_empty(client, inside):
    x, y = tile_of(*inside, 4)
    assert client.get(f"/tiles/cells/4/{x}/{y}.mvt").status_code == 204


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/cells/25/0/0.mvt",
        "/tiles/cells/-1/0/0.mvt",
        "/tiles/cells/3/8/0.mvt",
        "/tiles/cells/3/0/8.mvt",
        "/tiles/cells/3/-1/0.mvt",
        "/tiles/cells/abc/0/0.mvt",
        "/tiles/cells/3/0/1.5.mvt",
    ],
)
def test_bad_tile_address_is_422(client, path):
    r = client.get(path)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_unknown_layer_is_404(client):
    r = client.get("/tiles/residents/14/0/0.mvt")
    assert r.status_code == 404
    assert "cells" in r.json()["detail"]  # names the known layers
    assert client.get("/tiles/residents.json").status_code == 404


@pytest.mark.parametrize("layer", ["cells", "communities", "service_areas"])
def test_tilejson(client, inside, layer):
    r = client.get(f"/tiles/{layer}.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
    assert doc["tiles"] == [f"http://testserver/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"]
    assert 0 <= doc["minzoom"] <= doc["maxzoom"] <= 24
    west, south, east, north = doc["bounds"]
    assert 127 < west < east < 131 and 46 < south < north < 49.5  # Yichun
    lon, lat, zoom = doc["center"]
    assert west <= lon <= east and south <= lat <= north and doc["minzoom"] <= zoom
    (vector_layer,) = doc["vector_layers"]
    assert vector_layer["id"] == layer
    assert {"name"} <= set(vector_layer["fields"])
    # The template yields a tile that decodes with that layer.
    z = max(doc["minzoom"], 12)
    x, y = tile_of(*inside, z)
    url = doc["tiles"][0].format(z=z, x=x, y=y).removeprefix("http://testserver")
    assert layer in mapbox_vector_tile.decode(client.get(url).content)


def test_a_replaced_public_layer_is_tiled_from_its_new_source(client, session, inside):
    """A public layer's tile statement is built once per registration (tiles._public_statement):
    a registration that replaces it must be tiled from the new source, not the kept statement."""
    cells = registry.get("cells")
    x, y = tile_of(*inside, 14)
    try:
        registry.register(replace(cells, id="scratch_cells"))
        assert CELL in {f["properties"]["code"] for f in scratch_features(client, x, y)}
        one = cells.source.replace("WHERE", f"WHERE g.code <> '{CELL}' AND", 1)
        registry.register(replace(cells, id="scratch_cells", source=one), replace=True)
        codes = {f["properties"]["code"] for f in scratch_features(client, x, y)}
        assert codes and CELL not in codes
    finally:
        registry.unregister("scratch_cells")


def scratch_features(client, x: int, y: int) -> list[dict]:
    return get_tile(client, "scratch_cells", 14, x, y)["scratch_cells"]["features"]
