"""Walking coverage: distances by the road network (pgRouting) or, with none, estimated and
labelled; tiers of the 15-minute life circle; counts through the one suppression path; planners
only."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core.errors import Forbidden, InvalidInput
from geo.planning import coverage, presence, walking
from geo.planning.presence import Level
from geo.privacy.windows import Window
from geo.spatial.roads.network import build_topology, write_network
from tests.planning.test_presence_figures import PLANNER
from tests.security import planner_world
from tests.security.linear_attack import recover

GEOD = Geod(ellps="WGS84")
K = 10
# A hand-built L far from the demo towns: A -> B (east) -> C (north); D is a dead end off B.
A, B, C, D = (129.50, 47.50), (129.51, 47.50), (129.51, 47.51), (129.52, 47.50)


def _metres(*points: tuple[float, float]) -> float:
    lons, lats = zip(*points, strict=True)
    return float(GEOD.line_length(lons, lats))


def _service_area(session: Session, at: tuple[float, float], services: list[str]) -> int:
    return int(
        session.scalar(
            text(
                "INSERT INTO service_area (name, community_code, address, opening_hours,"
                " services, geom) VALUES ('t', '230717001001', 't', 'Mo-Su 08:00-17:00', :s,"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
            ),
            {"s": services, "x": at[0], "y": at[1]},
        )
    )


def _hand_network(session: Session) -> int:
    topology = build_topology(
        [shapely.LineString([A, B, C]), shapely.LineString([B, D])],
    )
    return write_network(
        session, name="t-hand", source="test", source_crs="wgs84", topology=topology
    )


def test_the_demo_load_builds_a_connected_active_network(session: Session) -> None:
    row = session.execute(
        text(
            "SELECT n.name, n.source_crs, count(*), min(e.length_m), max(e.length_m)"
            " FROM road_network n JOIN road_edge e ON e.network_id = n.id WHERE n.active"
            " GROUP BY 1, 2"
        )
    ).one()
    name, crs, edges, shortest, longest = row
    assert "演示路网" in name and crs == "wgs84" and edges > 5000
    assert shortest > 0 and longest < 5000  # blocks of about 190 m; district edges longer
    # every edge's ends are vertices of its network
    orphans = session.scalar(
        text(
            "SELECT count(*) FROM road_edge e JOIN road_network n ON n.id = e.network_id"
            " AND n.active WHERE NOT EXISTS (SELECT 1 FROM road_vertex v"
            " WHERE v.network_id = e.network_id AND v.id IN (e.source, e.target))"
        )
    )
    assert orphans == 0


def test_a_known_small_network_gives_the_hand_computed_distance(session: Session) -> None:
    _hand_network(session)
    area = _service_area(session, C, [])
    point = walking.CellPoint("230717001001001", "230717001001", *A, weighted=False)
    method, name, walks = walking.nearest(session, [point], [area], detour_factor=1.3)
    assert method == walking.Method.network and name == "t-hand"
    expected = _metres(A, B) + _metres(B, C)  # along the L, not through the dead end
    assert walks[point.code].service_area_id == area
    assert walks[point.code].metres == pytest.approx(expected, abs=0.5)
    assert walks[point.code].metres > _metres(A, C)  # the straight line cuts the corner


def test_a_point_off_the_network_walks_to_it_first(session: Session) -> None:
    _hand_network(session)
    area = _service_area(session, B, [])
    off = (129.505, 47.501)  # ~111 m north of the middle of A-B
    point = walking.CellPoint("230717001001001", "230717001001", *off, weighted=False)
    walks = walking.nearest(session, [point], [area], detour_factor=1.3)[2]
    foot = (129.505, 47.50)
    expected = _metres(off, foot) + _metres(foot, B)
    assert walks[point.code].metres == pytest.approx(expected, rel=0.002)


def test_network_walks_are_never_shorter_than_the_straight_line(session: Session) -> None:
    points = walking.cell_points(session, 2024, K)
    areas = walking.service_areas_offering(session, None)
    method, _, walks = walking.nearest(session, points, areas, detour_factor=1.3)
    assert method == walking.Method.network and len(walks) == len(points) > 1000
    located = {
        sid: shapely.Point(x, y)
        for sid, x, y in session.execute(
            text("SELECT id, ST_X(geom), ST_Y(geom) FROM service_area")
        )
    }
    ratios = []
    for p in points:
        walk = walks[p.code]
        target = located[walk.service_area_id]
        straight = _metres((p.x, p.y), (target.x, target.y))
        assert walk.metres >= straight - 0.5, p.code
        ratios.append(walk.metres / max(straight, 1.0))
    ratios.sort()
    assert 1.0 <= ratios[len(ratios) // 2] < 1.6  # a grid of streets: about 1.2-1.3 typical


def test_without_a_network_the_walk_is_an_estimate_and_says_so(session: Session) -> None:
    session.execute(text("UPDATE road_network SET active = false"))
    area = _service_area(session, C, [])
    point = walking.CellPoint("230717001001001", "230717001001", *A, weighted=False)
    method, name, walks = walking.nearest(session, [point], [area], detour_factor=1.3)
    assert method == walking.Method.estimate and name is None
    assert walks[point.code].metres == pytest.approx(_metres(A, C) * 1.3, rel=1e-4)
    out = coverage.coverage(session, PLANNER, Window(2024))
    assert out["method"] == "estimate" and out["detour_factor"] == 1.3 and out["network"] is None


def test_tiers_of_the_life_circle() -> None:
    assert [coverage.tier_of(m) for m in (0, 4.99, 5, 7, 10, 10.01, 15, 16)] == [
        "5",
        "5",
        "5",
        "10",
        "10",
        "15",
        "15",
        "beyond",
    ]
    assert coverage.tier_of(None) == "beyond"


def test_cells_get_the_tier_of_their_minutes_at_the_given_pace(session: Session) -> None:
    out = coverage.coverage(session, PLANNER, Window(2024), speed_kmh=3.0)
    assert out["method"] == "network" and out["speed_kmh"] == 3.0
    for cell in out["cells"]:
        walk = cell["item"]
        assert walk["minutes"] == pytest.approx(walk["metres"] / 50.0, abs=0.2)  # 3 km/h
        near_a_limit = any(abs(walk["minutes"] - limit) < 0.2 for limit in coverage.TIERS)
        assert walk["tier"] == coverage.tier_of(walk["minutes"]) or near_a_limit
    slower = coverage.coverage(session, PLANNER, Window(2024), speed_kmh=2.0)
    n_beyond = [sum(c["item"]["tier"] == "beyond" for c in o["cells"]) for o in (out, slower)]
    assert n_beyond[1] >= n_beyond[0]


def test_an_unknown_item_or_pace_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="unknown catalogue item"):
        coverage.coverage(session, PLANNER, Window(2024), item="医疗:不存在")
    with pytest.raises(InvalidInput, match="walking speed"):
        coverage.coverage(session, PLANNER, Window(2024), speed_kmh=20)


@pytest.fixture
def residents(session: Session) -> Session:
    """The planners' world of season 2024, half of them born in 1950 (74 in 2024)."""
    planner_world.settle_residents(session)
    session.execute(text("UPDATE resident SET birth_year = 1950 WHERE id % 2 = 0"))
    session.commit()
    return session


def test_counts_are_population_weighted_and_small_ones_hidden(residents: Session) -> None:
    window = Window(2024)
    out = coverage.coverage(residents, PLANNER, window)
    counted = [(c["residents"], c["residents_65plus"]) for c in out["cells"] if c["residents"] != 0]
    assert counted, "the world's cells have residents"
    shown = [v for pair in counted for v in pair if v is not None]
    assert all(v == 0 or v >= K for v in shown)
    tiers = out["tiers"]["item"]
    values = [t[k] for t in tiers for k in ("residents", "residents_65plus")]
    assert all(v is None or v == 0 or v >= K for v in values)
    # every resident is in exactly one tier: the tiers add up to the city's residents
    total = sum(sum(bands.values()) for bands in presence.cell_ages(residents, window).values())
    if all(t["residents"] is not None for t in tiers):
        assert sum(t["residents"] for t in tiers) == total
    # whatever presence hides for a cell stays hidden here
    published = presence.published_cells(residents, window)
    by_cell = {c["cell_code"]: c for c in out["cells"]}
    for (_, level, area), value in published.items():
        if level == "cell" and value is None and area in by_cell:
            assert by_cell[area]["residents"] is None


def test_the_load_on_each_service_area_is_its_catchments_residents(residents: Session) -> None:
    """Peaks: each area's load = the residents present in the cells whose nearest area it is
    within 15 minutes; the loads add up to the residents within 15 minutes; every area listed."""
    window = Window(2024)
    out = coverage.coverage(residents, PLANNER, window)
    loads = out["loads"]["item"]
    assert len(loads) == out["service_areas"]["item"]  # idle areas too
    values = [v for r in loads for v in (r["residents"], r["residents_65plus"])]
    assert all(v is None or v == 0 or v >= K for v in values)
    truth: dict[int, int] = {}
    ages = {cell: sum(b.values()) for (_, cell), b in presence.cell_ages(residents, window).items()}
    for c in out["cells"]:
        walk = c["item"]
        if walk["tier"] in ("5", "10", "15"):
            truth[walk["service_area_id"]] = truth.get(walk["service_area_id"], 0) + ages.get(
                c["cell_code"], 0
            )
    assert any(v >= K for v in truth.values()), "some area carries a load worth showing"
    for r in loads:
        assert r["residents"] is None or r["residents"] == truth.get(r["service_area_id"], 0)
    within_15 = out["tiers"]["item"][2]["within_residents"]
    if within_15 is not None and all(r["residents"] is not None for r in loads):
        assert sum(r["residents"] for r in loads) == within_15


def test_the_cells_point_is_the_mean_of_its_residents_only_when_they_are_many(
    residents: Session,
) -> None:
    points = {p.code: p for p in walking.cell_points(residents, 2024, K)}
    stays = dict(
        residents.execute(
            text("SELECT cell_code, count(*) FROM stay WHERE season = 2024 GROUP BY 1")
        ).all()
    )
    for code, n in stays.items():
        assert points[code].weighted == (n >= K), code
    assert not any(p.weighted for code, p in points.items() if code not in stays)


def test_gaps_list_the_cells_beyond_15_minutes_and_change_when_an_area_is_added(
    residents: Session,
) -> None:
    out = coverage.coverage(residents, PLANNER, Window(2024))
    beyond = {c["cell_code"] for c in out["cells"] if c["item"]["tier"] == "beyond"}
    gaps = out["gaps"]["item"]
    assert {g["cell_code"] for g in gaps} <= beyond
    assert all(g["residents_65plus"] != 0 for g in gaps)
    # no health-check centre in this world: every cell is beyond, and says it cannot reach one
    assert out["service_areas"]["health_check"] == 0
    if gaps:  # a new service area at a gap cell's point closes that gap
        cell = gaps[0]["cell_code"]
        x, y = residents.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
                " WHERE code = :c) q"
            ),
            {"c": cell},
        ).one()
        _service_area(residents, (x, y), [])
        again = coverage.coverage(residents, PLANNER, Window(2024))
        assert cell not in {g["cell_code"] for g in again["gaps"]["item"]}


def test_only_planners_read_coverage(session: Session, client) -> None:  # noqa: ANN001
    from tests.residents.conftest import make_caller

    grid = Principal(role=Role.grid_worker.value, name="t-grid", cells=("230717001001001",))
    with pytest.raises(Forbidden):
        coverage.coverage(session, grid, Window(2024))
    planner = make_caller(session, "w-planner", "planner").headers
    worker = make_caller(session, "w-grid", "grid_worker", cells=["230717001001001"]).headers
    session.commit()
    url = "/api/v1/planning/coverage?season=2024"
    assert client.get(url, headers=worker).status_code == 403
    got = client.get(url, headers=planner)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["method"] == "network" and body["tiers_minutes"] == [5, 10, 15]
    assert {t["tier"] for t in body["tiers"]["item"]} == {"5", "10", "15", "beyond", "unlocated"}


def test_no_hidden_count_follows_from_coverage_and_presence_together(residents: Session) -> None:
    window = Window(2024, "2024-07")
    out = coverage.coverage(residents, PLANNER, window)
    published: dict = {}
    sums: list = []
    cells_of: dict[str, list[str]] = {}
    for level in (Level.cell, Level.community, Level.city):
        for r in presence.presence(residents, PLANNER, window, level)["rows"]:
            published["n", r["area"]] = r["residents"]
            if level == Level.cell:
                cells_of.setdefault(r["area"][:12], []).append(r["area"])
    for cell in out["cells"]:
        code = cell["cell_code"]
        if published.get(("n", code)) is None and cell["residents"] is not None:
            published["n", code] = cell["residents"]  # the reader takes whichever shows it
        published["old", code] = cell["residents_65plus"]
        published["young", code] = None  # never printed
        if code in sum(cells_of.values(), []):
            sums.append((("n", code), [("old", code), ("young", code)]))
    published["old", "city"] = None  # not published: only the tiers
    for community, cells in cells_of.items():
        sums.append((("n", community), [("n", c) for c in cells]))
    sums.append((("n", "city"), [("n", c) for c in cells_of]))
    for target in coverage.TARGETS:
        for row in out["tiers"][target]:
            published["n", target, row["tier"]] = row["residents"]
            published["old", target, row["tier"]] = row["residents_65plus"]
        for kind in ("n", "old"):
            tiers = [(kind, target, row["tier"]) for row in out["tiers"][target]]
            sums.append(((kind, "city"), tiers))
            for tier in {t[2] for t in tiers}:
                members = [
                    (kind, c["cell_code"])
                    for c in out["cells"]
                    if c[target]["tier"] == tier and c["cell_code"] in sum(cells_of.values(), [])
                ]
                if members:
                    sums.append(((kind, target, tier), members))
        for load in out["loads"][target]:
            members = [
                c["cell_code"]
                for c in out["cells"]
                if c[target]["service_area_id"] == load["service_area_id"]
                and c[target]["tier"] in ("5", "10", "15")
                and c["cell_code"] in sum(cells_of.values(), [])
            ]
            if members:
                for kind, field in (("n", "residents"), ("old", "residents_65plus")):
                    key = (kind, target, f"area:{load['service_area_id']}")
                    published[key] = load[field]
                    sums.append((key, [(kind, c) for c in members]))
    assert any(v is None for v in published.values()), "the world has small counts to hide"
    assert any(row["residents"] for row in out["tiers"]["item"]), "and tiers to show"
    found = recover(published, sums)
    # Nothing small can be worked out, nor any cell the presence table hides; what can be is a
    # large count never printed (the under-65s of a cell, the city's 65+).
    assert [(k, v) for k, v in found.items() if 0 < v < K] == []
    assert [k for k in found if k[0] == "n"] == []
    assert all(k[0] in ("young", "old") for k in found), found
