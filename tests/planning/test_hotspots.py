"""Hot spots of cases (Getis-Ord Gi*, PySAL esda): a block of cells holding a cluster of cases is
found hot, a spatially random pattern finds nothing, bad input is a 422, and each role gets its
own area (a street's staff its street's cells, compared within the street) or a 403."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.cases import service
from geo.cases.schemas import CaseCreate
from geo.core.errors import Forbidden, InvalidInput
from geo.planning import hotspots
from geo.privacy.windows import Window
from tests.cases.conftest import point_in
from tests.planning.test_presence_figures import PLANNER

D = Principal(role=Role.dispatcher.value, name="t-dispatcher")
SEASON = Window(2024)
STREET = "230717001"


def _file(session: Session, cell: str, n: int, category: str = "medical", day: int = 1) -> None:
    """`n` cases in `cell`, filed through the cases service in July 2024."""
    lon, lat = point_in(session, cell)
    for i in range(n):
        at = datetime(2024, 7, 1 + (day + i) % 28, 2, 0, tzinfo=UTC)  # 10:00 in Yichun
        body = CaseCreate(category=category, description="热点测试", lon=lon, lat=lat)
        service.create_case(session, D, body, now=at, read_back=False)


def _inner_block(session: Session, within: str = "") -> list[str]:
    """A cell with eight queen neighbours (each with eight of their own) and those neighbours."""
    adjacency = hotspots.neighbours(session, PLANNER)
    for cell, around in sorted(adjacency.items()):
        inner = all(len(adjacency[c]) >= 8 and c.startswith(within) for c in around)
        if cell.startswith(within) and len(around) == 8 and inner:
            return [cell, *around]
    raise AssertionError("the demo grid has an inner block")


def _by_cell(out: dict) -> dict[str, dict]:
    return {c["cell_code"]: c for c in out["cells"]}


def test_a_block_of_cells_holding_a_cluster_is_hot(session: Session) -> None:
    block = _inner_block(session)
    for cell in block:
        _file(session, cell, 6)
    rng = random.Random(14)
    cells = hotspots.cell_codes(session, PLANNER)
    for cell in rng.sample([c for c in cells if c not in block], 40):
        _file(session, cell, 1, day=rng.randrange(28))
    out = hotspots.hotspots(session, D, SEASON)
    rows = _by_cell(out)
    assert out["cases"] == 9 * 6 + 40 and out["correction"] == "fdr"
    assert out["permutations"] == hotspots.PERMUTATIONS and out["p_cutoff"] is not None
    centre = rows[block[0]]
    assert centre["class"] == "hot" and centre["z"] > 5 and centre["p"] <= out["p_cutoff"]
    assert all(rows[c]["class"] == "hot" for c in block), [rows[c] for c in block]
    # the scattered single cases make no hot spot; every hot cell touches the block
    adjacency = hotspots.neighbours(session, PLANNER)
    hot = {c for c, r in rows.items() if r["class"] == "hot"}
    assert all(c in block or set(adjacency[c]) & set(block) for c in hot)
    assert out["summary"]["hot"] == len(hot) and sum(out["summary"].values()) == len(cells)
    # another category's cases are not these
    other = hotspots.hotspots(session, D, SEASON, category="tourism")
    assert other["cases"] == 0 and other["summary"]["hot"] == 0
    # a fixed seed: the same answer again, computed afresh
    hotspots._gi_star.cache_clear()
    assert hotspots.hotspots(session, D, SEASON) == out


def test_a_random_pattern_finds_nothing_significant(session: Session) -> None:
    rng = random.Random(2024)
    cells = hotspots.cell_codes(session, PLANNER)
    for cell in rng.sample(cells, 150):
        _file(session, cell, 1 + rng.randrange(2), day=rng.randrange(28))
    out = hotspots.hotspots(session, D, SEASON)
    assert out["cases"] >= 150
    assert out["summary"] == {"hot": 0, "cold": 0, "not_significant": len(cells)}
    assert all(c["z"] is not None and 0 < c["p"] <= 1 for c in out["cells"])
    # an empty neighbourhood among empty ones is not "extremely low": every draw ties with it
    empty = [c for c in out["cells"] if c["cases"] == 0 and c["z"] < 0]
    assert empty and min(c["p"] for c in empty) > 0.05


def test_an_even_pattern_has_no_statistic(session: Session) -> None:
    me = Principal(role=Role.street_staff.value, name="t-street", street=STREET)
    for cell in hotspots.cell_codes(session, me):
        _file(session, cell, 2)
    out = hotspots.hotspots(session, me, SEASON, permutations=99)
    assert out["p_cutoff"] is None and out["summary"]["not_significant"] == len(out["cells"])
    assert all(c["z"] is None and c["cases"] == 2 for c in out["cells"])


def test_bad_input_is_refused_with_what_to_send(session: Session) -> None:
    with pytest.raises(InvalidInput, match="unknown case category 'fire'; categories are"):
        hotspots.hotspots(session, D, SEASON, category="fire")
    with pytest.raises(InvalidInput, match="permutations must be 99 to 99999"):
        hotspots.hotspots(session, D, SEASON, permutations=10)
    grid = Principal(role=Role.grid_worker.value, name="t-grid", cells=("230717001001001",))
    with pytest.raises(Forbidden):
        hotspots.hotspots(session, grid, SEASON)


def test_over_http_each_role_gets_its_own_area(session: Session, client) -> None:  # noqa: ANN001
    from tests.residents.conftest import make_caller

    block = _inner_block(session, STREET)
    for cell in block:
        _file(session, cell, 5)
    elsewhere = _inner_block(session, "230717002")
    for cell in elsewhere:
        _file(session, cell, 7, category="housing")
    callers = {
        role: make_caller(session, f"h-{role}", role, **scope).headers
        for role, scope in {
            "planner": {},
            "dispatcher": {},
            "street_staff": {"street_code": STREET},
            "community_staff": {"community_code": block[0][:12]},
            "grid_worker": {"cells": [block[0]]},
            "admin": {},
        }.items()
    }
    session.commit()
    url = "/api/v1/planning/hotspots"
    fast = {"season": 2024}
    assert client.get(url, params=fast).status_code == 401
    for role in ("grid_worker", "admin"):
        assert client.get(url, params=fast, headers=callers[role]).status_code == 403
    # 9,999 permutations (the default): 36 cells at the false discovery rate need them
    street = client.get(url, params=fast, headers=callers["street_staff"])
    assert street.status_code == 200, street.text
    body = street.json()
    assert body["cells"] and all(c["cell_code"].startswith(STREET) for c in body["cells"])
    assert body["cases"] == 5 * len(block)  # the other street's cases are not counted
    assert {c["cell_code"] for c in body["cells"] if c["class"] == "hot"} >= {block[0]}
    assert body["counts_per_cell"] and {"z", "p", "class", "cases"} <= set(body["cells"][0])
    community = client.get(url, params=fast, headers=callers["community_staff"]).json()
    assert {c["cell_code"][:12] for c in community["cells"]} == {block[0][:12]}
    planner = client.get(url, params=fast, headers=callers["planner"]).json()
    assert planner["counts_per_cell"] is False
    assert all(c["cases"] is None for c in planner["cells"])
    assert planner["cases"] == 5 * len(block) + 7 * len(elsewhere)
    hot = {c["cell_code"] for c in planner["cells"] if c["class"] == "hot"}
    assert block[0] in hot and elsewhere[0] in hot
    housing = client.get(
        url, params={**fast, "category": "housing"}, headers=callers["dispatcher"]
    ).json()
    assert {c["cell_code"] for c in housing["cells"] if c["class"] == "hot"} & set(block) == set()
    for bad, says in (
        ({"season": 2024, "category": "fire"}, "unknown case category"),
        ({"season": 2024, "permutations": 5}, "permutations"),
        ({"month": "2024-13"}, "YYYY-MM"),
        ({"season": 1999}, "seasons run from"),
        ({"season": 2024, "month": "2024-07"}, "one window"),
    ):
        got = client.get(url, params=bad, headers=callers["planner"])
        assert got.status_code == 422 and says in got.text, (bad, got.text)
