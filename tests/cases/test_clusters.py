"""Open cases as clusters (`GET /api/v1/cases/open/clusters.geojson`): one point per square of
the zoom's grid, every open case in scope counted once, the scope and bbox applied, the
documented model holding what PostgreSQL sent, the console's filters applied."""

from __future__ import annotations

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
        assert _counts(r.json()) == (n, squares) and n >= 3
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
