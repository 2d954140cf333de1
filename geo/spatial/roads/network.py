"""Build a routable network from lines, and write it as a road network (migration 0016walk).

Topology is built in-process with shapely: the lines are noded (split at every crossing and
shared point, duplicates dissolved, `shapely.unary_union`), each piece becomes an edge, and its
two ends become vertices, numbered in coordinate order, so the same lines always give the same
network. Lengths are measured in PostGIS on the ellipsoid (`ST_Length(geography)`), in metres.
Networks are replaced by name; at most one is active, and coverage walks that one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from geo.spatial.roads.models import RoadNetwork

Progress = Callable[[str, int], None]
COORD_DIGITS = 7  # ~1 cm: vertex identity by rounded coordinates


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


@dataclass(frozen=True)
class Topology:
    """Noded edges (WGS84 lines) with their vertex ids, and each vertex's point."""

    edges: list[shapely.LineString]
    source: list[int]
    target: list[int]
    vertices: list[tuple[float, float]]  # vertex id i + 1 is vertices[i]
    highway: list[str | None]
    name: list[str | None]


def build_topology(
    lines: Sequence[shapely.Geometry],
    highway: Sequence[str | None] | None = None,
    name: Sequence[str | None] | None = None,
) -> Topology:
    """Node `lines` (WGS84) and number their ends. Each piece keeps the attributes of the input
    line it lies on (the nearest to its midpoint)."""
    parts = [g for line in lines for g in _parts(line)]
    if not parts:
        return Topology([], [], [], [], [], [])
    noded = shapely.get_parts(shapely.unary_union(shapely.set_precision(parts, 10**-COORD_DIGITS)))
    pieces = [g for g in noded if g.geom_type == "LineString" and g.length > 0]
    starts = np.round(shapely.get_coordinates(shapely.get_point(pieces, 0)), COORD_DIGITS)
    ends = np.round(shapely.get_coordinates(shapely.get_point(pieces, -1)), COORD_DIGITS)
    unique, inverse = np.unique(np.vstack([starts, ends]), axis=0, return_inverse=True)
    ids = inverse.reshape(-1) + 1
    n = len(pieces)
    hw: list[str | None] = [None] * n
    nm: list[str | None] = [None] * n
    if highway is not None or name is not None:
        tree = shapely.STRtree(parts)
        mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
        nearest = tree.query_nearest(mids, return_distance=False, all_matches=False)[1]
        source_of = _source_index(lines, parts)
        for piece_i, part_i in enumerate(nearest):
            line_i = source_of[int(part_i)]
            hw[piece_i] = highway[line_i] if highway is not None else None
            nm[piece_i] = name[line_i] if name is not None else None
    return Topology(
        edges=pieces,
        source=[int(i) for i in ids[:n]],
        target=[int(i) for i in ids[n:]],
        vertices=[(float(x), float(y)) for x, y in unique],
        highway=hw,
        name=nm,
    )


def _parts(line: shapely.Geometry | None) -> list[shapely.LineString]:
    """The non-empty single lines of a (multi)line."""
    if line is None or line.is_empty:
        return []
    merged = shapely.line_merge(line) if line.geom_type != "LineString" else line
    return [g for g in shapely.get_parts(merged) if g.geom_type == "LineString" and g.length > 0]


def _source_index(lines: Sequence[shapely.Geometry], parts: list[shapely.LineString]) -> list[int]:
    """For each part (in the order build_topology made them), the index of its input line."""
    return [i for i, line in enumerate(lines) for _ in _parts(line)]


def write_network(
    session: Session,
    *,
    name: str,
    source: str,
    source_crs: str,
    topology: Topology,
    activate: bool = True,
    progress: Progress = _noop,
) -> int:
    """Write `topology` as the network `name` (replacing one of that name); returns its id.

    With `activate`, it becomes the one active network (the others are kept, inactive)."""
    session.execute(delete(RoadNetwork).where(RoadNetwork.name == name))
    network_id = session.scalar(
        insert(RoadNetwork)
        .values(name=name, source=source, source_crs=source_crs, active=False)
        .returning(RoadNetwork.id)
    )
    assert network_id is not None
    xs = [x for x, _ in topology.vertices]
    ys = [y for _, y in topology.vertices]
    session.execute(
        text(
            "INSERT INTO road_vertex (network_id, id, geom)"
            " SELECT :n, i, ST_SetSRID(ST_MakePoint(x, y), 4326)"
            " FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS v(x, y, i)"
        ),
        {"n": network_id, "x": xs, "y": ys},
    )
    progress("road vertices", len(xs))
    session.execute(
        text(
            "INSERT INTO road_edge (network_id, source, target, length_m, highway, name, geom)"
            " SELECT :n, s, t, ST_Length(geography(g)), h, nm, g FROM ("
            "  SELECT s, t, h, nm, ST_GeomFromWKB(w, 4326) AS g FROM unnest("
            "   CAST(:s AS int[]), CAST(:t AS int[]), CAST(:h AS text[]), CAST(:nm AS text[]),"
            "   CAST(:w AS bytea[])) AS e(s, t, h, nm, w)) q"
        ),
        {
            "n": network_id,
            "s": topology.source,
            "t": topology.target,
            "h": topology.highway,
            "nm": topology.name,
            "w": [shapely.to_wkb(g) for g in topology.edges],
        },
    )
    progress("road edges", len(topology.edges))
    if activate:
        activate_network(session, network_id)
    return int(network_id)


def activate_network(session: Session, network_id: int) -> None:
    """Make `network_id` the one active network."""
    session.execute(update(RoadNetwork).where(RoadNetwork.active).values(active=False))
    session.flush()
    session.execute(update(RoadNetwork).where(RoadNetwork.id == network_id).values(active=True))


def active_network(session: Session) -> RoadNetwork | None:
    """The network coverage walks, or None (then distances are estimated)."""
    return session.scalar(select(RoadNetwork).where(RoadNetwork.active))
