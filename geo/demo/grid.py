"""Deterministic synthetic streets, communities and grid cells in Yichun's urban cores.

The real district boundaries come from data/yichun_districts.geojson. Below district level nothing
is open data, so each county seat gets a jittered lattice of cells (about 380 m across, 300-500
households each): 3 x 3 cells make a community, 2 x 2 communities (or what is left) make a street.
Cells of one community share their lattice vertices, so they tile it exactly; communities and
streets are unions of their cells, so they tile their parents too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

from geo.demo import names
from geo.spatial.boundaries.releases import StagedBoundary

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DISTRICTS_FILE = DATA_DIR / "yichun_districts.geojson"
SEED = 20260601
CELL_M = 380.0  # nominal cell width in metres
JITTER = 0.22  # vertex jitter as a fraction of the cell width
CELLS_PER_COMMUNITY = 3  # per side
COMMUNITIES_PER_STREET = 2  # per side
MIN_SHARE = 0.5  # a lattice cell less than half inside its district is dropped

_TO_METRES = Transformer.from_crs(4326, 32652, always_xy=True)
_TO_DEGREES = Transformer.from_crs(32652, 4326, always_xy=True)


@dataclass(frozen=True)
class DemoBoundaries:
    districts: list[StagedBoundary]
    streets: list[StagedBoundary]
    communities: list[StagedBoundary]
    cells: list[StagedBoundary]

    def all(self) -> list[StagedBoundary]:
        return [*self.districts, *self.streets, *self.communities, *self.cells]


def load_districts() -> list[StagedBoundary]:
    collection = json.loads(DISTRICTS_FILE.read_text(encoding="utf-8"))
    return [
        StagedBoundary(
            level="district",
            code=f["properties"]["adcode"],
            name=f["properties"]["name"],
            geometry=shapely.geometry.shape(f["geometry"]),
        )
        for f in collection["features"]
    ]


def generate() -> DemoBoundaries:
    """Build the whole synthetic hierarchy; the same every run (fixed seed)."""
    rng = np.random.default_rng(SEED)
    districts = load_districts()
    streets: list[StagedBoundary] = []
    communities: list[StagedBoundary] = []
    cells: list[StagedBoundary] = []
    for district in districts:
        s, c, g = _district_core(district, rng)
        streets += s
        communities += c
        cells += g
    return DemoBoundaries(districts, streets, communities, cells)


def _lattice(center: tuple[float, float], nx: int, ny: int, rng: np.random.Generator) -> np.ndarray:
    """Jittered, rotated lattice of (ny+1, nx+1, 2) vertices in WGS84 around `center`."""
    cx, cy = _TO_METRES.transform(*center)
    ix, iy = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1))
    x = (ix - nx / 2) * CELL_M + rng.uniform(-JITTER, JITTER, ix.shape) * CELL_M
    y = (iy - ny / 2) * CELL_M + rng.uniform(-JITTER, JITTER, iy.shape) * CELL_M
    angle = np.deg2rad(rng.uniform(-25, 25))
    xr = cx + x * np.cos(angle) - y * np.sin(angle)
    yr = cy + x * np.sin(angle) + y * np.cos(angle)
    lon, lat = _TO_DEGREES.transform(xr, yr)
    return np.round(np.stack([lon, lat], axis=-1), 7)


def _district_core(
    district: StagedBoundary, rng: np.random.Generator
) -> tuple[list[StagedBoundary], list[StagedBoundary], list[StagedBoundary]]:
    cols, rows = names.LAYOUT[district.code]
    k = CELLS_PER_COMMUNITY
    nx, ny = cols * k, rows * k
    seat = names.SEATS[district.code]
    verts = _lattice(seat, nx, ny, rng)
    area = district.geometry
    shapely.prepare(area)

    def cell_polygon(i: int, j: int) -> shapely.Polygon | None:
        return _clip(_quad(verts, i, j), area, shapely.Point(seat))

    street_names = names.STREET_NAMES.get(district.code, names.GENERIC_STREETS)
    community_names = list(names.COMMUNITY_NAMES)
    rng.shuffle(community_names)
    streets: list[StagedBoundary] = []
    communities: list[StagedBoundary] = []
    cells: list[StagedBoundary] = []
    # Streets are blocks of COMMUNITIES_PER_STREET x COMMUNITIES_PER_STREET communities.
    street_blocks: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for cj in range(rows):
        for ci in range(cols):
            key = (ci // COMMUNITIES_PER_STREET, cj // COMMUNITIES_PER_STREET)
            street_blocks.setdefault(key, []).append((ci, cj))
    # Codes count the streets, communities and cells that remain inside the district, in lattice
    # order (south to north, then west to east), so they stay consecutive.
    community_no = 0
    for _, members in sorted(street_blocks.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        street_code = f"{district.code}{len(streets) + 1:03d}"
        street_geoms: list[shapely.Geometry] = []
        for ci, cj in members:
            community_code = f"{street_code}{len(street_geoms) + 1:03d}"
            community_name = community_names[community_no % len(community_names)] + "社区"
            cell_geoms: list[shapely.Polygon] = []
            for gi, gj in ((ci * k + a, cj * k + b) for b in range(k) for a in range(k)):
                households = int(rng.integers(300, 501))  # drawn for every lattice cell
                poly = cell_polygon(gi, gj)
                if poly is None:
                    continue
                g_no = len(cell_geoms) + 1
                cell_geoms.append(poly)
                cells.append(
                    StagedBoundary(
                        level="grid",
                        code=f"{community_code}{g_no:03d}",
                        name=f"{community_name}第{g_no}网格",
                        geometry=poly,
                        parent_code=community_code,
                        # a clipped cell houses its share of a whole cell's households
                        households=round(households * _share(poly, gi, gj, verts)),
                    )
                )
            if not cell_geoms:
                continue
            community_no += 1
            community_geom = shapely.union_all(cell_geoms)
            street_geoms.append(community_geom)
            communities.append(
                StagedBoundary(
                    "community", community_code, community_name, community_geom, street_code
                )
            )
        if not street_geoms:
            continue
        streets.append(
            StagedBoundary(
                "street",
                street_code,
                street_names[len(streets) % len(street_names)],
                shapely.union_all(street_geoms),
                district.code,
            )
        )
    return streets, communities, cells


def _quad(verts: np.ndarray, i: int, j: int) -> shapely.Polygon:
    ring = [verts[j, i], verts[j, i + 1], verts[j + 1, i + 1], verts[j + 1, i], verts[j, i]]
    return shapely.Polygon(ring)


def _share(poly: shapely.Polygon, i: int, j: int, verts: np.ndarray) -> float:
    return min(1.0, float(poly.area / _quad(verts, i, j).area))


def _clip(
    cell: shapely.Polygon, district: shapely.Geometry, seat: shapely.Point
) -> shapely.Polygon | None:
    """The cell as far as it lies inside the district; None if less than MIN_SHARE of it does
    (unless it holds the seat). A whole cell keeps its lattice vertices; a clipped one keeps its
    largest piece (the piece with the seat, for the seat's cell); the new vertices are where the
    lattice edges cross the boundary, unrounded (rounding would push them outside the district)."""
    if district.contains(cell):
        return cell
    inside = shapely.intersection(cell, district)
    pieces = sorted(
        (g for g in shapely.get_parts(inside) if isinstance(g, shapely.Polygon) and g.area > 0),
        key=lambda g: (not g.covers(seat), -g.area),
    )
    if not pieces:
        return None
    best = pieces[0]
    if best.covers(seat) or best.area >= MIN_SHARE * cell.area:
        return best
    return None
