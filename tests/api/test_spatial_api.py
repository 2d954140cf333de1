"""The spatial core over real HTTP: locate, cells, communities, districts, nearest service area."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geo.spatial.crs import Crs, from_wgs84
from geo.spatial.schemas import (
    CellCollection,
    CellFeature,
    CommunityCollection,
    DistrictCollection,
    LocationRead,
)

CELL = "230717001001005"  # the middle cell of a 3 x 3 community: all its vertices are shared


@pytest.fixture
def inside(session) -> tuple[float, float]:
    """A point well inside CELL (WGS84)."""
    row = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell WHERE code = :c) q"
        ),
        {"c": CELL},
    ).one()
    return float(row[0]), float(row[1])


def test_locate_returns_cell_hierarchy_and_worker(client, inside):
    r = client.get("/api/v1/locate", params={"lon": inside[0], "lat": inside[1]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cell_code"] == CELL
    assert body["community_code"] == CELL[:12] and body["street_code"] == CELL[:9]
    assert body["district_code"] == "230717" and body["district_name"] == "伊美区"
    assert body["street_name"] == "红升街道"
    assert body["grid_workers"] and body["grid_workers"][0]["wechat_id"]


def test_gcj02_input_is_converted_before_lookup(client, inside):
    glon, glat = (float(v) for v in from_wgs84(*inside, Crs.gcj02))
    converted = client.get("/api/v1/locate", params={"lon": glon, "lat": glat, "crs": "gcj02"})
    assert converted.json()["cell_code"] == CELL
    naive = client.get("/api/v1/locate", params={"lon": glon, "lat": glat})
    # 580 m off: the same numbers read as WGS84 land in another cell or outside.
    assert naive.status_code == 404 or naive.json()["cell_code"] != CELL


def test_shared_vertex_goes_to_lowest_code(client, session):
    vertex = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(geom)).geom p FROM grid_cell WHERE code = :c) q LIMIT 1"
        ),
        {"c": CELL},
    ).one()
    owners = (
        session.execute(
            text(
                "SELECT code FROM grid_cell WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY code"
            ),
            {"x": vertex[0], "y": vertex[1]},
        )
        .scalars()
        .all()
    )
    assert len(owners) >= 2
    r = client.get("/api/v1/locate", params={"lon": vertex[0], "lat": vertex[1]})
    assert r.json()["cell_code"] == owners[0]


@pytest.mark.parametrize(
    "params,status,fragment",
    [
        ({"lon": "nan", "lat": 47.7}, 422, "finite"),
        ({"lon": 128.9, "lat": "inf"}, 422, "finite"),
        ({"lon": 47.72, "lat": 128.9}, 422, "swap"),
        ({"lon": 200, "lat": 47.7}, 422, "out of range"),
        ({"lon": "abc", "lat": 47.7}, 422, "lon"),
        ({"lat": 47.7}, 422, "lon"),
        (
            {"lon": 128.9, "lat": 47.7, "crs": "utm"},
            422,
            "accepted values: wgs84, cgcs2000, gcj02, bd09",
        ),
        ({"lon": 116.39, "lat": 39.9}, 404, "outside the covered area"),
    ],
)
def test_bad_points_get_clear_4xx(client, params, status, fragment):
    r = client.get("/api/v1/locate", params=params)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]


def test_cell_feature(client):
    r = client.get(f"/api/v1/cells/{CELL}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    f = r.json()
    assert f["type"] == "Feature" and f["id"] == CELL
    assert f["geometry"]["type"] == "Polygon"
    ring = f["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and all(128 < x < 131 and 46 < y < 49.5 for x, y in ring)
    assert 50_000 < f["properties"]["area_m2"] < 400_000  # a few hundred metres across


@pytest.mark.parametrize(
    "code,status", [("12345", 422), ("230717001001999", 404), ("23071700100100x", 422)]
)
def test_cell_bad_codes(client, code, status):
    assert client.get(f"/api/v1/cells/{code}").status_code == status


def test_cells_paging_and_bbox(client):
    first = client.get("/api/v1/cells", params={"limit": 500}).json()
    assert first["numberMatched"] >= 1000 and first["numberReturned"] == 500
    assert any(link["rel"] == "next" for link in first["links"])
    boxed = client.get(
        "/api/v1/cells", params={"bbox": "128.0,46.9,128.2,47.1", "limit": 1000}
    ).json()
    assert 0 < boxed["numberMatched"] < first["numberMatched"]
    assert all(f["properties"]["district_code"] == "230781" for f in boxed["features"])


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "10,50,5,40", "0,0,200,10", "nan,0,1,1"])
def test_cells_bad_bbox(client, bbox):
    r = client.get("/api/v1/cells", params={"bbox": bbox})
    assert r.status_code == 422 and "bbox" in r.json()["detail"]


def test_communities_and_districts(client):
    communities = client.get("/api/v1/communities").json()["features"]
    assert len(communities) >= 100
    assert {"code", "name", "street_name", "district_name", "cells"} <= communities[0][
        "properties"
    ].keys()
    districts = client.get("/api/v1/districts").json()["features"]
    assert {f["id"] for f in districts} >= {"230717", "230781"} and len(districts) == 10


def test_nearest_service_areas(client, inside):
    r = client.get(
        "/api/v1/service-areas/nearest", params={"lon": inside[0], "lat": inside[1], "k": 3}
    )
    assert r.status_code == 200
    features = r.json()["features"]
    distances = [f["properties"]["distance_m"] for f in features]
    assert len(features) == 3 and distances == sorted(distances) and distances[0] < 5000
    assert features[0]["properties"]["name"].endswith("候鸟服务区")


@pytest.mark.parametrize("k", [0, 21, -1])
def test_nearest_bad_k(client, k):
    r = client.get("/api/v1/service-areas/nearest", params={"lon": 128.9, "lat": 47.7, "k": k})
    assert r.status_code == 422 and "k must be" in r.json()["detail"]


def test_healthz_checks_postgis(client):
    body = client.get("/healthz").json()
    assert body["ok"] and body["postgis"].startswith("3") and body["active_release"]


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/locate",
        "/api/v1/cells/{code}",
        "/api/v1/service-areas/nearest",
    } <= paths.keys()


def test_prebuilt_answers_match_their_documented_models(client, inside):
    """locate, a cell, cells, communities and districts are sent prebuilt (no validation per
    request): here they are held to the response models the OpenAPI document shows."""
    answers = [
        (LocationRead, "/api/v1/locate", {"lon": inside[0], "lat": inside[1]}),
        (CellFeature, f"/api/v1/cells/{CELL}", {}),
        (CellCollection, "/api/v1/cells", {"limit": 3}),
        (CommunityCollection, "/api/v1/communities", {}),
        (DistrictCollection, "/api/v1/districts", {}),
    ]
    for model, path, params in answers:
        r = client.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        model.model_validate(r.json())
