"""`houniao geocode` through its installed entry point, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.cli.geocode import CELL_COLUMNS
from geo import locate as locating
from geo.crs import Crs, wgs84_to_gcj02
from geo.errors import OutsideCoverage
from tests.db import test_database_url

HOUNIAO = str(Path(sys.executable).with_name("houniao"))


@pytest.fixture
def run(engine):
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def _run(*args: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [HOUNIAO, "geocode", *map(str, args)], capture_output=True, text=True, env=env,
            timeout=180,
        )

    return _run


@pytest.fixture
def inside(session: Session) -> np.ndarray:
    """WGS84 points well inside eight demo cells (their ST_PointOnSurface)."""
    rows = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell"
            " ORDER BY code LIMIT 8 OFFSET 100) s"
        )
    ).all()
    return np.array(rows, dtype=float)


def located(session: Session, lon: float, lat: float, crs: Crs = Crs.wgs84) -> str:
    try:
        return locating.locate(session, lon, lat, crs).cell_code
    except OutsideCoverage:
        return ""


def test_csv_with_gcj02_coordinates(run, session, inside, tmp_path) -> None:
    glon, glat = wgs84_to_gcj02(inside[:, 0], inside[:, 1])
    rows = pd.DataFrame({"id": [f"{i:03d}" for i in range(len(inside))], "x": glon, "y": glat})
    bad = pd.DataFrame({"id": ["900", "901", "902", "903"], "x": ["", "abc", "nan", "0"],
                        "y": ["", "47.7", "inf", "0"]})
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.concat([rows.astype(str), bad]).to_csv(src, index=False)
    result = run(src, dst, "--lon-col", "x", "--lat-col", "y", "--crs", "gcj02", "--chunk-size", "5")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "x", "y", *CELL_COLUMNS]
    assert out["id"].tolist()[:3] == ["000", "001", "002"]  # text kept as text
    want = [located(session, x, y, Crs.gcj02) for x, y in zip(glon, glat, strict=True)]
    assert out["cell_code"].tolist() == [*want, "", "", "", ""]
    assert all(len(c) == 15 for c in want)
    assert (out["community_code"].iloc[:8] == out["cell_code"].iloc[:8].str[:12]).all()
    assert (out["district_name"].iloc[:8] != "").all()
    assert "12 rows: 8 in a grid cell, 1 outside the covered area, 3 without valid" in " ".join(
        result.stderr.split()
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".csv"])
def test_geopackage_points(run, session, inside, tmp_path, suffix) -> None:
    points = [*shapely.points(inside), shapely.Point(0, 0), None]
    frame = gpd.GeoDataFrame({"name": [f"p{i}" for i in range(len(points))]}, geometry=points,
                             crs=4326)
    src, dst = tmp_path / "in.gpkg", tmp_path / f"out{suffix}"
    frame.to_file(src, driver="GPKG")
    result = run(src, dst)
    assert result.returncode == 0, result.stderr
    if suffix == ".gpkg":
        out = gpd.read_file(dst)
        assert list(out.columns) == ["name", *CELL_COLUMNS, "geometry"]
    else:  # the geometry as WKT, where it was
        out = pd.read_csv(dst, dtype=str)
        assert list(out.columns) == ["name", "geometry", *CELL_COLUMNS]
    want = [located(session, x, y) for x, y in inside]
    assert out["cell_code"].fillna("").tolist() == [*want, "", ""]
    if suffix == ".gpkg":
        assert out.geometry.iloc[0].equals(points[0])


def test_address_column_places_rows_without_coordinates(run, inside, tmp_path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame(
        {"lon": [str(inside[0, 0]), ""], "lat": [str(inside[0, 1]), ""],
         "address": ["", "伊美区建设社区不存在的小区99栋"]}
    ).to_csv(src, index=False)
    result = run(src, dst, "--address-col", "address")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert out["match"].iloc[0] == "coordinates" and len(out["cell_code"].iloc[0]) == 15
    assert out["match"].iloc[1] in {"exact", "fuzzy", "community", "none"}
    if out["match"].iloc[1] in {"community", "none"}:
        assert out["cell_code"].iloc[1] == ""  # never placed in a cell silently


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("--lon-col", "lng"), "no column 'lng'"),
        (("--crs", "web-mercator"), "accepted values"),
        (("--address-col", "addr"), "no address column 'addr'"),
    ],
)
def test_bad_input_exits_nonzero_with_a_message(run, tmp_path, args, fragment) -> None:
    src = tmp_path / "in.csv"
    src.write_text("lon,lat\n129.0,47.7\n", encoding="utf-8")
    result = run(src, tmp_path / "out.csv", *args)
    assert result.returncode != 0
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name,content", [("missing.csv", None), ("broken.gpkg", b"not a db")])
def test_unreadable_input_exits_nonzero(run, tmp_path, name, content) -> None:
    src = tmp_path / name
    if content is not None:
        src.write_bytes(content)
    result = run(src, tmp_path / "out.csv")
    assert result.returncode != 0
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr
