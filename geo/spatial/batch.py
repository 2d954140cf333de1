"""Batch point -> grid cell, in-process, with exactly the single-point path's answer.

Why a raster: almost every point lies well inside a cell, and a lookup raster of cell ids answers
those by floor division and one gather. Only points in "mixed" pixels, which some cell boundary
touches, need an exact test, and only against the cells and the edges listed for that pixel.

Why not GEOS (shapely, geopandas) for the exact test: GEOS decides the side of an edge with robust
double-double arithmetic, while PostGIS 3's point-in-polygon, which answers `ST_Intersects` for the
single-point path (geo/spatial/locate.py), uses a plain-double winding number. For points within
~1e-18 degrees of an edge they disagree (about 1 in 24,000 points interpolated on shared edges of
the Yichun demo). So the exact test repeats PostGIS's arithmetic (`determineSide`, `isOnSegment`,
the winding number) in numpy, and the shared-edge rule on top: the lowest code among the cells whose
closed polygon contains the point. Pixels are classified with a margin of `_MARGIN` degrees, far
above rounding error, so the raster answers a point alone only when no edge is near it.

The raster is sparse: dense 64 x 64 tiles only where cells are, because Yichun's cells sit in ten
urban cores up to 300 km apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from threading import Lock

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from sqlalchemy.orm import Session

from geo.core.errors import NotFound
from geo.spatial import batch_queries

_MARGIN = 1e-9  # degrees (~0.1 mm): a pixel this close to an edge counts as touched by it
_TILE = 64  # pixels per tile side
_EMPTY = -1  # raster value: no cell. Cell indices are >= 0; mixed pixel m is stored as -2 - m.
_PIXEL_BUDGET = 24_000_000  # ~96 MB of int32 pixels, however many cells there are
_MAX_TILES = 1 << 22  # tile directory entries over the cells' extent (16 MB)
_CHUNK = 1 << 22  # pixels written per step while filling, to bound memory
_KEPT_RELEASES = 4  # indexes kept per process by CellIndex.of_release

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def _expand(lo: I64, hi: I64) -> tuple[I64, I64]:
    """Every i in every range [lo, hi), with the range it came from: a vectorised nested loop."""
    counts = hi - lo
    owner = np.repeat(np.arange(len(lo)), counts)
    start = np.cumsum(counts) - counts
    return owner, np.arange(counts.sum()) - np.repeat(start - lo, counts)


def _floor(value: F64) -> I64:
    return np.floor(value).astype(np.int64)


def _firsts(sorted_keys: I64) -> I64:
    """Positions where a new value starts in a sorted array."""
    return np.flatnonzero(np.diff(sorted_keys, prepend=-1) != 0)


class CellIndex:
    """Assigns WGS84 points to grid cells by the shared-edge rule of geo/spatial/locate.py.

    Build it once per release (about 1 s for Yichun's cells), then assign millions of points.
    `attributes` (from `from_session`) holds each cell's hierarchy, in the order of `codes`.

    >>> index = CellIndex.from_frame(["2", "1"], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> index.assign([0.5, 1.0, 1.5, 5.0, float("nan")], [0.5, 0.5, 0.5, 0.5, 0.5]).tolist()
    ['2', '1', '1', None, None]
    """

    def __init__(
        self,
        codes: Sequence[str],
        polygons: ArrayLike,
        pixels_per_cell: int | None = None,
        attributes: pd.DataFrame | None = None,
    ):
        order = np.argsort(np.asarray(codes, dtype=object), kind="stable")
        self.codes: NDArray[np.object_] = np.asarray(codes, dtype=object)[order]
        if attributes is not None:
            attributes = attributes.iloc[order].reset_index(drop=True)
        self.attributes = attributes
        geoms = np.asarray(polygons, dtype=object)[order]  # index order = code order
        n = len(geoms)
        if n == 0:
            raise NotFound("there are no grid cells to index")
        # Edges of every ring in stored order, as PostGIS walks them; zero-length ones it skips.
        parts, part_cell = shapely.get_parts(geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        xy, vertex_ring = shapely.get_coordinates(rings, return_index=True)
        keep = (vertex_ring[:-1] == vertex_ring[1:]) & np.any(xy[:-1] != xy[1:], axis=1)
        self._e = np.vstack([xy[:-1][keep].T, xy[1:][keep].T])  # rows x1, y1, x2, y2
        self._e_ring = vertex_ring[:-1][keep]
        self._one_ring = len(rings) == n  # no holes, no multipolygons: a faster exact test
        e_cell = part_cell[ring_part[self._e_ring]]
        self._grid(geoms, pixels_per_cell)
        # Mixed pixels: those an edge touches; the cells owning those edges are its candidates.
        row, col, edge = self._supercover()
        key = np.sort((row * self._ncols + col) * n + e_cell[edge])
        key = key[_firsts(key)]
        if not shapely.coverage_is_valid(geoms):
            # Overlapping cells (only written with --force) can cover a mixed pixel with no edge
            # of theirs in it: add the cells containing its centre to its candidates.
            mixed = np.unique(key // n)
            centres = shapely.points(*self._centre(*np.divmod(mixed, self._ncols)))
            m_idx, m_cell = shapely.STRtree(geoms).query(centres, "intersects")
            key = np.unique(np.concatenate([key, mixed[m_idx] * n + m_cell]))
        pix, self._cand = np.divmod(key, n)
        first = _firsts(pix)
        mixed, self._ptr = pix[first], np.append(first, len(pix))
        # Every pixel row each edge's y-range meets (grown by _MARGIN).
        oy, sy = self._origin[1], self._size[1]
        ys = self._e[[1, 3]]
        edge, row = _expand(
            _floor((ys.min(0) - _MARGIN - oy) / sy), _floor((ys.max(0) + _MARGIN - oy) / sy) + 1
        )
        self._cand_lo, self._cand_hi, self._band_edge = self._row_edges(e_cell, edge, row, pix, n)
        self._fill(*np.divmod(mixed, self._ncols), *self._spans(e_cell, edge, row, n))

    @classmethod
    def from_frame(
        cls, codes: Sequence[str], polygons: ArrayLike, pixels_per_cell: int | None = None
    ) -> CellIndex:
        """Index cells given as codes and (multi)polygons in WGS84 (lon, lat)."""
        return cls(codes, polygons, pixels_per_cell)

    @classmethod
    def from_session(cls, session: Session, release: int | None = None) -> CellIndex:
        """Index the grid cells of a release (default: the active one), with their hierarchy."""
        frame, geoms = batch_queries.cells(session, release)
        return cls(frame["cell_code"].tolist(), geoms, attributes=frame)

    @classmethod
    def of_release(cls, session: Session, release: int | None = None) -> CellIndex:
        """`from_session`, kept per process: a release's cells never change once written (a new
        release carries rows forward under a new id), so its identity is a safe cache key. One
        intake report used to rebuild the whole index (0.5 s for the demo's ~1,100 cells)."""
        key = batch_queries.release_identity(session, release)
        with _KEPT_LOCK:
            kept = _KEPT.get(key)
            if kept is None:
                kept = _KEPT[key] = cls.from_session(session, key[1])
                while len(_KEPT) > _KEPT_RELEASES:
                    del _KEPT[next(iter(_KEPT))]
        return kept

    def __len__(self) -> int:
        return len(self.codes)

    def _grid(self, geoms: NDArray[np.object_], pixels_per_cell: int | None) -> None:
        """Pixel lattice: up to 64 x 64 pixels per typical cell, within the memory budget."""
        x_min, y_min, x_max, y_max = shapely.total_bounds(geoms)
        b = shapely.bounds(geoms)
        w, h = np.median(b[:, 2] - b[:, 0]), np.median(b[:, 3] - b[:, 1])
        cells = float(shapely.area(geoms).sum()) / (w * h)
        k = pixels_per_cell or int(np.clip(_PIXEL_BUDGET / max(cells, 1.0), 64, 64 * 64))
        self._size = np.array([w, h]) / np.sqrt(k)
        while np.prod([x_max - x_min, y_max - y_min] / self._size / _TILE) > _MAX_TILES:
            self._size *= 2
        self._origin = np.array([x_min, y_min]) - 2 * self._size
        self._ncols = int((x_max - self._origin[0]) / self._size[0]) + 3
        self._nrows = int((y_max - self._origin[1]) / self._size[1]) + 3
        self._tcols = self._ncols // _TILE + 1

    def _centre(self, row: I64, col: I64) -> tuple[F64, F64]:
        (ox, oy), (sx, sy) = self._origin, self._size
        return ox + (col + 0.5) * sx, oy + (row + 0.5) * sy

    def _supercover(self) -> tuple[I64, I64, I64]:
        """(row, col, edge) for every pixel whose box, grown by _MARGIN, an edge touches."""
        (ox, oy), (sx, sy) = self._origin, self._size
        x1, y1, x2, y2 = self._e
        lo, hi = np.minimum(x1, x2), np.maximum(x1, x2)
        edge, col = _expand(_floor((lo - _MARGIN - ox) / sx), _floor((hi + _MARGIN - ox) / sx) + 1)
        a = np.maximum(ox + col * sx - _MARGIN, lo[edge])  # the edge's x-span within the column
        b = np.minimum(ox + (col + 1) * sx + _MARGIN, hi[edge])
        slope = np.divide(y2 - y1, x2 - x1, where=x2 != x1, out=np.zeros_like(x1))[edge]
        ya, yb = y1[edge] + (a - x1[edge]) * slope, y1[edge] + (b - x1[edge]) * slope
        vertical = (x1 == x2)[edge]
        ya = np.where(vertical, np.minimum(y1, y2)[edge], ya)
        yb = np.where(vertical, np.maximum(y1, y2)[edge], yb)
        owner, row = _expand(
            _floor((np.minimum(ya, yb) - _MARGIN - oy) / sy),
            _floor((np.maximum(ya, yb) + _MARGIN - oy) / sy) + 1,
        )
        return row, col[owner], edge[owner]

    def _row_edges(
        self, e_cell: I64, edge: I64, row: I64, pix: I64, n: int
    ) -> tuple[I64, I64, I64]:
        """Edges per (pixel row, cell) whose y-range meets the row, grouped by ring; and each
        candidate's range in that list. Other edges cannot touch or wind around its points."""
        key = row * n + e_cell[edge]
        order = np.lexsort((self._e_ring[edge], key))
        key, wanted = key[order], (pix // self._ncols) * n + self._cand
        return np.searchsorted(key, wanted), np.searchsorted(key, wanted, "right"), edge[order]

    def _spans(self, e_cell: I64, edge: I64, row: I64, n: int) -> tuple[I64, I64, I64, I64]:
        """Scanline fill: per pixel row, the columns whose centres lie inside each cell, as
        (row, first, end, cell) spans. Exact for pixels no edge touches, the rest being mixed."""
        (ox, oy), (sx, sy) = self._origin, self._size
        x1, y1, x2, y2 = self._e[:, edge]
        yc = oy + (row + 0.5) * sy
        cross = (np.minimum(y1, y2) <= yc) & (yc < np.maximum(y1, y2))  # half-open: even counts
        x1, y1, x2, y2, yc = x1[cross], y1[cross], x2[cross], y2[cross], yc[cross]
        xc = x1 + (yc - y1) * (x2 - x1) / (y2 - y1)
        key = row[cross] * n + e_cell[edge[cross]]
        order = np.argsort(key)
        key, xc = key[order], xc[order]
        # Crossings pair up within each (row, cell), in x order; mostly there are two.
        size = np.diff(np.append(_firsts(key), len(key)))
        many = np.flatnonzero(np.repeat(size > 2, size))
        xc[many] = xc[many][np.lexsort((xc[many], key[many]))]
        key, a, b = key[0::2], xc[0::2], xc[1::2]
        first = _floor((np.minimum(a, b) - ox) / sx - 0.5) + 1
        end = _floor((np.maximum(a, b) - ox) / sx - 0.5) + 1
        some = end > first
        return key[some] // n, first[some], end[some], key[some] % n

    def _fill(self, mrow: I64, mcol: I64, s_row: I64, s_lo: I64, s_hi: I64, s_cell: I64) -> None:
        """Tiles of cell indices, _EMPTY, or -2 - m for mixed pixel m; only where cells are."""
        used = np.zeros((self._nrows // _TILE + 1) * self._tcols, dtype=bool)
        used[(mrow // _TILE) * self._tcols + mcol // _TILE] = True
        span, tcol = _expand(s_lo // _TILE, (s_hi - 1) // _TILE + 1)
        used[(s_row[span] // _TILE) * self._tcols + tcol] = True
        self._dir = np.full(len(used), -1, dtype=np.int32)
        self._dir[used] = np.arange(used.sum())
        unset = np.iinfo(np.int32).max
        self._tiles = np.full(int(used.sum()) * _TILE * _TILE, unset, dtype=np.int32)
        start = np.cumsum(s_hi - s_lo) - (s_hi - s_lo)
        cuts = np.searchsorted(start, np.arange(0, start[-1] + 1 if len(start) else 0, _CHUNK))
        for a, b in pairwise([*cuts, len(s_row)]):
            span, col = _expand(s_lo[a:b], s_hi[a:b])
            # Overlapping cells (possible only with --force) share pixels: the lowest code wins.
            cell = s_cell[a:b][span].astype(np.int32)
            np.minimum.at(self._tiles, self._slot(s_row[a:b][span], col), cell)
        self._tiles[self._tiles == unset] = _EMPTY
        self._tiles[self._slot(mrow, mcol)] = -2 - np.arange(len(mrow))

    def _slot(self, row: I64, col: I64) -> I64:
        """Position of pixels in `_tiles`; negative where their tile holds no cell."""
        tile = self._dir[(row // _TILE) * self._tcols + col // _TILE].astype(np.int64)
        return np.where(tile >= 0, tile * _TILE * _TILE + (row % _TILE) * _TILE + col % _TILE, -1)

    def assign_index(self, lon: ArrayLike, lat: ArrayLike) -> I64:
        """Index into `codes` of each point's cell; -1 where outside every cell or not finite."""
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        out = np.full(len(x), -1, dtype=np.int64)
        with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN fail the range test
            fx, fy = (x - self._origin[0]) / self._size[0], (y - self._origin[1]) / self._size[1]
        ok = np.flatnonzero((fx >= 0) & (fx < self._ncols) & (fy >= 0) & (fy < self._nrows))
        slot = self._slot(_floor(fy[ok]), _floor(fx[ok]))
        value = np.where(slot >= 0, self._tiles[slot], _EMPTY).astype(np.int64)
        out[ok] = value
        m = np.flatnonzero(value <= -2)
        out[ok[m]] = self._exact(x[ok[m]], y[ok[m]], -2 - value[m])
        return out

    def assign_one(self, lon: float, lat: float) -> int:
        """`assign_index` for one point in plain Python (a few microseconds instead of the ~150
        of numpy's per-call overhead): the raster answers, the exact test only in mixed pixels."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return -1
        fx = (lon - self._origin[0]) / self._size[0]
        fy = (lat - self._origin[1]) / self._size[1]
        if not (0 <= fx < self._ncols and 0 <= fy < self._nrows):
            return -1
        row, col = math.floor(fy), math.floor(fx)
        tile = int(self._dir[(row // _TILE) * self._tcols + col // _TILE])
        if tile < 0:
            return -1
        value = int(self._tiles[tile * _TILE * _TILE + (row % _TILE) * _TILE + col % _TILE])
        if value > -2:
            return value  # a cell index, or _EMPTY (-1)
        x, y = np.array([lon], dtype=np.float64), np.array([lat], dtype=np.float64)
        return int(self._exact(x, y, np.array([-2 - value], dtype=np.int64))[0])

    def assign(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """The code of each point's cell; None where outside every cell or not finite."""
        return np.concatenate([self.codes, [None]])[self.assign_index(lon, lat)]

    def _exact(self, x: F64, y: F64, m: I64) -> I64:
        """PostGIS's point-in-polygon against the candidates of mixed pixel m; lowest index wins."""
        counts = self._ptr[m + 1] - self._ptr[m]
        pair_pt, pair = _expand(self._ptr[m], self._ptr[m + 1])
        row_pair, row = _expand(self._cand_lo[pair], self._cand_hi[pair])
        if len(row) == 0:
            return np.full(len(m), -1, dtype=np.int64)
        edge = self._band_edge[row]
        point = pair_pt[row_pair]
        px, py = x[point], y[point]
        x1, y1, x2, y2 = self._e[:, edge]
        side = (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1)  # determineSide, same operations
        wn = ((y1 <= py) & (py < y2) & (side > 0)).view(np.int8)
        wn = wn - ((y2 <= py) & (py < y1) & (side < 0)).view(np.int8)
        z = np.flatnonzero(side == 0)  # on the edge's line: on the boundary if within the segment
        z = z[
            (np.minimum(x1[z], x2[z]) <= px[z])
            & (px[z] <= np.maximum(x1[z], x2[z]))
            & (np.minimum(y1[z], y2[z]) <= py[z])
            & (py[z] <= np.maximum(y1[z], y2[z]))
        ]
        hit = np.zeros(len(pair), dtype=bool)
        hit[row_pair[z]] = True
        if self._one_ring:
            hit |= np.bincount(row_pair, weights=wn, minlength=len(pair)) != 0
        else:  # a point is in a valid (multi)polygon when an odd number of its rings wind round it
            ring = self._e_ring[edge]
            starts = np.diff(row_pair, prepend=-1) != 0
            starts[1:] |= ring[1:] != ring[:-1]
            ring_wn = np.bincount(np.cumsum(starts) - 1, weights=wn)
            hit |= np.bincount(row_pair[starts], weights=ring_wn != 0, minlength=len(pair)) % 2 == 1
        hit = np.where(hit, self._cand[pair], len(self.codes))
        best = np.minimum.reduceat(hit, np.cumsum(counts) - counts)
        return np.where(best < len(self.codes), best, -1)


# CellIndex.of_release's indexes, oldest first; built under the lock (concurrent first callers
# wait for one build instead of each making their own).
_KEPT: dict[tuple[str, int, str], CellIndex] = {}
_KEPT_LOCK = Lock()
