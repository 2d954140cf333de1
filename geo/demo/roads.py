"""The demo city's walking network, built from its synthetic grid (deterministic).

Streets run along the cell edges (the lattice the grid is cut from), and two lanes cross each
whole cell between the midpoints of its opposite sides, so blocks are about 190 m across, as
in Yichun's towns. Midpoints are computed from the shared lattice vertices, so neighbouring
cells give the very same points and the network is connected across cells; noding joins the
lanes where they cross. Service areas and cells' points are snapped to the nearest edge when
distances are computed (geo.planning.walking), so no link edges are needed.
"""

from __future__ import annotations

import shapely

from geo.demo.grid import DemoBoundaries
from geo.spatial.roads.network import Topology, build_topology

NAME = "伊春市演示路网 (synthetic)"  # demo walking network


def _mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


def cell_streets(cell: shapely.Polygon) -> list[shapely.LineString]:
    """The cell's sides (with their midpoints as vertices) and, for a whole lattice cell (four
    corners), its two lanes."""
    ring = [tuple(c) for c in shapely.get_coordinates(cell.exterior)]
    if len(ring) != 5:  # a cell clipped by its district: its outline only
        return [shapely.LineString(ring)]
    a, b, c, d = ring[:4]
    ab, bc, cd, da = _mid(a, b), _mid(b, c), _mid(c, d), _mid(d, a)
    return [
        shapely.LineString([a, ab, b, bc, c, cd, d, da, a]),
        shapely.LineString([ab, cd]),
        shapely.LineString([bc, da]),
    ]


def network(boundaries: DemoBoundaries) -> Topology:
    """The demo network of all cells, noded."""
    lines = [line for cell in boundaries.cells for line in cell_streets(cell.geometry)]
    return build_topology(lines, highway=["residential"] * len(lines))
