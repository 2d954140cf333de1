"""Issue 9, hole 4, for residents: a planner collects every flows, origins and density answer of a
season (the whole season and each month, through the API) and tries to read a small count or work
one out: the city's arrivals minus the visible communities, a province minus its visible cities,
the season's arrivals minus the visible provinces (both count the season's residents), a month
asked alone against the same month inside its season. Ranges of seasons are refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from geo.access.principal import Role
from geo.privacy.windows import season_months
from geo.spatial.boundaries.models import in_release
from tests.security.conftest import add_account, bearer
from tests.security.linear_attack import recover
from tests.security.planner_world import SEASON, STREETS, settle_residents

K = 10
SEASON_RESIDENTS = ("season residents",)  # what arrivals and origins both add up to: unknown


@pytest.fixture
def world(session):
    return settle_residents(session)


@pytest.fixture
def ask(session, app_client):
    headers = bearer(session, add_account(session, "t-planner-residents", Role.planner))
    client = app_client()

    def get(path, **params):
        r = client.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    get.client, get.headers = client, headers
    return get


def _keep(published: dict, cell: tuple, value) -> None:
    assert published.get(cell, value) == value, f"{cell} differs between answers"
    published[cell] = value


def test_flows_and_origins_cannot_be_worked_out(world, ask):
    published: dict = {SEASON_RESIDENTS: None}
    windows = [{"season": SEASON}] + [{"month": m} for m in season_months(SEASON)]
    for window in windows:
        answer = ask("/api/v1/residents/flows", **window)
        for row in answer["rows"]:
            for kind in ("arrivals", "departures"):
                _keep(published, (kind, row["community_code"], row["month"]), row[kind])
        for row in answer["city"]:
            for kind in ("arrivals", "departures"):
                _keep(published, (kind, "city", row["month"]), row[kind])
    origins = ask("/api/v1/residents/origins", season=SEASON)
    for row in origins["rows"]:
        _keep(published, ("origin", row["province"], row["city"]), row["residents"])
    for row in origins["provinces"]:
        _keep(published, ("province", row["province"]), row["residents"])

    values = [v for k, v in published.items() if k != SEASON_RESIDENTS]
    assert any(v is None for v in values) and any(v is not None and v >= K for v in values)
    assert [v for v in values if v is not None and 0 < v < K] == []
    assert published["departures", "city", "2024-05"] in (None, 0)  # the winter stays: 2

    sums = []
    months = season_months(SEASON)
    for kind in ("arrivals", "departures"):
        for m in months:
            parts = [k for k in published if k[0] == kind and k[2] == m and k[1] != "city"]
            sums.append(((kind, "city", m), parts))
    for province in {k[1] for k in published if k[0] == "province"}:
        sums.append(
            (("province", province), [k for k in published if k[:2] == ("origin", province)])
        )
    sums.append((SEASON_RESIDENTS, [("arrivals", "city", m) for m in months]))
    sums.append((SEASON_RESIDENTS, [k for k in published if k[0] == "province"]))
    assert set(recover(published, sums)) <= {SEASON_RESIDENTS}


def test_density_shows_no_small_count_in_any_window(world, ask):
    seen: dict = {}
    for window in [{"season": SEASON}] + [{"month": m} for m in season_months(SEASON)]:
        answer = ask("/api/v1/residents/density", **window)
        assert answer["threshold"] == K
        for row in answer["rows"]:
            _keep(seen, (row["month"], row["cell_code"]), row["residents"])
    assert any(v is None for v in seen.values()) and any(v for v in seen.values())
    assert all(v is None or v == 0 or v >= K for v in seen.values()), seen


def test_density_lists_every_cell_with_zero_where_nobody_was(world, ask, session):
    """Issue 11: a cell with nobody is 0 in the answer, not left out (which reads as unknown);
    the small counts stay hidden beside the zeros."""
    cells = set(
        session.execute(
            text(
                "SELECT g.code FROM grid_cell g JOIN boundary_release r ON r.status = 'active'"
                f" WHERE {in_release('g', 'r.id')}"
            )
        ).scalars()
    )
    season = ask("/api/v1/residents/density", season=SEASON)
    by_cell = {(r["month"], r["cell_code"]): r["residents"] for r in season["rows"]}
    assert {key for key in by_cell if key[1]} == {
        (m, c) for m in season_months(SEASON) for c in cells
    }
    settled = {community for communities in STREETS.values() for community in communities}
    empty = sorted(c for c in cells if c[:12] not in settled)
    assert empty and all(by_cell[m, c] == 0 for m in season_months(SEASON) for c in empty)
    july = ask("/api/v1/residents/density", month="2024-07")["rows"]
    shown = {r["cell_code"]: r["residents"] for r in july if r["cell_code"]}
    assert set(shown) == cells and shown[empty[0]] == 0
    # July's two cells per community hide each other (the presence table publishes the
    # community, tests/security/test_small_counts_density_presence.py); the season shows some
    assert any(v is None for v in shown.values()) and any(by_cell.values())
    assert all(v is None or v == 0 or v >= K for v in shown.values())


def test_ranges_of_seasons_are_refused(ask):
    for path, params in [
        ("/api/v1/residents/density", {"season_from": 2021}),
        ("/api/v1/residents/flows", {"season_from": 2021, "season_to": 2024}),
        ("/api/v1/residents/origins", {"season_to": 2024}),
        ("/api/v1/residents/origins", {"month": "2024-07"}),  # origins are counted per season
        ("/api/v1/residents/flows", {"month": "2024-07", "season": 2024}),
        ("/maps/density", {"season_from": 2021}),
    ]:
        r = ask.client.get(path, params=params, headers=ask.headers)
        assert r.status_code == 422, (path, params, r.text)
        assert "season=YYYY" in r.json()["detail"]


def test_planner_map_draws_no_small_count(world, ask):
    """The map's charts and hexagons come from the same protected tables (city flows per month,
    provinces): every number drawn is zero or at least the threshold."""
    page = ask.client.get("/maps/density", params={"season": SEASON}, headers=ask.headers)
    assert page.status_code == 200
    drawn = [int(v) for v in re.findall(r"<title>(\d+)</title>", page.text)]
    drawn += [int(v) for v in re.findall(r"(\d+) 人", page.text)]
    assert drawn and all(v == 0 or v >= K for v in drawn), drawn
    assert "少于阈值，不公开" in page.text  # a suppressed bar: a fixed stub, no height
    assert f"<b>{SEASON} 季</b>" in page.text and f"?season={SEASON - 1}" in page.text
    signed_out = ask.client.get(
        "/maps/density",
        params={"season": SEASON},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )  # a browser sent to sign in comes back to the season it asked for
    assert signed_out.headers["location"] == "/maps/login?next=/maps/density%3Fseason%3D2024"
