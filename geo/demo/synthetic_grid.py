"""A province-sized synthetic grid for `houniao load synthetic`: the demo's jittered lattice
(geo/demo/grid.py: cells about 380 m across that share their vertices, so they tile exactly)
stretched over as many districts as the cell count needs.

Each district is a block of 5 x 5 streets, a street 2 x 2 communities, a community 3 x 3 cells
(900 cells a district, close to a real county's grid); districts sit side by side in a square.
Cells are taken district by district, street by street, community by community until the count
is reached, so only the last district, street and community may be partial. Communities,
streets and districts are unions of their cells, so each level tiles its parent. District codes
look like a province's (23 + city + county), cell codes are the usual 15 digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from geo.demo import grid, names
from geo.spatial.boundaries.releases import StagedBoundary

PROVINCE = "23"  # a province's first two adcode digits (黑龙江省's, in a database of its own)
COUNTIES_PER_CITY = 20
STREETS_PER_SIDE = 5  # streets per district, per side
COMMUNITIES_PER_SIDE = 2  # communities per street, per side
CELLS_PER_SIDE = 3  # cells per community, per side
STREET_CELLS = COMMUNITIES_PER_SIDE * CELLS_PER_SIDE  # 6 cells a street side
DISTRICT_CELLS = STREETS_PER_SIDE * STREET_CELLS  # 30 cells a district side
MAX_CELLS = 1_000_000
CENTRE = names.SEATS["230717"]  # the lattice is centred on Yichun (UTM zone 52N holds it)
# Points are drawn inside a cell's quad by bilinear coordinates in [MARGIN, 1 - MARGIN]: several
# metres from every edge, so the shared-edge rule never has to decide.
MARGIN = 0.03


@dataclass(frozen=True)
class Province:
    districts: list[StagedBoundary]
    streets: list[StagedBoundary]
    communities: list[StagedBoundary]
    cells: list[StagedBoundary]
    quads: np.ndarray  # (cells, 4, 2): each cell's corners (lon, lat), counter-clockwise

    def all(self) -> list[StagedBoundary]:
        return [*self.districts, *self.streets, *self.communities, *self.cells]

    def points(self, cell_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One point (lon, lat; 7 decimals) strictly inside each of the given cells."""
        u = rng.uniform(MARGIN, 1 - MARGIN, len(cell_index))[:, None]
        v = rng.uniform(MARGIN, 1 - MARGIN, len(cell_index))[:, None]
        q = self.quads[cell_index]
        # Bilinear in the quad (a jittered lattice quad is convex: interior maps to interior).
        p = (1 - u) * (1 - v) * q[:, 0] + u * (1 - v) * q[:, 1] + u * v * q[:, 2]
        p += (1 - u) * v * q[:, 3]
        rounded: np.ndarray = np.round(p, 7)
        return rounded


def district_code(index: int) -> str:
    city, county = divmod(index, COUNTIES_PER_CITY)
    return f"{PROVINCE}{city + 1:02d}{county + 1:02d}"


def generate(cells: int, seed: int) -> Province:
    """`cells` cells and the districts, streets and communities they fill; the same for a seed."""
    if not 1 <= cells <= MAX_CELLS:
        raise ValueError(f"cells must be 1 to {MAX_CELLS:,}")
    rng = np.random.default_rng(seed)
    n_districts = math.ceil(cells / DISTRICT_CELLS**2)
    side = math.ceil(math.sqrt(n_districts))
    rows = math.ceil(n_districts / side)
    verts = grid._lattice(CENTRE, side * DISTRICT_CELLS, rows * DISTRICT_CELLS, rng)
    households = rng.integers(300, 501, size=cells)
    community_names = [n + "社区" for n in names.COMMUNITY_NAMES]
    out = Province([], [], [], [], np.empty((cells, 4, 2)))
    taken = 0
    for d in range(n_districts):
        d_code = district_code(d)
        d_i, d_j = (d % side) * DISTRICT_CELLS, (d // side) * DISTRICT_CELLS
        street_geoms = []
        for s in range(STREETS_PER_SIDE**2):
            if taken == cells:
                break
            s_code = f"{d_code}{s + 1:03d}"
            s_i = d_i + (s % STREETS_PER_SIDE) * STREET_CELLS
            s_j = d_j + (s // STREETS_PER_SIDE) * STREET_CELLS
            community_geoms = []
            for c in range(COMMUNITIES_PER_SIDE**2):
                if taken == cells:
                    break
                c_code = f"{s_code}{c + 1:03d}"
                c_name = community_names[(len(out.communities)) % len(community_names)]
                c_i = s_i + (c % COMMUNITIES_PER_SIDE) * CELLS_PER_SIDE
                c_j = s_j + (c // COMMUNITIES_PER_SIDE) * CELLS_PER_SIDE
                cell_geoms = []
                for g in range(CELLS_PER_SIDE**2):
                    if taken == cells:
                        break
                    i, j = c_i + g % CELLS_PER_SIDE, c_j + g // CELLS_PER_SIDE
                    quad = grid._quad(verts, i, j)
                    out.quads[taken] = np.asarray(quad.exterior.coords)[:4]
                    out.cells.append(
                        StagedBoundary(
                            "grid",
                            f"{c_code}{g + 1:03d}",
                            f"{c_name}第{g + 1}网格",
                            quad,
                            c_code,
                            int(households[taken]),
                        )
                    )
                    cell_geoms.append(quad)
                    taken += 1
                geom = shapely.union_all(cell_geoms)
                community_geoms.append(geom)
                out.communities.append(StagedBoundary("community", c_code, c_name, geom, s_code))
            geom = shapely.union_all(community_geoms)
            street_geoms.append(geom)
            s_name = names.GENERIC_STREETS[s % len(names.GENERIC_STREETS)]
            out.streets.append(StagedBoundary("street", s_code, s_name, geom, d_code))
        geom = shapely.union_all(street_geoms)
        out.districts.append(StagedBoundary("district", d_code, f"合成第{d + 1}区", geom))
    return out
