"""Open cases as clusters (`GET /api/v1/cases/open/clusters.geojson`): one point per square of
the zoom's grid, every open case in scope counted once, the scope and bbox applied, the
documented model holding what PostgreSQL sent, the console's filters applied."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import text

from geo.cases import clusters
from geo.cases.schemas import OpenCaseClusters
from tests.cases.conftest import CELL, OTHER_CELL, STREET

URL = "/api/v1/cases/open/clusters.geojson"
OPEN_IN = text(
    "SELECT count(*), count(DISTINCT ST_SnapToGrid(geom, :size)) FROM cases"
    " WHERE status NOT IN ('closed', 'cancelled') AND (:cell = '' OR cell_code = :cell)"
)


def _counts(body: dict) -> tuple[int, int]:
    props = [f["properties"] for f in body["features"]]
    assert all(p["count"] == p["on_track"] + p["due_soon"] + p["overdue"] for p in props)
    return sum(p["count"] for p in props), len(props)


def _apart(body: dict, zoom: int) -> None:
    """No two clusters' circles sit on each other: centres at least MERGE_PX apart on screen."""
    points = [clusters.screen_pixels(*f["geometry"]["coordinates"], zoom) for f in body["features"]]
    for i, a in enumerate(points):
        for b in points[i + 1 :]:
            assert math.dist(a, b) >= clusters.MERGE_PX, (a, b)


def test_every_open_case_once_in_one_square_per_zoom(cases_client, callers, new_case, session):
    for status in ("reported", "dispatched", "in_handling"):
        new_case(status)
    h = callers["dispatcher"].headers
    for z in (4, 8, 12, 16):
        r = cases_client.get(URL, params={"z": z}, headers=h)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
        OpenCaseClusters.model_validate(r.json())  # sent prebuilt: the documented model holds
        n, squares = session.execute(
            OPEN_IN, {"size": clusters.square_degrees(z), "cell": ""}
        ).one()
        total, features = _counts(r.json())
        assert total == n >= 3 and 1 <= features <= squares  # squares merged when close
        _apart(r.json(), z)
    coarse = cases_client.get(URL, params={"z": 4}, headers=h).json()
    assert len(coarse["features"]) <= 2  # the city in one or two squares, whatever the cases


def test_scope_and_bbox(cases_client, callers, new_case, session):
    new_case("dispatched")
    mine = cases_client.get(URL, params={"z": 16}, headers=callers["grid_worker"].headers).json()
    n, _ = session.execute(OPEN_IN, {"size": 1.0, "cell": CELL}).one()
    assert _counts(mine)[0] == n >= 1
    other = cases_client.get(URL, params={"z": 16}, headers=callers["other_grid"].headers).json()
    assert _counts(other)[0] == session.execute(OPEN_IN, {"size": 1.0, "cell": OTHER_CELL}).one()[0]
    far = {"z": 8, "bbox": "100,20,101,21"}
    assert cases_client.get(URL, params=far, headers=callers["dispatcher"].headers).json() == {
        "type": "FeatureCollection",
        "features": [],
    }


def test_filters_of_the_console(cases_client, callers, new_case, session):
    new_case("reported", category="environment")
    new_case("dispatched", category="medical")
    h = callers["dispatcher"].headers

    def total(**filters: str) -> int:
        r = cases_client.get(URL, params={"z": 12, **filters}, headers=h)
        assert r.status_code == 200, r.text
        return _counts(r.json())[0]

    every = cases_client.get(URL, params={"z": 12}, headers=h).json()["features"]
    by_state = {s: sum(f["properties"][s] for f in every) for s in clusters.STATES}
    for state, n in by_state.items():  # the clock filter keeps exactly that state's cases
        assert total(clock=state) == n
    for category in ("environment", "medical"):
        sql = "SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'cancelled')"
        n = session.execute(text(sql + " AND category_code = :c"), {"c": category}).scalar()
        assert total(category=category) == n >= 1
    assert total(street=STREET) >= 2 and total(street="999999999") == 0
    assert total(tier="grid") + total(tier="community") + total(tier="street") == total()
    assert cases_client.get(URL, params={"z": 12, "street": "12"}, headers=h).status_code >= 400
    assert cases_client.get(URL, params={"z": 12, "tier": "x"}, headers=h).status_code >= 400


def test_zoom_out_of_range_is_refused(cases_client, callers):
    h = callers["dispatcher"].headers
    assert cases_client.get(URL, params={"z": clusters.MAX_ZOOM + 1}, headers=h).status_code == 422
    assert cases_client.get(URL, headers=h).status_code == 422


def test_clusters_either_side_of_an_edge_are_merged():
    """Cases either side of a square's edge make two squares' points a few pixels apart: they
    become one cluster with every count added; clusters far apart stay as they are."""
    size = clusters.square_degrees(12)
    edge = round(128.9 / size) * size  # a square's edge near Yichun
    near = [(edge - 1e-4, 47.7, 5, 5, 0, 0), (edge + 1e-4, 47.7, 2, 0, 1, 1)]
    far = (edge + 20 * size, 47.7, 1, 0, 0, 1)
    merged = clusters.merge_close([*near, far], zoom=12)
    assert len(merged) == 2
    (lon, lat, *counts), kept = sorted(merged, key=lambda r: -r[2])
    assert counts == [7, 5, 1, 1] and kept == far
    assert lon == pytest.approx(edge - 1e-4 * 3 / 7) and lat == pytest.approx(47.7)  # the mean


def test_merging_keeps_every_case_and_leaves_no_two_close():
    """Random clusters at several zooms: the counts are kept, and no two end up closer than
    MERGE_PX (a merge that moves a point onto a third one merges again)."""
    rng = random.Random(20261201)
    for zoom in (6, 10, 14):
        spread = clusters.square_degrees(zoom) * 8
        rows = []
        for _ in range(300):
            states = [rng.randrange(4) for _ in clusters.STATES]
            lon, lat = 128.9 + rng.random() * spread, 47.7 + rng.random() * spread / 2
            rows.append((lon, lat, sum(states) + 1, states[0] + 1, states[1], states[2]))
        merged = clusters.merge_close(rows, zoom)
        assert [sum(r[k] for r in merged) for k in range(2, 6)] == [
            sum(r[k] for r in rows) for k in range(2, 6)
        ]
        body = {"features": [{"geometry": {"coordinates": [lon, lat]}} for lon, lat, *_ in merged]}
        _apart(body, zoom)
        assert len(merged) < len(rows)
