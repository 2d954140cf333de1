"""`houniao geocode` through its installed entry point, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.cli.geocode_file import CELL_COLUMNS
from geo.core.errors import OutsideCoverage
from geo.spatial import locate as locating
from geo.spatial.crs import Crs, wgs84_to_gcj02
from tests.db import test_database_url

HOUNIAO = str(Path(sys.executable).with_name("houniao"))


@pytest.fixture
def run(engine):
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def _run(*args: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [HOUNIAO, "geocode", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
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
    bad = pd.DataFrame(
        {
            "id": ["900", "901", "902", "903"],
            "x": ["", "abc", "nan", "0"],
            "y": ["", "47.7", "inf", "0"],
        }
    )
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.concat([rows.astype(str), bad]).to_csv(src, index=False)
    result = run(
        src, dst, "--lon-col", "x", "--lat-col", "y", "--crs", "gcj02", "--chunk-size", "5"
    )
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "x", "y", *CELL_COLUMNS, "reason"]
    assert out["id"].tolist()[:3] == ["000", "001", "002"]  # text kept as text
    want = [located(session, x, y, Crs.gcj02) for x, y in zip(glon, glat, strict=True)]
    assert out["cell_code"].tolist() == [*want, "", "", "", ""]
    assert all(len(c) == 15 for c in want)
    assert (out["community_code"].iloc[:8] == out["cell_code"].iloc[:8].str[:12]).all()
    assert (out["district_name"].iloc[:8] != "").all()
    assert out["reason"].tolist() == [""] * 8 + [
        "no coordinates",
        "coordinates are not finite numbers",
        "coordinates are not finite numbers",
        locating.OUTSIDE_COVERAGE,
    ]
    assert "12 rows: 8 in a grid cell, 1 outside the covered area, 3 without valid" in " ".join(
        result.stderr.split()
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".csv"])
def test_geopackage_points(run, session, inside, tmp_path, suffix) -> None:
    points = [*shapely.points(inside), shapely.Point(0, 0), None]
    frame = gpd.GeoDataFrame(
        {"name": [f"p{i}" for i in range(len(points))]}, geometry=points, crs=4326
    )
    src, dst = tmp_path / "in.gpkg", tmp_path / f"out{suffix}"
    frame.to_file(src, driver="GPKG")
    result = run(src, dst)
    assert result.returncode == 0, result.stderr
    if suffix == ".gpkg":
        out = gpd.read_file(dst)
        assert list(out.columns) == ["name", *CELL_COLUMNS, "reason", "geometry"]
    else:  # the geometry as WKT, where it was
        out = pd.read_csv(dst, dtype=str)
        assert list(out.columns) == ["name", "geometry", *CELL_COLUMNS, "reason"]
    want = [located(session, x, y) for x, y in inside]
    assert out["cell_code"].fillna("").tolist() == [*want, "", ""]
    assert out["reason"].fillna("").tolist() == [""] * len(want) + [
        locating.OUTSIDE_COVERAGE,
        "no coordinates",
    ]
    if suffix == ".gpkg":
        assert out.geometry.iloc[0].equals(points[0])


def test_address_column_places_rows_without_coordinates(run, inside, tmp_path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame(
        {
            "lon": [str(inside[0, 0]), ""],
            "lat": [str(inside[0, 1]), ""],
            "address": ["", "伊美区建设社区不存在的小区99栋"],
        }
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


def test_outside_points_say_why_instead_of_a_perfect_match(run, inside, tmp_path) -> None:
    """A point outside coverage is not match=coordinates/1.0 with empty cells: its reason says
    so, a swapped pair says swap (as the API does), and the address is tried instead."""
    lon, lat = inside[0]
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame(
        {
            "lon": [str(lon), "100.0", str(lat), str(lat)],
            "lat": [str(lat), "30.0", str(lon), str(lon)],
            "address": ["", "", "", "no such place"],
        }
    ).to_csv(src, index=False)
    result = run(src, dst, "--address-col", "address")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert list(out.columns)[-3:] == ["match", "match_score", "reason"]
    assert out["match"].tolist() == ["coordinates", "none", "none", "none"]
    assert out["match_score"].astype(float).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert out["reason"].iloc[0] == ""
    assert out["reason"].iloc[1] == locating.OUTSIDE_COVERAGE
    assert locating.LOOKS_SWAPPED in out["reason"].iloc[2]
    assert (
        locating.LOOKS_SWAPPED in out["reason"].iloc[3] and "by address: " in out["reason"].iloc[3]
    )
    assert (out["cell_code"].iloc[1:] == "").all()


def test_ambiguous_compound_reason_names_its_districts(run, session, tmp_path) -> None:
    compound, districts = session.execute(
        text(
            "SELECT a.compound, array_agg(DISTINCT d.name) FROM address_point a"
            " JOIN district d ON d.code = a.district_code GROUP BY a.compound"
            " HAVING count(DISTINCT a.district_code) > 1 ORDER BY a.compound LIMIT 1"
        )
    ).one()
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"lon": [""], "lat": [""], "address": [f"{compound}3号楼"]}).to_csv(
        src, index=False
    )
    result = run(src, dst, "--address-col", "address")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert out["match"].iloc[0] == "none" and out["cell_code"].iloc[0] == ""
    reason = out["reason"].iloc[0]
    assert "give the district" in reason and all(name in reason for name in districts)


def test_geopackage_output_keeps_numbers_numeric(run, inside, tmp_path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.gpkg"
    pd.DataFrame(
        {
            "code": ["007", "012"],
            "count": ["3", ""],
            "weight": ["1.5", "2"],
            "lon": [str(inside[0, 0]), "abc"],
            "lat": [str(inside[0, 1]), "47.7"],
        }
    ).to_csv(src, index=False)
    result = run(src, dst)
    assert result.returncode == 0, result.stderr
    info = pyogrio.read_info(dst)
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["code"] == "object"  # leading zeros: a code, kept as text
    assert (types["count"], types["weight"]) == ("int64", "float64")
    assert (types["lon"], types["lat"]) == ("float64", "float64")
    out = gpd.read_file(dst)
    assert out["code"].tolist() == ["007", "012"]
    assert out["lon"].iloc[0] == pytest.approx(inside[0, 0]) and pd.isna(out["lon"].iloc[1])
    assert out["reason"].iloc[1] == "coordinates are not finite numbers"


def test_non_utf8_input_names_the_encoding_option(run, inside, tmp_path) -> None:
    src = tmp_path / "gbk.csv"
    src.write_bytes(f"lon,lat,名称\n{inside[0, 0]},{inside[0, 1]},王家\n".encode("gb18030"))
    refused = run(src, tmp_path / "out.csv")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--encoding" in refused.stderr and "gb18030" in refused.stderr
    assert not (tmp_path / "out.csv").exists()
    ok = run(src, tmp_path / "out.csv", "--encoding", "gb18030")
    assert ok.returncode == 0, ok.stderr
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert out["名称"].iloc[0] == "王家" and len(out["cell_code"].iloc[0]) == 15
