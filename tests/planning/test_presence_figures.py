"""Planners' presence figures from the tables kept current: per level, by season and month,
age bands and origins, weekly flows, peaks, the year before; never a small count, and no hidden
count that the published ones and their sums pin down (checked by tests/security's attacker)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core.errors import Forbidden
from geo.planning import presence
from geo.planning.presence import Level
from geo.privacy.windows import Window
from tests.security import planner_world
from tests.security.linear_attack import recover

PLANNER = Principal(role=Role.planner.value, name="t-planner")
K = 10


@pytest.fixture
def world(session: Session) -> Session:
    planner_world.settle_residents(session)
    return session


def _small(values: list[int | None]) -> list[int]:
    return [v for v in values if v is not None and 0 < v < K]


def _stays(session: Session, community: str | None = None) -> int:
    sql = "SELECT count(*) FROM stay WHERE season = 2024"
    if community:
        sql += " AND community_code = :c"
    return int(session.scalar(text(sql), {"c": community}) or 0)


def test_season_per_community_counts_the_stays_and_hides_small_ones(world: Session) -> None:
    out = presence.presence(world, PLANNER, Window(2024), Level.community)
    assert out["level"] == "community" and out["threshold"] == K
    rows = {r["area"]: r for r in out["rows"]}
    assert set(rows) == set(planner_world.ARRIVALS)
    for community, row in rows.items():
        if row["residents"] is not None:
            assert row["residents"] == _stays(world, community)
        assert row["residents_year_before"] in (0, None)  # nobody of season 2023 in these
        assert set(row["age_bands"]) == {"<55", "55-64", "65-74", "75+", "unknown"}
        assert _small(list(row["origins"].values()) + list(row["age_bands"].values())) == []
    city = presence.presence(world, PLANNER, Window(2024), Level.city)["rows"]
    assert city[0]["residents"] == _stays(world)
    # the rare province (one resident) is hidden, and cannot be worked out from the city's
    assert city[0]["origins"]["海南省"] is None


def test_no_hidden_count_follows_from_every_level_of_a_window(world: Session) -> None:
    published: dict = {}
    sums: list = []
    for level in Level:
        for r in presence.presence(world, PLANNER, Window(2024, "2024-07"), level)["rows"]:
            published["n", level, r["area"]] = r["residents"]
            for b, v in r.get("age_bands", {}).items():
                published["band", level, r["area"], b] = v
            for p, v in r.get("origins", {}).items():
                published["origin", level, r["area"], p] = v
    assert _small([v for v in published.values()]) == []
    assert any(v is None for v in published.values()), "the world has small counts to hide"
    communities = [
        a for lv, *rest in published if lv == "n" and rest[0] == Level.community for a in [rest[1]]
    ]
    for c in communities:
        cells = [k for k in published if k[0] == "n" and k[1] == Level.cell and k[2][:12] == c]
        bands = [k for k in published if k[:3] == ("band", Level.community, c)]
        origins = [k for k in published if k[:3] == ("origin", Level.community, c)]
        sums += [(("n", Level.community, c), p) for p in (cells, bands, origins)]
    city = [k for k in published if k[:2] == ("n", Level.community)]
    sums.append((("n", Level.city, "city"), city))
    assert recover(published, sums) == {}


def test_month_counts_residents_present_on_any_day_of_it(world: Session) -> None:
    rows = presence.presence(world, PLANNER, Window(2024, "2024-06"), Level.city)["rows"]
    present_june = world.scalar(
        text(
            "SELECT count(*) FROM stay WHERE arrived_on <= date '2024-06-30'"
            " AND departed_on > date '2024-06-01'"
        )
    )
    assert rows[0]["residents"] == present_june


def test_a_month_read_again_after_stays_change_shows_the_change(world: Session) -> None:
    # protected cuts are shared between requests (keyed by their rows): never a stale one
    def shown() -> int:
        return presence.presence(world, PLANNER, Window(2024, "2024-07"), Level.city)["rows"][0][
            "residents"
        ]

    before = shown()
    left = world.execute(
        text(
            "UPDATE stay SET departed_on = arrived_on WHERE id IN (SELECT id FROM stay"
            " WHERE arrived_on < date '2024-07-01' AND departed_on > date '2024-07-01'"
            " ORDER BY id LIMIT 3)"
        )
    ).rowcount
    assert left == 3 and shown() == before - 3


def test_weekly_flows_add_up_to_the_season(world: Session) -> None:
    out = presence.flows(world, PLANNER, 2024)
    city = [r for r in out["rows"] if r["community_code"] == "city"]
    assert all(date.fromisoformat(r["week"]).weekday() == 0 for r in city)
    shown = [r["arrivals"] for r in city]
    assert _small(shown) == []
    arrivals = Counter(
        d.isocalendar()[:2]
        for (d,) in world.execute(text("SELECT arrived_on FROM stay WHERE season = 2024"))
    )
    for r in city:
        if r["arrivals"] is not None:
            assert r["arrivals"] == arrivals[date.fromisoformat(r["week"]).isocalendar()[:2]]


def test_peaks_show_a_day_and_month_only_with_a_count_that_is_not_small(world: Session) -> None:
    rows = presence.peaks(world, PLANNER, 2024)["rows"]
    assert {r["community_code"] for r in rows} == set(planner_world.ARRIVALS)
    for r in rows:
        assert (r["peak_day"] is None) == (r["peak_day_residents"] is None)
        assert (r["peak_month"] is None) == (r["peak_month_residents"] is None)
        assert _small([r["peak_day_residents"], r["peak_month_residents"]]) == []
    shown = [r for r in rows if r["peak_day"]]
    assert shown, "some community has a peak of ten or more"
    for r in shown:
        on = date.fromisoformat(r["peak_day"])
        present = world.scalar(
            text(
                "SELECT count(*) FROM stay WHERE community_code = :c AND arrived_on <= :d"
                " AND departed_on > :d"
            ),
            {"c": r["community_code"], "d": on},
        )
        assert r["peak_day_residents"] == present


def test_year_over_year_reads_the_same_window_a_year_before(world: Session) -> None:
    now = presence.presence(world, PLANNER, Window(2024, "2024-07"), Level.community)["rows"]
    after = presence.presence(world, PLANNER, Window(2025, "2025-07"), Level.community)["rows"]
    assert [r["area"] for r in after] == [r["area"] for r in now]  # areas of either year
    assert [r["residents_year_before"] for r in after] == [r["residents"] for r in now]
    assert {r["residents"] for r in after} == {0}  # nobody came back in the world


def test_only_planners_read_presence(world: Session) -> None:
    with pytest.raises(Forbidden):
        presence.presence(world, Principal(role="dispatcher", name="d"), Window(2024), Level.city)
