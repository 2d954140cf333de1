"""GDAL as a client of the real API (uvicorn in a subprocess, on the test database).

ogrinfo lists the OGC collections and reads every feature of one through paging; ogr2ogr copies a
collection into a GeoPackage that geopandas reads back; ogrinfo opens the GeoPackage export.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import geopandas as gpd
import httpx
import pytest
from sqlalchemy import text

from geo.spatial.boundaries.models import in_release
from tests.db import test_database_url
from tests.live import live_api
from tests.spatial.conftest import ACTIVE

pytestmark = pytest.mark.gdal


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # a missing tool is a failure, not a skip
        pytest.fail(f"{name} is missing: apt-get install -y gdal-bin")
    return path


@pytest.fixture(scope="module")
def api(engine) -> Iterator[str]:
    """The real API, served by uvicorn in a subprocess against the test database."""
    with live_api(
        test_database_url().render_as_string(hide_password=False), ready_path="/ogc"
    ) as base:
        yield base


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def count(session, table: str) -> int:
    where = "" if table == "service_area" else f" WHERE {in_release(table, ACTIVE)}"
    return session.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar_one()


def test_ogrinfo_lists_the_collections(api):
    out = run(_tool("ogrinfo"), "-ro", "-so", f"OAPIF:{api}/ogc")
    layers = re.findall(r"^\d+: (\w+) ", out, re.MULTILINE)
    assert {"cells", "communities", "districts", "service_areas"} <= set(layers)


@pytest.mark.parametrize("layer,table", [("cells", "grid_cell"), ("service_areas", "service_area")])
def test_ogrinfo_reads_every_feature_through_paging(api, session, layer, table):
    out = run(_tool("ogrinfo"), "-ro", "-al", "-q", f"OAPIF:{api}/ogc", layer)
    assert len(re.findall(rf"^OGRFeature\({layer}\):", out, re.MULTILINE)) == count(session, table)
    assert "name (String) = " in out and re.search(r"name \(String\) = \S*[\u4e00-\u9fff]", out)


def test_ogrinfo_reports_the_feature_count(api, session):
    out = run(_tool("ogrinfo"), "-ro", "-so", f"OAPIF:{api}/ogc", "communities")
    assert f"Feature Count: {count(session, 'community')}" in out


def test_ogr2ogr_copies_a_collection_to_geopackage(api, session, tmp_path):
    out = tmp_path / "cells.gpkg"
    run(_tool("ogr2ogr"), "-f", "GPKG", str(out), f"OAPIF:{api}/ogc", "cells")
    gdf = gpd.read_file(out, layer="cells")
    assert len(gdf) == count(session, "grid_cell")
    assert gdf.crs.to_epsg() == 4326 and gdf["name"].str.endswith("网格").all()
    assert gdf["code"].is_unique


def test_ogrinfo_opens_the_geopackage_export(api, tmp_path):
    path = tmp_path / "boundaries.gpkg"
    path.write_bytes(httpx.get(f"{api}/api/v1/export/boundaries.gpkg", timeout=60).content)
    out = run(_tool("ogrinfo"), "-ro", "-so", str(path))
    assert re.findall(r"^\d+: (\w+) ", out, re.MULTILINE) == [
        "districts",
        "streets",
        "communities",
        "cells",
        "service_areas",
    ]
