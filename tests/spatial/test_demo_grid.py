"""The Yichun demo grid lies where the real towns are: on each county seat, inside its real district.

The seats are real town centres (geo/demo/names.py SEATS); a phone at the city government of
伊春市 (伊美区) must be inside the covered area, and so must each county seat.
"""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import text

from geo.demo import grid, names
from geo.demo.load import DEMO_SOURCE
from geo.spatial import locate as locating
from geo.spatial.boundaries import releases
from geo.spatial.boundaries.models import in_release
from geo.spatial.crs import Crs, from_wgs84

CITY_GOVERNMENT = (128.905, 47.728)  # 伊春市人民政府, 伊美区 (WGS84)
DISTRICT_NAMES = {d.code: d.name for d in grid.load_districts()}


def test_the_city_government_is_in_a_cell_of_yimei(session, client):
    found = locating.locate(session, *CITY_GOVERNMENT)
    assert found.district_code == "230717" and found.district_name == "伊美区"
    assert found.cell_code.startswith("230717") and len(found.cell_code) == 15
    # the same through the API, and from a phone reporting GCJ-02 (高德, 微信定位)
    r = client.get("/api/v1/locate", params={"lon": CITY_GOVERNMENT[0], "lat": CITY_GOVERNMENT[1]})
    assert r.status_code == 200 and r.json()["cell_code"] == found.cell_code
    glon, glat = from_wgs84(*CITY_GOVERNMENT, Crs.gcj02)
    r = client.get("/api/v1/locate", params={"lon": glon, "lat": glat, "crs": "gcj02"})
    assert r.status_code == 200 and r.json()["cell_code"] == found.cell_code


def test_the_service_card_answers_at_the_city_government(client):
    lon, lat = CITY_GOVERNMENT
    page = client.get("/card", params={"lon": lon, "lat": lat, "crs": "wgs84"})
    assert page.status_code == 200, page.text[:500]
    assert "伊美区" in page.text


@pytest.mark.parametrize("code", sorted(names.SEATS))
def test_each_seat_is_in_a_cell_of_its_district(session, code):
    seat = names.SEATS[code]
    found = locating.locate(session, *seat)
    assert found.district_code == code, (DISTRICT_NAMES[code], seat, found)
    assert found.cell_code[:6] == code


def test_every_cell_lies_inside_its_real_district(session):
    """Cells are clipped to the district polygon (data/yichun_districts.geojson), not beside it."""
    rid = releases.active_release_id(session)
    rows = session.execute(
        text(
            "SELECT count(*), coalesce(max(ST_Area(ST_Difference(g.geom, d.geom)::geography))"
            "  FILTER (WHERE NOT ST_CoveredBy(g.geom, d.geom)), 0)"
            " FROM grid_cell g JOIN district d ON d.code = left(g.code, 6)"
            f" WHERE {in_release('g')} AND {in_release('d')}"
        ),
        {"rid": rid},
    ).one()
    assert rows[0] == 1118 and rows[1] < releases.AREA_TOLERANCE_M2


def test_the_demo_release_passed_validation(session):
    report = session.execute(
        text("SELECT report FROM boundary_release WHERE source = :s ORDER BY id DESC LIMIT 1"),
        {"s": DEMO_SOURCE},
    ).scalar_one()
    assert report["problems"] == [] and report["rows"] > 1000


def test_the_grid_is_deterministic_and_its_counts_are_known():
    a, b = grid.generate(), grid.generate()
    assert [(x.code, x.geometry.wkb, x.households) for x in a.all()] == [
        (x.code, x.geometry.wkb, x.households) for x in b.all()
    ]
    counts = (len(a.districts), len(a.streets), len(a.communities), len(a.cells))
    assert counts == (10, 44, 127, 1118)
    for cell in a.cells:  # code structure: district 6 + street 3 + community 3 + cell 3 digits
        assert len(cell.code) == 15 and cell.code.isdigit() and cell.parent_code == cell.code[:12]
        assert isinstance(cell.geometry, shapely.Polygon) and cell.geometry.is_valid
        assert 150 <= (cell.households or 0) <= 500


def _example(param: dict) -> object:
    return param.get("example", param["schema"].get("examples", [None])[0])


def test_the_documented_examples_land_in_a_cell(client):
    """Every lon/lat example of the API docs (/docs) answers with a cell, not 'outside'."""
    spec = client.get("/openapi.json").json()
    tried = []
    for path, ops in spec["paths"].items():
        params = {p["name"]: _example(p) for p in ops.get("get", {}).get("parameters", [])}
        if params.get("lon") is None or params.get("lat") is None or "{" in path:
            continue
        example = {"lon": params["lon"], "lat": params["lat"]}
        r = client.get(path, params=example)
        assert r.status_code in (200, 401), (path, example, r.text[:300])
        tried.append((path, r.status_code))
    assert {"/api/v1/locate", "/card"} <= {p for p, status in tried if status == 200}, tried
