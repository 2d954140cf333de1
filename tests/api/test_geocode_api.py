"""GET /api/v1/geocode over real HTTP: a GeoJSON Feature that says how the address matched."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.spatial.test_address_geocode import typo_example


@pytest.fixture
def building(session) -> dict:
    """Building 3 of a compound whose name exists in several districts, with its names."""
    row = (
        session.execute(
            text(
                "SELECT a.compound, a.full_address, a.cell_code, a.units,"
                " ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, d.name AS district_name,"
                " s.name AS street_name, c.name AS community_name, a.community_code"
                " FROM address_point a JOIN district d ON d.code = a.district_code"
                " JOIN street s ON s.code = a.street_code"
                " JOIN community c ON c.code = a.community_code"
                " WHERE a.building = 3 AND a.compound_key IN (SELECT compound_key FROM"
                "  address_point GROUP BY 1 HAVING count(DISTINCT district_code) > 1)"
                " ORDER BY a.id LIMIT 1"
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


def geocode(client, address: str, **params):
    return client.get("/api/v1/geocode", params={"address": address, **params})


def test_exact_match_is_a_point_feature_in_the_right_cell(client, building) -> None:
    r = geocode(client, f"{building['full_address']}2单元501室")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "Feature"
    assert body["geometry"]["type"] == "Point"
    assert body["geometry"]["coordinates"] == pytest.approx(
        [building["lon"], building["lat"]], abs=1e-7
    )
    p = body["properties"]
    assert (p["match"], p["score"]) == ("exact", 1.0)
    assert p["cell_code"] == building["cell_code"]
    assert (p["building"], p["unit"], p["room"]) == (3, 2, "501")
    assert p["matched_address"] == building["full_address"]
    assert p["candidates"] == []


def test_full_width_and_variant_building_marks(client, building) -> None:
    r = geocode(client, f"{building['district_name']}{building['compound']}３幢")
    p = r.json()["properties"]
    assert (p["match"], p["cell_code"], p["building"]) == ("exact", building["cell_code"], 3)


def test_typo_is_fuzzy_with_a_score(client, session) -> None:
    row, typo = typo_example(session)
    body = geocode(client, f"{row.district_name}{typo}2号楼").json()
    p = body["properties"]
    assert p["match"] == "fuzzy" and 0.6 <= p["score"] < 1.0
    assert p["compound"] == row.compound and p["cell_code"] == row.cell_code
    assert body["geometry"]["coordinates"] == pytest.approx([row.lon, row.lat], abs=1e-7)


def test_ambiguous_compound_is_200_none_with_candidates(client, building) -> None:
    r = geocode(client, f"{building['compound']}3号楼")
    assert r.status_code == 200
    body = r.json()
    assert body["geometry"] is None
    p = body["properties"]
    assert p["match"] == "none" and p["cell_code"] is None and p["lon"] is None
    assert "give the district" in p["note"]
    assert len(p["candidates"]) >= 2
    assert {"address", "score", "district_name", "community_code"} <= set(p["candidates"][0])


def test_community_only(client, building) -> None:
    address = building["district_name"] + building["street_name"] + building["community_name"]
    body = geocode(client, address).json()
    assert body["properties"]["match"] == "community"
    assert body["properties"]["community_code"] == building["community_code"]
    assert body["properties"]["cell_code"] is None
    assert body["geometry"]["type"] == "Point"


def test_gibberish_is_200_none_without_geometry(client) -> None:
    r = geocode(client, "asdfgh qwerty")
    assert r.status_code == 200
    assert r.json()["geometry"] is None
    assert r.json()["properties"]["match"] == "none"
    assert r.json()["properties"]["note"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"address": ""}, "empty"),
        ({"address": "   "}, "empty"),
        ({"address": "林" * 201}, "201 characters"),
        ({}, "address"),
        ({"address": "伊美区", "min_score": "2"}, "min_score"),
    ],
)
def test_bad_input_is_422_with_a_message(client, params, fragment) -> None:
    r = client.get("/api/v1/geocode", params=params)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def test_unknown_release_is_404(client, building) -> None:
    r = geocode(client, building["full_address"], release=999_999)
    assert r.status_code == 404
    assert "999999" in r.json()["detail"]
