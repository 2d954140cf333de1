"""Walking distance from each cell to the nearest of a set of service areas.

A cell walks from one point: the mean of its residents' stay points in the season where the
cell has at least the disclosure threshold of stays (`cell_weighted_points`, migration
0016walk: the mean of so many points is no one's), else its centroid (a point on its surface,
for a clipped cell). The point never leaves this module; only distances do.

- `network` (a road network is active, geo.spatial.roads): both the cell's point and each
  service area are snapped to their nearest edge; the walk is the straight access leg to the
  edge, along the edge to either end, the shortest path between ends (`pgr_dijkstraCost`,
  undirected, many-to-many from the service areas' ends), and the same at the other side; or,
  on a shared edge, straight along it. A cell that cannot reach any service area by the network
  (another town) has no distance.
- `estimate` (no network loaded): the straight line on the ellipsoid times the detour factor
  (`HOUNIAO_WALK_DETOUR_FACTOR`, 1.3), to the nearest service area by that line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import active_release_id
from geo.spatial.roads.network import active_network


class Method(StrEnum):
    network = "network"  # by the road network (pgRouting)
    estimate = "estimate"  # straight line x detour factor


@dataclass(frozen=True)
class CellPoint:
    code: str
    community_code: str
    x: float
    y: float
    weighted: bool  # the mean of its residents' stay points (else its centroid)


@dataclass(frozen=True)
class Nearest:
    service_area_id: int
    metres: float


def cell_points(session: Session, season: int, min_residents: int) -> list[CellPoint]:
    """Every cell of the active release with the point it walks from in `season`."""
    rid = active_release_id(session)
    if rid is None:
        return []
    weighted = {
        code: (x, y)
        for code, x, y in session.execute(
            text("SELECT cell_code, ST_X(geom), ST_Y(geom) FROM cell_weighted_points(:s, :k)"),
            {"s": season, "k": min_residents},
        )
    }
    rows = session.execute(
        text(
            "SELECT code, community_code, ST_X(p), ST_Y(p) FROM ("
            " SELECT code, community_code, ST_PointOnSurface(geom) AS p FROM grid_cell g"
            f" WHERE {in_release('g')}) q ORDER BY code"
        ),
        {"rid": rid},
    )
    out = []
    for code, community, x, y in rows:
        wx, wy = weighted.get(code, (x, y))
        out.append(CellPoint(code, community, wx, wy, code in weighted))
    return out


def service_areas_offering(session: Session, item: str | None) -> list[int]:
    """Ids of the service areas offering catalogue `item` (every service area for None)."""
    return list(
        session.scalars(
            text(
                "SELECT id FROM service_area WHERE CAST(:i AS text) IS NULL"
                " OR CAST(:i AS text) = ANY(services) ORDER BY id"
            ),
            {"i": item},
        )
    )


def health_check_areas(session: Session) -> list[int]:
    """Ids of the service areas that host an active health-check centre (体检点)."""
    return list(
        session.scalars(
            text("SELECT DISTINCT area_id FROM check_centre WHERE active ORDER BY area_id")
        )
    )


def nearest(
    session: Session,
    points: list[CellPoint],
    targets: list[int],
    *,
    detour_factor: float,
) -> tuple[Method, str | None, dict[str, Nearest]]:
    """(method, network name, {cell code: nearest target and the walk in metres}). Cells that
    reach no target are left out."""
    network = active_network(session)
    if not points or not targets:
        return (
            Method.network if network else Method.estimate,
            network.name if network else None,
            {},
        )
    params = {
        "k": [p.code for p in points],
        "x": [p.x for p in points],
        "y": [p.y for p in points],
        "t": targets,
    }
    if network is None:
        rows = session.execute(_ESTIMATE, {**params, "f": detour_factor})
        return Method.estimate, None, {k: Nearest(t, m) for k, t, m in rows}
    rows = session.execute(_NETWORK, {**params, "n": network.id})
    return Method.network, network.name, {k: Nearest(int(t), m) for k, t, m in rows}


_POINTS = """
cells AS (
    SELECT k, ST_SetSRID(ST_MakePoint(x, y), 4326) AS geom
    FROM unnest(CAST(:k AS text[]), CAST(:x AS float8[]), CAST(:y AS float8[])) AS c(k, x, y)),
targets AS (SELECT id, geom FROM service_area WHERE id = ANY(CAST(:t AS int[])))"""

_ESTIMATE = text(
    f"""WITH {_POINTS}
SELECT c.k, n.id, ST_Distance(geography(c.geom), geography(n.geom)) * :f
FROM cells c CROSS JOIN LATERAL (
    SELECT t.id, t.geom FROM targets t
    ORDER BY geography(t.geom) <-> geography(c.geom), t.id LIMIT 1) n"""
)

# The nearest edge of the active network to a point (by metres, among the few nearest by the
# index's degrees), where along it the point falls (0..1) and the straight access leg in metres.
_SNAP = """CROSS JOIN LATERAL (
    SELECT q.edge, q.source, q.target, q.length_m,
           ST_LineLocatePoint(q.geom, {p}) AS f, q.access
    FROM (SELECT r.id AS edge, r.source, r.target, r.length_m, r.geom,
                 ST_Distance(geography({p}), geography(r.geom)) AS access
          FROM road_edge r WHERE r.network_id = :n ORDER BY r.geom <-> {p} LIMIT 8) q
    ORDER BY q.access, q.edge LIMIT 1) e"""

# Shared by both network statements: each snapped point's two ends (its edge's vertices, with
# the metres to each), the edges as pgRouting reads them, and the walks: through the network
# between ends, or along one edge when both points snapped to it.
_ENDS = """ends AS (
    SELECT kind, key, source AS v, access + f * length_m AS off FROM snapped
    UNION ALL
    SELECT kind, key, target, access + (1 - f) * length_m FROM snapped)"""
_EDGES = """format('SELECT id, source, target, length_m AS cost, length_m AS reverse_cost'
               ' FROM road_edge WHERE network_id = %s', CAST(:n AS int))"""
_WALKS = """walks AS (
    SELECT c.key, t.key AS target, c.off + k.agg_cost + t.off AS metres
    FROM ends c JOIN costs k ON k.end_vid = c.v
    JOIN ends t ON t.kind = 't' AND t.v = k.start_vid
    WHERE c.kind = 'c'
    UNION ALL
    SELECT c.key, t.key, c.access + abs(c.f - t.f) * c.length_m + t.access
    FROM snapped c JOIN snapped t ON t.kind = 't' AND t.edge = c.edge
    WHERE c.kind = 'c')"""

_NETWORK = text(
    f"""WITH {_POINTS},
snapped AS (
    SELECT 'c' AS kind, c.k AS key, e.* FROM cells c {_SNAP.format(p="c.geom")}
    UNION ALL
    SELECT 't', t.id::text, e.* FROM targets t {_SNAP.format(p="t.geom")}),
{_ENDS},
costs AS (
    SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost(
        {_EDGES},
        (SELECT array_agg(DISTINCT CAST(v AS bigint)) FROM ends WHERE kind = 't'),
        (SELECT array_agg(DISTINCT CAST(v AS bigint)) FROM ends WHERE kind = 'c'),
        directed => false)
    UNION ALL
    SELECT DISTINCT v, v, 0 FROM ends WHERE kind = 't'),
{_WALKS}
SELECT DISTINCT ON (key) key, target, metres FROM walks
ORDER BY key, metres, CAST(target AS int)"""
)


def matrix(
    session: Session,
    origins: list[CellPoint],
    sites: list[CellPoint],
    *,
    max_metres: float,
    detour_factor: float,
) -> tuple[Method, dict[tuple[str, str], float]]:
    """{(origin code, site code): metres} for every pair within `max_metres`, by the active
    network (else the straight line x detour factor), walked as `nearest` walks."""
    if not origins or not sites:
        return (Method.network if active_network(session) else Method.estimate), {}
    network = active_network(session)
    params = {
        "k": [p.code for p in origins],
        "x": [p.x for p in origins],
        "y": [p.y for p in origins],
        "sk": [p.code for p in sites],
        "sx": [p.x for p in sites],
        "sy": [p.y for p in sites],
        "max": max_metres,
    }
    if network is None:
        rows = session.execute(_MATRIX_ESTIMATE, {**params, "f": detour_factor})
        return Method.estimate, {(o, t): m for o, t, m in rows}
    rows = session.execute(_MATRIX_NETWORK, {**params, "n": network.id})
    return Method.network, {(o, t): m for o, t, m in rows}


_SITES = """
cells AS (
    SELECT k, ST_SetSRID(ST_MakePoint(x, y), 4326) AS geom
    FROM unnest(CAST(:k AS text[]), CAST(:x AS float8[]), CAST(:y AS float8[])) AS c(k, x, y)),
sites AS (
    SELECT k, ST_SetSRID(ST_MakePoint(x, y), 4326) AS geom
    FROM unnest(CAST(:sk AS text[]), CAST(:sx AS float8[]), CAST(:sy AS float8[])) AS s(k, x, y))"""

_MATRIX_ESTIMATE = text(
    f"""WITH {_SITES}
SELECT c.k, s.k, ST_Distance(geography(c.geom), geography(s.geom)) * :f
FROM cells c JOIN sites s
  ON ST_DWithin(geography(c.geom), geography(s.geom), :max / :f)"""
)

_MATRIX_NETWORK = text(
    f"""WITH {_SITES},
snapped AS (
    SELECT 'c' AS kind, c.k AS key, e.* FROM cells c {_SNAP.format(p="c.geom")}
    UNION ALL
    SELECT 't', s.k, e.* FROM sites s {_SNAP.format(p="s.geom")}),
{_ENDS},
costs AS (
    SELECT from_v AS start_vid, node AS end_vid, agg_cost FROM pgr_drivingDistance(
        {_EDGES},
        (SELECT array_agg(DISTINCT CAST(v AS bigint)) FROM ends WHERE kind = 't'),
        CAST(:max AS float8), directed => false, equicost => false)),
{_WALKS}
SELECT key, target, min(metres) FROM walks GROUP BY 1, 2 HAVING min(metres) <= :max"""
)
