"""`houniao import roads`: GeoPackage, shapefile and OSM files read into walkable lines in WGS84
with their coordinate system named, noded into a network; unreadable or unlabelled files
refused with a message saying what to do."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput
from geo.spatial.roads.importing import read_roads
from geo.spatial.roads.network import build_topology, write_network
from tests.api.test_cli import run  # noqa: F401  (the fixture)

# An X of two streets crossing in the middle, and a motorway nobody walks on.
WEST_EAST = shapely.LineString([(129.50, 47.50), (129.52, 47.50)])
SOUTH_NORTH = shapely.LineString([(129.51, 47.49), (129.51, 47.51)])
MOTORWAY = shapely.LineString([(129.50, 47.52), (129.52, 47.52)])


def _gpkg(path: Path, crs: str | None = "EPSG:4326") -> Path:
    frame = gpd.GeoDataFrame(
        {"highway": ["residential", "footway", "motorway"], "name": ["林都大街", None, "高速"]},
        geometry=[WEST_EAST, SOUTH_NORTH, MOTORWAY],
        crs="EPSG:4326",
    )
    if crs is None:
        frame = frame.set_crs(None, allow_override=True)
    elif crs != "EPSG:4326":
        frame = frame.to_crs(crs)
    frame.to_file(path, engine="pyogrio")
    return path


def test_a_geopackage_is_read_noded_and_written(session: Session, tmp_path: Path) -> None:
    roads = read_roads(_gpkg(tmp_path / "roads.gpkg"))
    assert roads.highway == ["residential", "footway"]  # the motorway is left out
    assert roads.crs_label == "EPSG:4326 (the file's label)"
    topology = build_topology(roads.lines, roads.highway, roads.name)
    assert len(topology.edges) == 4 and len(topology.vertices) == 5  # noded at the crossing
    assert sorted(topology.highway, key=str) == ["footway", "footway", "residential", "residential"]
    network = write_network(
        session, name="t-x", source="roads.gpkg", source_crs=roads.crs_label, topology=topology
    )
    total = session.scalar(
        text("SELECT sum(length_m) FROM road_edge WHERE network_id = :n"), {"n": network}
    )
    expected = session.scalar(
        text(
            "SELECT ST_Length(geography(ST_GeomFromText(:a, 4326)))"
            " + ST_Length(geography(ST_GeomFromText(:b, 4326)))"
        ),
        {"a": WEST_EAST.wkt, "b": SOUTH_NORTH.wkt},
    )
    assert total == pytest.approx(expected, abs=0.01)
    active = session.scalar(text("SELECT name FROM road_network WHERE active"))
    assert active == "t-x"


def test_a_projected_file_is_converted(tmp_path: Path) -> None:
    roads = read_roads(_gpkg(tmp_path / "utm.gpkg", "EPSG:32652"))
    assert roads.crs_label == "EPSG:32652 (the file's label)"
    assert shapely.equals_exact(roads.lines[0], WEST_EAST, tolerance=1e-7)


def test_an_unlabelled_file_needs_its_crs_named(tmp_path: Path) -> None:
    bare = _gpkg(tmp_path / "bare.gpkg", None)
    with pytest.raises(InvalidInput, match="declares no coordinate system; name it with --crs"):
        read_roads(bare)
    assert read_roads(bare, crs="wgs84").crs_label == "wgs84"
    with pytest.raises(InvalidInput, match="are degrees"):
        read_roads(bare, crs="EPSG:32652")


def test_bad_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(InvalidInput, match="cannot read junk.gpkg"):
        read_roads(junk)
    with pytest.raises(InvalidInput, match="no such file"):
        read_roads(tmp_path / "missing.gpkg")
    points = tmp_path / "points.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.Point(129.5, 47.5)], crs=4326).to_file(points)
    with pytest.raises(InvalidInput, match="no line features"):
        read_roads(points)
    junk_osm = tmp_path / "junk.osm.pbf"
    junk_osm.write_bytes(b"\x00\x01garbage")
    with pytest.raises(InvalidInput, match="cannot read junk.osm.pbf"):
        read_roads(junk_osm)


OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="47.50" lon="129.50" version="1"/>
  <node id="2" lat="47.50" lon="129.51" version="1"/>
  <node id="3" lat="47.51" lon="129.51" version="1"/>
  <node id="4" lat="47.52" lon="129.50" version="1"/>
  <node id="5" lat="47.52" lon="129.52" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="footway"/><tag k="name" v="森林步道"/></way>
  <way id="11" version="1"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
  <way id="12" version="1"><nd ref="4"/><nd ref="5"/><tag k="highway" v="motorway"/></way>
  <way id="13" version="1"><nd ref="1"/><nd ref="4"/><tag k="waterway" v="river"/></way>
</osm>
"""


def test_an_osm_file_keeps_the_ways_people_walk_on(tmp_path: Path) -> None:
    path = tmp_path / "yichun.osm"
    path.write_text(OSM, encoding="utf-8")
    roads = read_roads(path)
    assert sorted(roads.highway, key=str) == ["footway", "residential"]
    assert "森林步道" in roads.name
    topology = build_topology(roads.lines, roads.highway, roads.name)
    assert len(topology.edges) == 2 and len(topology.vertices) == 3


def test_the_command_imports_and_refuses(run, engine, tmp_path: Path) -> None:  # noqa: ANN001, F811
    gpkg = _gpkg(tmp_path / "cli.gpkg")
    try:
        out = run("import", "roads", str(gpkg), "--name", "t-cli-roads", "--no-activate")
        assert out.returncode == 0, out.stderr
        body = json.loads(out.stdout)
        assert body["edges"] == 4 and body["active"] is False
        assert body["source_crs"].startswith("EPSG:4326")
        bare = _gpkg(tmp_path / "bare.gpkg", None)
        refused = run("import", "roads", str(bare), "--no-activate")
        assert refused.returncode == 2 and "--crs" in refused.stderr
        junk = tmp_path / "junk.shp"
        junk.write_text("nope")
        refused = run("import", "roads", str(junk), "--no-activate")
        assert refused.returncode == 2 and "cannot read junk.shp" in refused.stderr
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM road_network WHERE name = 't-cli-roads'"))
