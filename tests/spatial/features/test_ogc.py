"""OGC API - Features: landing page, conformance, collections, items with paging, single items."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from geo.spatial.boundaries.models import in_release
from geo.spatial.schemas import OgcFeature, OgcItems
from tests.spatial.conftest import ACTIVE, CELL, COMMUNITY

GEOJSON = "application/geo+json"
HAN = re.compile(r"[\u4e00-\u9fff]")
REQUIRED = {"cells", "communities", "districts", "service_areas"}


def rels(doc: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in doc["links"]}


def db_count(session, table: str) -> int:
    where = "" if table == "service_area" else (f" WHERE {in_release(table, ACTIVE)}")
    return session.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar_one()


def test_landing_page_links(client):
    r = client.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["title"] and doc["description"]
    links = rels(doc)
    assert {"self", "service-desc", "conformance", "data"} <= set(links)
    for link in doc["links"]:
        assert link["href"].startswith("http://testserver/") and link["type"]
    assert links["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    api = client.get(links["service-desc"]["href"]).json()
    assert (
        api["openapi"].startswith("3.") and "/ogc/collections/{collection_id}/items" in api["paths"]
    )
    assert client.get(links["conformance"]["href"]).status_code == 200
    assert client.get(links["data"]["href"]).status_code == 200


def test_conformance(client):
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert {base + c for c in ("core", "geojson", "oas30")} <= set(classes)


def test_collections(client):
    doc = client.get("/ogc/collections").json()
    assert "self" in rels(doc)
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) >= REQUIRED
    for c in by_id.values():
        assert c["itemType"] == "feature" and HAN.search(c["title"])
        assert {"self", "items"} <= set(rels(c))
        assert rels(c)["items"]["type"] == GEOJSON
        (bbox,) = c["extent"]["spatial"]["bbox"]
        assert len(bbox) == 4 and 127 < bbox[0] < bbox[2] < 131.5 and 46 < bbox[1] < bbox[3] < 50
        assert c["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]


def test_one_collection_and_unknown_collection(client):
    doc = client.get("/ogc/collections/cells").json()
    assert doc["id"] == "cells" and rels(doc)["self"]["href"].endswith("/ogc/collections/cells")
    for path in ("/ogc/collections/residents", "/ogc/collections/residents/items"):
        r = client.get(path)
        assert r.status_code == 404 and "residents" in r.json()["detail"]


@pytest.mark.parametrize(
    "collection,table", [("cells", "grid_cell"), ("service_areas", "service_area")]
)
def test_next_links_reach_every_feature_exactly_once(client, session, collection, table):
    total = db_count(session, table)
    seen: list = []
    url = f"/ogc/collections/{collection}/items?limit=100"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
        page = r.json()
        assert page["type"] == "FeatureCollection" and page["numberMatched"] == total
        assert page["numberReturned"] == len(page["features"]) <= 100
        assert page["timeStamp"].endswith("Z")
        seen.extend(f["id"] for f in page["features"])
        links = rels(page)
        assert "self" in links and "collection" in links
        assert ("prev" in links) == (pages > 0)
        url = links.get("next", {}).get("href")
        pages += 1
    assert len(seen) == total == len(set(seen))
    assert pages == -(-total // 100)


def test_prev_link_goes_back_one_page(client):
    page = client.get("/ogc/collections/cells/items?limit=7&offset=14").json()
    prev = client.get(rels(page)["prev"]["href"]).json()
    first = client.get("/ogc/collections/cells/items?limit=7&offset=7").json()
    assert [f["id"] for f in prev["features"]] == [f["id"] for f in first["features"]]


def test_features_are_rfc7946(client):
    page = client.get("/ogc/collections/cells/items?limit=3").json()
    for f in page["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Polygon"
        lon, lat = f["geometry"]["coordinates"][0][0]
        assert 127 < lon < 131 and 46 < lat < 49.5  # lon first, WGS84
        assert HAN.search(f["properties"]["name"]) and f["id"] == f["properties"]["code"]
        assert "crs" not in page


def test_bbox_filter(client, session, inside):
    lon, lat = inside
    bbox = (lon - 0.004, lat - 0.003, lon + 0.004, lat + 0.003)
    expected = (
        session.execute(
            text(
                "SELECT code FROM grid_cell, boundary_release r WHERE r.status = 'active'"
                f" AND {in_release('grid_cell', 'r.id')}"
                " AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
            ),
            dict(zip("abcd", bbox, strict=True)),
        )
        .scalars()
        .all()
    )
    page = client.get(
        "/ogc/collections/cells/items", params={"bbox": ",".join(map(str, bbox)), "limit": 1000}
    ).json()
    assert page["numberMatched"] == len(expected) == page["numberReturned"]
    assert {f["id"] for f in page["features"]} == set(expected) and CELL in expected
    assert len(expected) < 100  # the filter did filter


def test_queryable_property_filter(client):
    page = client.get(f"/ogc/collections/cells/items?community_code={COMMUNITY}").json()
    assert page["numberMatched"] == 9  # a 3 x 3 community
    assert all(f["properties"]["community_code"] == COMMUNITY for f in page["features"])


def test_single_items(client):
    r = client.get(f"/ogc/collections/cells/items/{CELL}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    f = r.json()
    assert f["type"] == "Feature" and f["id"] == CELL and f["geometry"]["type"] == "Polygon"
    assert f["properties"]["name"].endswith("网格") and {"self", "collection"} <= set(rels(f))
    area = client.get("/ogc/collections/service_areas/items/1").json()
    assert (
        area["id"] == 1
        and area["geometry"]["type"] == "Point"
        and "服务区" in area["properties"]["name"]
    )


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/collections/cells/items/230717001001999",
        "/ogc/collections/cells/items/nope",
        "/ogc/collections/service_areas/items/999999",
        "/ogc/collections/service_areas/items/abc",
    ],
)
def test_unknown_item_is_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=129,48,128,47",
        "bbox=129,47,nan,48",
        "limit=0",
        "limit=-5",
        "limit=many",
        "offset=-1",
        "f=html",
        "colour=red",
        "crs=EPSG:3857",
    ],
)
def test_bad_parameters_are_400_with_an_ogc_exception(client, query):
    r = client.get(f"/ogc/collections/cells/items?{query}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "InvalidParameterValue" and body["description"]


def test_limit_above_the_maximum_is_capped_not_refused(client):
    page = client.get("/ogc/collections/cells/items?limit=1000000").json()
    assert page["numberReturned"] == page["numberMatched"]  # 1,118 < the 10,000 cap


@pytest.mark.parametrize(
    "path",
    [
        "/ogc?f=json",
        "/ogc/conformance?f=json",
        "/ogc/collections?f=json",
        "/ogc/collections/cells?f=json",
        "/ogc/collections/cells/items?f=json&limit=2",
        "/ogc/collections/cells/items?f=geojson&limit=2",
        f"/ogc/collections/cells/items/{CELL}?f=json",
    ],
)
def test_f_json_is_tolerated(client, path):
    assert client.get(path).status_code == 200


def test_items_answer_what_the_document_declares(client):
    """Items and an item are sent prebuilt (no validation per request): the test holds them to
    the response models the OpenAPI document shows, and to the cache policy of the layer."""
    page = client.get("/ogc/collections/cells/items?limit=50")
    assert page.headers["cache-control"].startswith("public")
    OgcItems.model_validate(page.json())
    for path in [f"/ogc/collections/cells/items/{CELL}", "/ogc/collections/service_areas/items/1"]:
        r = client.get(path)
        assert r.headers["content-type"] == GEOJSON and r.headers["cache-control"]
        OgcFeature.model_validate(r.json())
