"""Year over year for every presence figure: each figure of a season carries the season before's,
exactly as that season's own protected table publishes it (so nothing new is disclosed)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from geo.planning import presence
from geo.planning.presence import Level
from geo.planning.season_figures import season_figures
from geo.privacy.windows import Window
from tests.planning.test_forecast import seasons  # noqa: F401  (the fixture)
from tests.planning.test_presence_figures import PLANNER

SEASON = 2024  # the world's stays, with the same stays in 2022 and 2023


def test_weekly_flows_beside_the_same_week_a_year_before(seasons: Session) -> None:  # noqa: F811
    now = presence.flows(seasons, PLANNER, SEASON)["rows"]
    before = {
        (r["week"], r["community_code"]): r
        for r in presence.flows(seasons, PLANNER, SEASON - 1)["rows"]
    }
    compared = 0
    for r in now:
        week = (date.fromisoformat(r["week"]) - timedelta(weeks=52)).isoformat()
        earlier = before.get((week, r["community_code"]))
        for kind in ("arrivals", "departures"):
            expected = earlier[kind] if earlier else 0
            assert r[f"{kind}_year_before"] == expected, (r, earlier)
            compared += bool(expected)
    assert compared > 0, "the world's seasons repeat: some weeks must have flows both years"


def test_peaks_beside_the_season_before(seasons: Session) -> None:  # noqa: F811
    now = {r["community_code"]: r for r in presence.peaks(seasons, PLANNER, SEASON)["rows"]}
    before = presence.peaks(seasons, PLANNER, SEASON - 1)["rows"]
    assert before
    for r in before:
        row = now[r["community_code"]]
        for key in ("peak_day", "peak_day_residents", "peak_month", "peak_month_residents"):
            assert row[f"{key}_year_before"] == r[key]
    shown = [r for r in now.values() if r["peak_month_residents_year_before"]]
    assert shown and all(r["peak_month_year_before"].startswith("2023-") for r in shown)
    # a season with nobody present: no peak, zero residents, never a hidden (None) count
    first = {r["community_code"]: r for r in presence.peaks(seasons, PLANNER, 2022)["rows"]}
    assert first and all(r["peak_day_residents_year_before"] == 0 for r in first.values())


def test_age_bands_and_origins_beside_the_year_before(seasons: Session) -> None:  # noqa: F811
    now = presence.presence(seasons, PLANNER, Window(SEASON), Level.community)["rows"]
    before = {
        r["area"]: r
        for r in presence.presence(seasons, PLANNER, Window(SEASON - 1), Level.community)["rows"]
    }
    for r in now:
        earlier = before.get(r["area"], {})
        assert r["age_bands_year_before"] == earlier.get("age_bands", {})
        assert r["origins_year_before"] == earlier.get("origins", {})
    assert any(r["age_bands_year_before"] for r in now)


def test_the_workbook_tables_carry_the_year_before(seasons: Session) -> None:  # noqa: F811
    figures = season_figures(seasons, PLANNER, SEASON)
    for table, column in (
        (figures.flows, "arrivals_year_before"),
        (figures.peaks, "peak_month_residents_year_before"),
        (figures.age_bands, "residents_year_before"),
        (figures.origins, "residents_year_before"),
    ):
        assert column in [c.key for c in table.columns], table.name
        assert any(row[column] for row in table.rows), (table.name, column)
