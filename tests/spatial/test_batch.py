"""The batch path (geo.spatial.batch.CellIndex) gives the single-point path's answer for every point.

The single-point path is `geo.spatial.locate.locate` (PostGIS ST_Intersects, lowest code on shared edges
and vertices). Points are drawn where the two could differ: vertices, edge midpoints, points that
PostGIS's own arithmetic puts exactly on an edge, points a hair off an edge, and anywhere in the
urban cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.core.errors import NotFound, OutsideCoverage
from geo.spatial import locate as locating
from geo.spatial.batch import CellIndex


@dataclass(frozen=True)
class Demo:
    index: CellIndex
    rings: list[np.ndarray]  # exterior ring coordinates of every demo cell
    cores: np.ndarray  # (n, 4) bbox of each district's cells, padded


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Demo:
    with Session(engine) as session:
        index = CellIndex.from_session(session)
        rows = session.execute(
            text("SELECT code, ST_AsBinary(geom) FROM grid_cell ORDER BY code")
        ).all()
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    districts = np.array([r[0][:6] for r in rows])
    cores = np.array(
        [
            shapely.total_bounds(geoms[districts == d]) + [-2e-3, -2e-3, 2e-3, 2e-3]
            for d in np.unique(districts)
        ]
    )
    return Demo(index, [shapely.get_coordinates(g.exterior) for g in geoms], cores)


def located(session: Session, lon: float, lat: float) -> str | None:
    try:
        return locating.locate(session, lon, lat).cell_code
    except OutsideCoverage:
        return None


def on_edge(a: np.ndarray, b: np.ndarray, t: float) -> tuple[float, float]:
    """A point of segment ab near a + t (b - a) that PostGIS's determineSide puts exactly on the
    segment: a dyadic t gives one often (b - a is exact), else the vertex a."""
    for j in range(20, 0, -1):
        tj = round(t * 2**j) / 2**j
        x, y = float(a[0] + tj * (b[0] - a[0])), float(a[1] + tj * (b[1] - a[1]))
        if (b[0] - a[0]) * (y - a[1]) - (x - a[0]) * (b[1] - a[1]) == 0:
            return x, y
    return float(a[0]), float(a[1])


@st.composite
def demo_points(draw: st.DrawFn, demo: Demo) -> tuple[float, float]:
    kind = draw(st.sampled_from(["vertex", "midpoint", "on_edge", "near_edge", "core"]))
    if kind == "core":
        x0, y0, x1, y1 = demo.cores[draw(st.integers(0, len(demo.cores) - 1))]
        return draw(st.floats(x0, x1)), draw(st.floats(y0, y1))
    ring = demo.rings[draw(st.integers(0, len(demo.rings) - 1))]
    i = draw(st.integers(0, len(ring) - 2))
    a, b = ring[i], ring[i + 1]
    t = draw(st.floats(0, 1))
    match kind:
        case "vertex":
            return float(a[0]), float(a[1])
        case "midpoint":
            return float((a[0] + b[0]) / 2), float((a[1] + b[1]) / 2)
        case "on_edge":
            return on_edge(a, b, t)
    offset = st.sampled_from([0.0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-9, -1e-9, 1e-6, -1e-6])
    return float(a[0] + t * (b[0] - a[0]) + draw(offset)), float(
        a[1] + t * (b[1] - a[1]) + draw(offset)
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_batch_equals_locate_on_edges_vertices_and_cores(
    data, demo: Demo, session: Session
) -> None:
    points = data.draw(st.lists(demo_points(demo), min_size=1, max_size=25))
    lon, lat = np.array(points).T
    got = demo.index.assign(lon, lat)
    want = [located(session, x, y) for x, y in points]
    assert got.tolist() == want


def test_every_vertex_of_the_demo_grid(demo: Demo, session: Session) -> None:
    vertices = np.unique(np.concatenate(demo.rings), axis=0)
    got = demo.index.assign(vertices[:, 0], vertices[:, 1])
    assert got.tolist() == [located(session, x, y) for x, y in vertices]
    assert None not in got  # a vertex lies on its own cell


def test_edge_points_where_geos_and_postgis_disagree(demo: Demo, session: Session) -> None:
    """GEOS's robust side test differs from PostGIS's plain-double one for a few points on edges;
    the batch path follows PostGIS (the single-point path), not GEOS."""
    rng = np.random.default_rng(1)
    pts = np.concatenate(
        [
            r[:-1] + rng.random((len(r) - 1, 6, 1)).transpose(1, 0, 2) * np.diff(r, axis=0)
            for r in demo.rings
        ],
        axis=1,
    ).reshape(-1, 2)
    got = demo.index.assign_index(pts[:, 0], pts[:, 1])
    # demo.rings are in code order, as the index's cells are.
    tree = shapely.STRtree([shapely.Polygon(r) for r in demo.rings])
    hit_pt, hit_cell = tree.query(shapely.points(pts), "intersects")
    geos = np.full(len(pts), len(demo.rings))
    np.minimum.at(geos, hit_pt, hit_cell)
    differ = np.flatnonzero(np.where(geos < len(demo.rings), geos, -1) != got)
    assert len(differ) < len(pts) / 1000  # rare, and only on edges
    sample = np.concatenate([differ, rng.choice(len(pts), 200, replace=False)])
    batch = demo.index.assign(pts[sample, 0], pts[sample, 1])
    assert batch.tolist() == [located(session, *pts[i]) for i in sample]


def test_holes_overlaps_and_multipolygons_follow_postgis(session: Session) -> None:
    """Beyond the demo: cells with holes, overlapping cells (as --force can write), multipolygons
    and many-vertex rings, against the same predicate and rule as LOCATE_SQL."""
    polygons = [
        shapely.box(0, 0, 1, 1).difference(shapely.box(0.3, 0.3, 0.6, 0.6)),
        shapely.box(0.3, 0.3, 0.6, 0.6),
        shapely.box(0.5, 0.5, 1.5, 1.5),
        shapely.MultiPolygon([shapely.box(2, 0, 3, 1), shapely.box(3, 0, 4, 0.5)]),
        shapely.Point(5, 0.5).buffer(0.7, 64),
        shapely.Polygon([(0, 1), (0.5, 1), (1, 1), (1, 2), (0, 2)]),
    ]
    codes = [f"{i:015d}" for i in (5, 3, 1, 7, 2, 0)]
    index = CellIndex.from_frame(codes, polygons)
    rng = np.random.default_rng(5)
    pts = [np.column_stack([rng.uniform(-0.5, 6, 4000), rng.uniform(-0.5, 2.5, 4000)])]
    for ring in shapely.get_rings(shapely.get_parts(polygons)):
        c = shapely.get_coordinates(ring)
        pts += [c, c[:-1] + rng.random((len(c) - 1, 1)) * np.diff(c, axis=0)]
    pts = np.concatenate(pts)
    session.execute(text("CREATE TEMP TABLE batch_cell (code text, geom geometry)"))
    session.execute(
        text("INSERT INTO batch_cell VALUES (:code, ST_GeomFromWKB(:wkb, 4326))"),
        [{"code": c, "wkb": shapely.to_wkb(p)} for c, p in zip(codes, polygons, strict=True)],
    )
    want = (
        session.execute(
            text(
                "SELECT (SELECT code FROM batch_cell WHERE ST_Intersects(geom,"
                " ST_SetSRID(ST_MakePoint(x, y), 4326)) ORDER BY code LIMIT 1)"
                " FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, i)"
                " ORDER BY i"
            ),
            {"xs": pts[:, 0].tolist(), "ys": pts[:, 1].tolist()},
        )
        .scalars()
        .all()
    )
    assert index.assign(pts[:, 0], pts[:, 1]).tolist() == want


def test_non_finite_and_far_points_are_none(demo: Demo) -> None:
    code = demo.index.codes[0]
    x, y = shapely.get_coordinates(shapely.Polygon(demo.rings[0]).point_on_surface())[0]
    lon = [np.nan, np.inf, -np.inf, x, 1e308, -1e308, x, 0.0]
    lat = [y, y, y, np.nan, y, y, y, 0.0]
    got = demo.index.assign(lon, lat)
    assert got.tolist() == [None, None, None, None, None, None, code, None]
    assert demo.index.assign([], []).tolist() == []
    assert demo.index.assign_index(np.array([np.nan]), np.array([np.inf])).tolist() == [-1]


def test_from_session_carries_the_hierarchy(demo: Demo, session: Session) -> None:
    attrs = demo.index.attributes
    assert attrs is not None and len(attrs) == len(demo.index) == 1118
    assert attrs["cell_code"].tolist() == demo.index.codes.tolist()
    assert (attrs["cell_code"].str[:12] == attrs["community_code"]).all()
    with pytest.raises(NotFound):
        CellIndex.from_session(session, release=999_999)
