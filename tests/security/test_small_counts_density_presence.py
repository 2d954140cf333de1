"""Density and presence are one protected table per month: a planner reads the residents' density
(/api/v1/residents/density) and the presence figures (/api/v1/planning/presence, every level) of
each month of a season and tries to work out a hidden count by combining them, e.g. a community's
total from presence minus its visible cells from density. Each cell must read the same in both
(hidden in one = hidden in the other), the totals must match the counts they stand for, and the
attacker must recover nothing from the union."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import text

from geo.access.principal import Role
from geo.privacy.windows import season_months
from tests.security.conftest import add_account, bearer
from tests.security.linear_attack import recover
from tests.security.planner_world import SEASON, settle_residents

K = 10
LEVELS = ("community", "street", "district", "city")


@pytest.fixture
def world(session):
    return settle_residents(session)


@pytest.fixture
def ask(session, app_client):
    headers = bearer(session, add_account(session, "t-planner-dens", Role.planner))
    client = app_client()

    def get(path, **params):
        r = client.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    return get


def test_density_and_presence_hide_the_same_cells_and_agree(world, session, ask):
    density = ask("/api/v1/residents/density", season=SEASON)
    cells = {(r["month"], r["cell_code"] or r["community_code"] + ":"): r for r in density["rows"]}
    published: dict = {}
    sums: list = []
    for month in season_months(SEASON):
        raw = dict(
            session.execute(
                text(
                    "SELECT cell_code, sum(residents)::int FROM presence_month"
                    " WHERE month = :m GROUP BY 1"
                ),
                {"m": f"{month}-01"},
            ).all()
        )
        in_density = {key[1]: r for key, r in cells.items() if key[0] == month}
        alone = ask("/api/v1/residents/density", month=month)["rows"]
        assert {(r["cell_code"], r["residents"]) for r in alone} == {
            (r["cell_code"], r["residents"]) for r in in_density.values()
        }, f"{month} alone differs from {month} in its season"
        for r in ask("/api/v1/planning/presence", month=month, level="cell")["rows"]:
            assert in_density[r["area"]]["residents"] == r["residents"], (month, r["area"])
        for cell, r in in_density.items():
            shown = r["residents"]
            truth = raw.get(cell[:-1] if cell.endswith(":") else cell, 0)
            assert shown is None or shown == truth, (month, cell)  # visible = the true count
            assert shown is None or shown == 0 or shown >= K
            published["cell", month, cell] = shown
        parts: dict = defaultdict(list)
        for cell, r in in_density.items():
            parts["community", r["community_code"]].append(("cell", month, cell))
        for level in LEVELS:
            for r in ask("/api/v1/planning/presence", month=month, level=level)["rows"]:
                published[level, month, r["area"]] = r["residents"]
                if level == "city" and r["residents"] is not None:
                    assert r["residents"] == sum(raw.values())  # the totals agree
        for key in [k for k in published if k[1] == month and k[0] != "cell"]:
            level, _, area = key
            if level == "community":
                sums.append((key, parts["community", area]))
            elif level != "city":
                below = LEVELS[LEVELS.index(level) - 1]
                sums.append(
                    (
                        key,
                        [k for k in published if k[:2] == (below, month) and k[2].startswith(area)],
                    )
                )
            else:
                sums.append((key, [k for k in published if k[:2] == ("district", month)]))
    hidden = [k for k, v in published.items() if v is None]
    assert hidden and any(v for k, v in published.items() if k[0] == "cell")
    assert recover(published, sums) == {}
