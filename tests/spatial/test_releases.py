"""Boundary imports: validation report per row, nothing written unless it passes, versioned releases."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import affinity
from sqlalchemy import func, select, text

import geo
from geo.core.errors import InvalidInput, ReleaseRejected
from geo.spatial import locate as locating
from geo.spatial.boundaries import importing, releases
from geo.spatial.boundaries.models import GridCell, in_release
from geo.spatial.crs import Crs, from_wgs84

COMMUNITY = "230717001001"


@pytest.fixture
def cells(session) -> gpd.GeoDataFrame:
    """The current cells of one community, as a file would hold them."""
    return gpd.read_postgis(
        text(
            "SELECT code, name, geom FROM grid_cell WHERE community_code = :c AND release_high IS NOT NULL ORDER BY code"
        ),
        session.connection(),
        params={"c": COMMUNITY},
        geom_col="geom",
    ).rename_geometry("geometry")


def _write(frame: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    frame.to_file(path, engine="pyogrio", **kwargs)
    return path


def _validate(session, path: Path, crs: str | None = None) -> releases.ValidationReport:
    releases.stage(session, importing.read_boundaries(path, "grid", crs))
    return releases.validate(session)


def test_clean_reimport_becomes_a_new_active_release(session, cells, tmp_path):
    renamed = cells.assign(name=[f"新{n}" for n in cells.name])
    report = _validate(session, _write(renamed, tmp_path / "cells.geojson"))
    assert report.ok, report.as_dict()
    old = releases.active_release_id(session)
    new = releases.write_release(session, name="t", level="grid", source="t", report=report)
    assert releases.active_release_id(session) == new != old
    point = shapely.Point(*shapely.get_coordinates(cells.geometry.iloc[4].centroid)[0])
    now = locating.locate(session, point.x, point.y)
    before = locating.locate(session, point.x, point.y, release=old)
    assert now.cell_name.startswith("新") and not before.cell_name.startswith("新")
    assert now.cell_code == before.cell_code
    # Cells of other communities were carried forward into the new release.
    carried = session.execute(
        text(f"SELECT count(*) FROM grid_cell WHERE {in_release('grid_cell', ':r')}"),
        {"r": new},
    ).scalar()
    assert carried >= 1000


def test_overlap_and_gap_are_reported_with_areas(session, cells, tmp_path):
    moved = cells.copy()
    moved.loc[0, "geometry"] = affinity.translate(moved.geometry[0], xoff=0.001)  # ~75 m east
    report = _validate(session, _write(moved, tmp_path / "moved.gpkg"))
    kinds = {p.problem for p in report.problems}
    assert {"overlap", "gap", "outside_parent"} & kinds >= {"overlap", "gap"}
    for kind in ("overlap", "gap"):
        assert max(p.area_m2 or 0 for p in report.problems if p.problem == kind) > 1000
    with pytest.raises(ReleaseRejected, match="--force"):
        releases.write_release(session, name="t", level="grid", source="t", report=report)


def test_invalid_geometry_is_reported_with_reason_and_never_written(session, cells, tmp_path):
    broken = cells.copy()
    x0, y0, x1, y1 = broken.geometry[2].bounds
    broken.loc[2, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    report = _validate(session, _write(broken, tmp_path / "bowtie.geojson"))
    problem = next(p for p in report.problems if p.problem == "invalid_geometry")
    assert problem.row == 3 and "Self-intersection" in problem.detail
    with pytest.raises(ReleaseRejected, match="cannot be forced"):
        releases.write_release(
            session, name="t", level="grid", source="t", report=report, force=True
        )


def test_bad_codes_duplicates_and_unknown_parents(session, cells, tmp_path):
    frame = cells.copy()
    frame.loc[0, "code"] = "123"
    frame.loc[1, "code"] = frame.loc[2, "code"]
    report = _validate(session, _write(frame, tmp_path / "codes.geojson"))
    assert {"bad_code", "duplicate_code"} <= {p.problem for p in report.problems}
    orphan = cells.head(1).assign(code="999999001001001")
    report = _validate(session, _write(orphan, tmp_path / "orphan.geojson"))
    assert [p.problem for p in report.problems] == ["unknown_parent"]


def test_gcj02_file_is_converted_on_import(session, cells, tmp_path):
    shifted = cells.copy()
    shifted["geometry"] = shapely.transform(
        cells.geometry.values,
        lambda c: np.column_stack(from_wgs84(c[:, 0], c[:, 1], Crs.gcj02)),
    )
    path = _write(shifted, tmp_path / "amap.geojson")
    assert not _validate(session, path).ok  # read as WGS84 it is 580 m off
    assert _validate(session, path, crs="gcj02").ok


def test_file_without_crs_is_refused(cells, tmp_path):
    path = _write(cells.set_crs(None, allow_override=True), tmp_path / "nocrs.shp")
    with pytest.raises(InvalidInput, match="declares no coordinate system"):
        importing.read_boundaries(path, "grid")
    assert importing.read_boundaries(path, "grid", crs="wgs84")


def test_gbk_shapefile_reads_chinese_names(cells, tmp_path):
    path = _write(cells, tmp_path / "gbk.shp", encoding="gbk")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    rows = importing.read_boundaries(path, "grid")
    assert [r.name for r in rows] == list(cells.name)


def test_unknown_level_and_missing_file(tmp_path):
    with pytest.raises(InvalidInput, match="accepted: district, street, community, grid"):
        importing.read_boundaries(tmp_path / "x.geojson", "province")
    with pytest.raises(InvalidInput, match="no such file"):
        importing.read_boundaries(tmp_path / "x.geojson", "grid")


def test_the_release_rule_is_spelled_once():
    """`in_release` (geo/spatial/boundaries/models.py) is the one spelling of "current in release R";
    SQL that writes the comparison out again would drift from it (MapIt's Generation manager)."""
    home = Path(inspect.getfile(in_release)).resolve()
    root = Path(inspect.getfile(geo)).resolve().parents[1]
    spelled = re.compile(r"release_low\s*<=|release_high\s*>=|>=\s*\w*\.?release_low")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("geo", "api", "maps", "bench", "tests")
        for path in sorted((root / folder).rglob("*.py"))
        if path not in (home, Path(__file__).resolve())
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert offenders == []


def test_in_release_selects_the_rows_of_that_release(session):
    rid = releases.active_release_id(session)
    expected = session.execute(
        text("SELECT count(*) FROM grid_cell WHERE :r BETWEEN release_low AND release_high"),
        {"r": rid},
    ).scalar_one()
    sql = session.execute(
        text(f"SELECT count(*) FROM grid_cell g WHERE {in_release('g')}"), {"rid": rid}
    ).scalar_one()
    orm = session.execute(
        select(func.count()).select_from(GridCell).where(GridCell.in_release(rid))
    ).scalar_one()
    assert sql == orm == expected > 0


def test_one_pass_reports_every_problem_of_a_file(session, cells, tmp_path):
    """An invalid row no longer hides the overlaps, gaps and outside-parent rows of the others."""
    frame = cells.copy()
    x0, y0, x1, y1 = frame.geometry[2].bounds
    frame.loc[2, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    frame.loc[0, "geometry"] = affinity.translate(frame.geometry[0], xoff=0.001)  # ~75 m east
    frame.loc[5, "code"] = "12345"
    report = _validate(session, _write(frame, tmp_path / "many.geojson"))
    kinds = {p.problem for p in report.problems}
    assert {"invalid_geometry", "bad_code", "overlap", "gap", "outside_parent"} <= kinds, kinds
    moved_code = cells.code[0]
    assert any(p.problem == "overlap" and moved_code in (p.code, p.detail) for p in report.problems)
    assert next(p for p in report.problems if p.problem == "invalid_geometry").row == 3


def test_a_multi_layer_geopackage_needs_its_layer_named(cells, tmp_path):
    path = tmp_path / "two.gpkg"
    _write(cells, path, layer="cells")
    _write(cells.head(2), path, layer="draft")
    with pytest.raises(InvalidInput, match=r"2 layers \(cells, draft\); name one with --layer"):
        importing.read_boundaries(path, "grid")
    assert len(importing.read_boundaries(path, "grid", layer="cells")) == len(cells)
    assert len(importing.read_boundaries(path, "grid", layer="draft")) == 2
    with pytest.raises(InvalidInput, match="no layer 'other'; its layers: cells, draft"):
        importing.read_boundaries(path, "grid", layer="other")


def test_one_crs_rule_for_files(session, cells, tmp_path):
    """Named lon/lat systems (EPSG:4326/4490 included) or a projected EPSG code; a label that
    contradicts the coordinates (degrees as EPSG:3857, metres as lon/lat) is refused."""
    plain = _write(cells, tmp_path / "plain.geojson")
    for name in ("wgs84", "EPSG:4326", "cgcs2000", "EPSG:4490", "epsg4490", "北斗"):
        assert _validate(session, plain, crs=name).ok, name
    with pytest.raises(InvalidInput, match="are degrees, but EPSG:3857"):
        importing.read_boundaries(plain, "grid", crs="EPSG:3857")
    mercator = _write(cells.to_crs(3857), tmp_path / "mercator.gpkg")
    assert _validate(session, mercator).ok  # the file's own projected label, converted by PROJ
    assert _validate(session, mercator, crs="EPSG:3857").ok
    with pytest.raises(InvalidInput, match="are not degrees, but wgs84 is lon/lat"):
        importing.read_boundaries(mercator, "grid", crs="wgs84")
    mislabelled = _write(
        cells.to_crs(4552).set_crs(4326, allow_override=True), tmp_path / "mislabelled.gpkg"
    )
    with pytest.raises(InvalidInput, match="are not degrees"):
        importing.read_boundaries(mislabelled, "grid")
    assert _validate(session, mislabelled, crs="EPSG:4552").ok
    for bad, fragment in (
        ("web", "unknown crs 'web'"),
        ("EPSG:4214", "Beijing 1954"),
        ("EPSG:99999", "no EPSG:99999"),
    ):
        with pytest.raises(InvalidInput, match=fragment) as caught:
            importing.read_boundaries(plain, "grid", crs=bad)
        assert "EPSG:4326 is wgs84, EPSG:4490 is cgcs2000" in caught.value.detail
        assert "EPSG:<code> of a projected system" in caught.value.detail
