"""Candidate sites for new service areas (maximal covering with PySAL spopt) on the walking
distances: the walk matrix agrees with the nearest walks, a chosen site closes the gaps it
claims, and what it adds is only what coverage publishes."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core.errors import Forbidden, InvalidInput
from geo.planning import coverage, sites, walking
from geo.privacy.windows import Window
from tests.planning.test_presence_figures import PLANNER
from tests.planning.test_walking import residents  # noqa: F401  (the fixture)

K = 10


def test_the_walk_matrix_agrees_with_the_nearest_walk(session: Session) -> None:
    points = walking.cell_points(session, 2024, K)[:60]
    areas = walking.service_areas_offering(session, None)
    nearest = walking.nearest(session, points, areas, detour_factor=1.3)[2]
    located = [
        walking.CellPoint(str(i), "", x, y, weighted=False)
        for i, x, y in session.execute(text("SELECT id, ST_X(geom), ST_Y(geom) FROM service_area"))
    ]
    _, pairs = walking.matrix(session, points, located, max_metres=5000, detour_factor=1.3)
    for p in points:
        walk = nearest[p.code]
        if walk.metres <= 5000:
            best = min(m for (o, _), m in pairs.items() if o == p.code)
            assert best == pytest.approx(walk.metres, abs=0.01)
    assert all(m <= 5000 for m in pairs.values())


def test_candidate_sites_close_the_gaps_they_claim(residents: Session) -> None:  # noqa: F811
    # with only a few service areas the planners' world has gaps to close
    keep = residents.scalar(text("SELECT min(id) FROM service_area"))
    residents.execute(
        text(
            "DELETE FROM service_area WHERE id <> :k AND id NOT IN"
            " (SELECT area_id FROM check_centre UNION SELECT area_id FROM"
            " activity_space)"
        ),
        {"k": keep},
    )
    window = Window(2024)
    before = coverage.coverage(residents, PLANNER, window)
    gaps = {c["cell_code"] for c in before["cells"] if c["item"]["tier"] == "beyond"}
    out = sites.candidate_sites(residents, PLANNER, window, new_sites=2)
    assert out["method"] == "network" and out["within_minutes"] == 15
    assert 1 <= len(out["sites"]) <= 2
    shown = {c["cell_code"]: c["residents_65plus"] for c in before["cells"]}
    claimed: set[str] = set()
    for site in out["sites"]:
        assert set(site["gap_cells_covered"]) <= gaps and not claimed & set(
            site["gap_cells_covered"]
        )
        claimed |= set(site["gap_cells_covered"])
        visible = [shown[c] for c in site["gap_cells_covered"] if shown[c] is not None]
        assert site["adds_residents_65plus_shown"] == sum(visible)
        assert site["adds_cells_hidden"] == len(site["gap_cells_covered"]) - len(visible)
    assert claimed, "the world's gap cells with 65+ are within reach of a site"
    # a service area at the first site closes the gaps it claimed
    first = out["sites"][0]
    residents.execute(
        text(
            "INSERT INTO service_area (name, community_code, address, opening_hours, services,"
            " geom) VALUES ('new', :c, 'x', 'Mo-Su 08:00-17:00', '{}',"
            " ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ),
        {"c": first["community_code"], "x": first["lon"], "y": first["lat"]},
    )
    after = coverage.coverage(residents, PLANNER, window)
    still = {c["cell_code"] for c in after["cells"] if c["item"]["tier"] == "beyond"}
    assert not still & set(first["gap_cells_covered"])


def test_sites_are_for_planners_and_a_sane_number(session: Session) -> None:
    grid = Principal(role=Role.grid_worker.value, name="t-grid", cells=("230717001001001",))
    with pytest.raises(Forbidden):
        sites.candidate_sites(session, grid, Window(2024))
    with pytest.raises(InvalidInput, match="new_sites must be 1 to 20"):
        sites.candidate_sites(session, PLANNER, Window(2024), new_sites=0)
