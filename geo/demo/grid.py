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


def _fit_center(
    district: shapely.Geometry, seat: tuple[float, float], half_m: float
) -> tuple[float, float]:
    """Move the core from the seat toward the district's interior until it fits inside."""
    target = district.representative_point()
    sx, sy = seat
    for step in np.linspace(0, 1, 41):
        x, y = sx + (target.x - sx) * step, sy + (target.y - sy) * step
        mx, my = _TO_METRES.transform(x, y)
        box = shapely.box(mx - half_m, my - half_m, mx + half_m, my + half_m)
        box_deg = shapely.transform(
            box, lambda c: np.column_stack(_TO_DEGREES.transform(c[:, 0], c[:, 1]))
        )
        if district.contains(box_deg):
            return x, y
    raise ValueError("no room for the synthetic core inside the district")


def _district_core(
    district: StagedBoundary, rng: np.random.Generator
) -> tuple[list[StagedBoundary], list[StagedBoundary], list[StagedBoundary]]:
    cols, rows = names.LAYOUT[district.code]
    k = CELLS_PER_COMMUNITY
    nx, ny = cols * k, rows * k
    half = max(nx, ny) * CELL_M * 0.75  # room for rotation and jitter
    center = _fit_center(district.geometry, names.SEATS[district.code], half)
    verts = _lattice(center, nx, ny, rng)

    def cell_polygon(i: int, j: int) -> shapely.Polygon:
        ring = [verts[j, i], verts[j, i + 1], verts[j + 1, i + 1], verts[j + 1, i], verts[j, i]]
        return shapely.Polygon(ring)

    street_names = names.STREET_NAMES.get(district.code, names.GENERIC_STREETS)
    community_names = list(names.COMMUNITY_NAMES)
    rng.shuffle(community_names)
    streets, communities, cells = [], [], []
    # Streets are blocks of COMMUNITIES_PER_STREET x COMMUNITIES_PER_STREET communities.
    street_blocks: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for cj in range(rows):
        for ci in range(cols):
            key = (ci // COMMUNITIES_PER_STREET, cj // COMMUNITIES_PER_STREET)
            street_blocks.setdefault(key, []).append((ci, cj))
    community_no = 0
    for s_no, (_, members) in enumerate(
        sorted(street_blocks.items(), key=lambda kv: (kv[0][1], kv[0][0])), 1
    ):
        street_code = f"{district.code}{s_no:03d}"
        street_geoms = []
        for c_no, (ci, cj) in enumerate(members, 1):
            community_code = f"{street_code}{c_no:03d}"
            community_name = community_names[community_no % len(community_names)] + "社区"
            community_no += 1
            cell_geoms = []
            for g_no, (gi, gj) in enumerate(
                ((ci * k + a, cj * k + b) for b in range(k) for a in range(k)), 1
            ):
                poly = cell_polygon(gi, gj)
                cell_geoms.append(poly)
                cells.append(
                    StagedBoundary(
                        level="grid",
                        code=f"{community_code}{g_no:03d}",
                        name=f"{community_name}第{g_no}网格",
                        geometry=poly,
                        parent_code=community_code,
                        households=int(rng.integers(300, 501)),
                    )
                )
            community_geom = shapely.union_all(cell_geoms)
            street_geoms.append(community_geom)
            communities.append(
                StagedBoundary(
                    "community", community_code, community_name, community_geom, street_code
                )
            )
        streets.append(
            StagedBoundary(
                "street",
                street_code,
                street_names[(s_no - 1) % len(street_names)],
                shapely.union_all(street_geoms),
                district.code,
            )
        )
    return streets, communities, cells
