"""GeoPackage export: the route and `houniao export gpkg`: layers, counts, CRS, Chinese names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from sqlalchemy import text

from geo.spatial.boundaries.models import in_release
from tests.db import test_database_url

HOUNIAO = str(Path(sys.executable).with_name("houniao"))
LAYERS = {
    "districts": ("district", "MultiPolygon"),
    "streets": ("street", "MultiPolygon"),
    "communities": ("community", "MultiPolygon"),
    "cells": ("grid_cell", "Polygon"),
    "service_areas": ("service_area", "Point"),
}


def db_names(session, table: str) -> dict[str, str]:
    if table == "service_area":
        sql = "SELECT id::text, name FROM service_area"
    else:
        sql = (
            f"SELECT t.code, t.name FROM {table} t, boundary_release r WHERE r.status = 'active'"
            f" AND {in_release('t', 'r.id')}"
        )
    return dict(session.execute(text(sql)).all())


def check_geopackage(path: Path, session, layers=LAYERS) -> None:
    listed = {name: gtype for name, gtype in pyogrio.list_layers(path)}
    assert listed == {name: gtype for name, (_, gtype) in layers.items()}
    for name, (table, _) in layers.items():
        gdf = gpd.read_file(path, layer=name)
        assert gdf.crs.to_epsg() == 4326
        expected = db_names(session, table)
        key = "id" if name == "service_areas" else "code"
        assert dict(zip(gdf[key].astype(str), gdf["name"], strict=True)) == expected
        assert gdf.geometry.is_valid.all() and not gdf.geometry.is_empty.any()
    districts = gpd.read_file(path, layer="districts")
    assert "伊美区" in set(districts["name"])
    cells = gpd.read_file(path, layer="cells")
    assert {"community_name", "street_name", "district_name", "households"} <= set(cells.columns)


def test_boundaries_gpkg_route(client, session, tmp_path):
    r = client.get("/api/v1/export/boundaries.gpkg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geopackage+sqlite3"
    assert 'filename="houniao-boundaries-r' in r.headers["content-disposition"]
    path = tmp_path / "boundaries.gpkg"
    path.write_bytes(r.content)
    check_geopackage(path, session)
    info = pyogrio.read_info(path, layer="cells")
    assert info["layer_metadata"]["boundary_release"].isdigit()


@pytest.fixture
def houniao(engine):
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def _run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [HOUNIAO, *args], capture_output=True, text=True, env=env, timeout=120
        )

    return _run


def test_cli_writes_every_boundary_layer(houniao, session, tmp_path):
    out = tmp_path / "yichun.gpkg"
    result = houniao("export", "gpkg", str(out))
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts == {name: len(db_names(session, t)) for name, (t, _) in LAYERS.items()}
    check_geopackage(out, session)


def test_cli_layer_choice_and_unknown_layer(houniao, tmp_path):
    out = tmp_path / "cells.gpkg"
    result = houniao("export", "gpkg", str(out), "--layer", "cells")
    assert result.returncode == 0 and [n for n, _ in pyogrio.list_layers(out)] == ["cells"]
    bad = houniao("export", "gpkg", str(tmp_path / "x.gpkg"), "--layer", "residents")
    assert bad.returncode == 2 and "residents" in bad.stderr and "Traceback" not in bad.stderr
