"""Next season's forecast from the presence tables: every area and month, reconciled bottom-up,
suppressed like counts, with an interval around every shown forecast."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput
from geo.planning import forecast
from geo.planning.models_forecast import BASELINES, predict
from geo.planning.presence import Level
from tests.planning.test_presence_figures import PLANNER
from tests.security import planner_world


@pytest.fixture
def seasons(session: Session) -> Session:
    """Season 2024's residents of the planners' world, and the same stays in 2022 and 2023."""
    planner_world.settle_residents(session)
    for back in (1, 2):
        session.execute(
            text(
                "INSERT INTO stay (resident_id, season, geom, precision, cell_code,"
                " community_code, street_code, arrived_on, departed_on, last_reported_on)"
                " SELECT resident_id, season - :k, geom, precision, cell_code, community_code,"
                " street_code, (arrived_on - make_interval(years => :k))::date,"
                " (departed_on - make_interval(years => :k))::date,"
                " (last_reported_on - make_interval(years => :k))::date"
                " FROM stay WHERE season = 2024"
            ),
            {"k": back},
        )
    return session


def test_next_season_per_community_and_month(seasons: Session) -> None:
    out = forecast.forecast(seasons, PLANNER, Level.community, 2025)
    assert out["seasons_of_history"] == 3 and out["model"] == "trended_profile"
    rows = out["rows"]
    assert {r["area"] for r in rows} == set(planner_world.ARRIVALS)
    assert len(rows) == 12 * len(planner_world.ARRIVALS)
    for r in rows:
        if r["residents"] is None:
            assert r["low"] is None and r["high"] is None
        else:
            assert r["residents"] == 0 or r["residents"] >= 10
            assert r["low"] <= r["residents"] <= r["high"]
    july = {r["area"]: r["residents"] for r in rows if r["month"] == "2025-07"}
    present = seasons.execute(
        text(
            "SELECT community_code, count(*) FROM stay WHERE season = 2024"
            " AND arrived_on <= date '2024-07-31' AND departed_on > date '2024-07-01' GROUP BY 1"
        )
    ).all()
    for community, n in present:  # the same stays three seasons running: no trend to follow
        if july[community] is not None:
            assert july[community] == n


def test_the_tiers_add_up(seasons: Session) -> None:
    city = forecast.forecast(seasons, PLANNER, Level.city, 2025)["rows"]
    streets = forecast.forecast(seasons, PLANNER, Level.street, 2025)["rows"]
    for c in city:
        parts = [s["residents"] for s in streets if s["month"] == c["month"]]
        if c["residents"] is not None and None not in parts:
            assert c["residents"] == sum(parts)


def test_one_season_of_history_is_not_enough(session: Session) -> None:
    planner_world.settle_residents(session)  # before 2024: only season 2023's winter stays
    with pytest.raises(InvalidInput, match="at least 2"):
        forecast.forecast(session, PLANNER, Level.community, 2024)


def test_models_forecast_a_steady_series_as_it_was() -> None:
    past = np.tile(np.arange(12, dtype=float), (3, 4, 1))  # 3 series, 4 identical seasons
    for model in (*BASELINES, "trended_profile"):
        pred = predict(model, past, ["a", "a", "b"])
        assert np.allclose(pred.mean, past[:, 0]), model
        assert (pred.low <= pred.mean).all() and (pred.mean <= pred.high).all()


def test_planners_read_presence_and_forecast_over_http(seasons: Session, client) -> None:  # noqa: ANN001
    from tests.residents.conftest import make_caller

    planner = make_caller(seasons, "p-planner", "planner").headers
    dispatcher = make_caller(seasons, "p-dispatcher", "dispatcher").headers
    seasons.commit()
    url = "/api/v1/planning/forecast?season=2025&level=street"
    assert client.get(url, headers=dispatcher).status_code == 403
    body = client.get(url, headers=planner).json()
    assert body["level"] == "street" and len(body["rows"]) == 2 * 12
    got = client.get("/api/v1/planning/presence?season=2024&level=district", headers=planner)
    assert got.status_code == 200 and got.json()["rows"][0]["area"] == "230717"
    bad = client.get("/api/v1/planning/presence?season=2024&level=house", headers=planner)
    assert bad.status_code == 422 and "level must be one of" in bad.text
    for part in ("flows", "peaks"):
        r = client.get(f"/api/v1/planning/presence/{part}?season=2024", headers=planner)
        assert r.status_code == 200 and r.json()["rows"]


def test_the_density_page_shows_the_forecast_beside_this_season(seasons: Session) -> None:
    from geo.planning import map_data
    from maps.density import density_map

    outlook = map_data.outlook(seasons, PLANNER, 2024)
    city = forecast.forecast(seasons, PLANNER, Level.city, 2025)["rows"]
    assert [m for m, _, _ in outlook] == [
        "05",
        "06",
        "07",
        "08",
        "09",
        "10",
        "11",
        "12",
        "01",
        "02",
        "03",
        "04",
    ]
    assert [ahead for _, _, ahead in outlook] == [r["residents"] for r in city]
    assert all(this is None or this == 0 or this >= 10 for _, this, _ in outlook)
    empty = {"type": "FeatureCollection", "features": []}
    ring = [[128.9, 47.7], [128.91, 47.7], [128.91, 47.71], [128.9, 47.7]]
    cell = {
        "type": "Feature",
        "id": "230717001001001",
        "properties": {"name": "网格", "code": "230717001001001"},
    }
    cells = {
        **empty,
        "features": [{**cell, "geometry": {"type": "Polygon", "coordinates": [ring]}}],
    }
    page = density_map(
        cells=cells,
        monthly={},
        hexes=empty,
        flows=[],
        origins=[],
        threshold=10,
        season=2024,
        outlook=outlook,
    )
    assert "本季与下季预测" in page and "暂无" not in page
