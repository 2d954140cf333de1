"""Batch point -> cell: geo.spatial.batch.CellIndex vs geopandas.sjoin vs PostGIS joins, in one run.

Two grids: the Yichun demo cells read from the database in DATABASE_URL, and a synthetic jittered
lattice of ~100,000 cells built in memory (copied into a temporary table for the PostGIS
variants, dropped afterwards). 1,000,000 points (fixed seed): 85% drawn in the bounding boxes of
random cells (so mostly inside cells), 15% anywhere in the cells' extent grown by 10% on each
side (for Yichun, mostly outside: its cells sit in ten small urban cores).

Prints, for each grid: the index build time, points/s of the batch path, of `geopandas.sjoin(
predicate="within")` (cold: a fresh right-hand frame, so its STRtree is built inside the call),
of a PostGIS ST_Contains join in the planner's default plan (a probe of the cells' GiST index
per point) and driven from the cells (`cells CROSS JOIN LATERAL (... ST_Contains ... OFFSET 0)`,
a probe of the points' index per cell, each cell's polygon prepared once), and of the
single-point SQL applied per point (`ST_Intersects ... ORDER BY code LIMIT 1`, on a subset);
the ratios; and whether the batch path and sjoin agree on every point sjoin places (sjoin's
`within` leaves boundary points out).

    .venv/bin/python bench/batch_locate.py [--points 1000000] [--lattice 316] [--no-postgis]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.db import get_engine
from geo.spatial.batch import CellIndex
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release

SEED = 20260603
PER_POINT_SUBSET = 100_000  # the per-point single-point SQL is slow; measured on this many


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def yichun_cells(session: Session) -> tuple[list[str], np.ndarray]:
    rid = resolve_release(session, None)
    rows = session.execute(
        text(
            "SELECT code, ST_AsBinary(geom) FROM grid_cell"
            f" WHERE {in_release('grid_cell')} ORDER BY code"
        ),
        {"rid": rid},
    ).all()
    return [r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows])


def lattice_cells(side: int, seed: int = SEED) -> tuple[list[str], np.ndarray]:
    """side x side jittered quadrilaterals of ~380 m sharing their vertices, near Yichun."""
    rng = np.random.default_rng(seed)
    w, h = 0.005, 0.0034  # ~380 m at 47.7 N
    ix, iy = np.meshgrid(np.arange(side + 1), np.arange(side + 1))
    x = 128.2 + (ix + rng.uniform(-0.22, 0.22, ix.shape)) * w
    y = 46.6 + (iy + rng.uniform(-0.22, 0.22, iy.shape)) * h
    v = np.stack([x, y], axis=-1).round(7)
    rings = np.stack([v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1], v[:-1, :-1]], axis=2)
    polygons = shapely.polygons(rings.reshape(-1, 5, 2))
    return [str(230717_000_000_000 + i) for i in range(len(polygons))], polygons


def sample_points(polygons: np.ndarray, n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = shapely.bounds(polygons)
    inner = int(n * 0.85)
    pick = b[rng.integers(0, len(b), inner)]
    x0, y0, x1, y1 = shapely.total_bounds(polygons)
    pad_x, pad_y = (x1 - x0) * 0.1, (y1 - y0) * 0.1  # the extent and 10% around it
    x = np.concatenate(
        [rng.uniform(pick[:, 0], pick[:, 2]), rng.uniform(x0 - pad_x, x1 + pad_x, n - inner)]
    )
    y = np.concatenate(
        [rng.uniform(pick[:, 1], pick[:, 3]), rng.uniform(y0 - pad_y, y1 + pad_y, n - inner)]
    )
    order = rng.permutation(n)
    return x[order], y[order]


def sjoin_within(codes: list[str], polygons: np.ndarray, points: gpd.GeoDataFrame) -> np.ndarray:
    cells = gpd.GeoDataFrame({"code": codes}, geometry=polygons, crs=4326)  # fresh: cold sindex
    joined = gpd.sjoin(points, cells, predicate="within", how="inner")
    result = np.full(len(points), None, dtype=object)
    result[joined.index.to_numpy()] = joined["code"].to_numpy()
    return result


def postgis(
    session: Session, codes: list[str], polygons: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """Load cells and points into temporary tables; time the joins. Returns seconds per variant."""
    out: dict[str, float] = {}
    conn = session.connection().connection.driver_connection  # psycopg, for COPY
    assert conn is not None
    t = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_cell (code text, geom geometry(Polygon, 4326))")
        cur.execute("CREATE TEMP TABLE bench_point (id int, geom geometry(Point, 4326))")
        cells = shapely.to_wkb(shapely.set_srid(polygons, 4326), hex=True, include_srid=True)
        with cur.copy("COPY bench_cell (code, geom) FROM STDIN") as copy:
            copy.write("".join(f"{c}\t{w}\n" for c, w in zip(codes, cells, strict=True)))
        points = shapely.to_wkb(
            shapely.set_srid(shapely.points(x, y), 4326), hex=True, include_srid=True
        )
        with cur.copy("COPY bench_point (id, geom) FROM STDIN") as copy:
            copy.write("".join(f"{i}\t{w}\n" for i, w in enumerate(points)))
        for sql in (
            "CREATE INDEX ON bench_cell USING gist (geom)",
            "CREATE INDEX ON bench_point USING gist (geom)",
            "ANALYZE bench_cell",
            "ANALYZE bench_point",
        ):
            cur.execute(sql)
    out["load"] = time.perf_counter() - t
    queries = {
        "default plan": "SELECT count(*) FROM bench_point p JOIN bench_cell c"
        " ON ST_Contains(c.geom, p.geom)",
        # OFFSET 0 keeps the planner from flattening the LATERAL back into the default plan.
        "cells LATERAL": "SELECT count(*) FROM bench_cell c CROSS JOIN LATERAL (SELECT p.id"
        " FROM bench_point p WHERE ST_Contains(c.geom, p.geom) OFFSET 0) p",
        "per point": "SELECT count(code) FROM (SELECT (SELECT c.code FROM bench_cell c"
        " WHERE ST_Intersects(c.geom, p.geom) ORDER BY c.code LIMIT 1) AS code"
        f" FROM bench_point p WHERE p.id < {PER_POINT_SUBSET}) s",
    }
    for name, sql in queries.items():
        with conn.cursor() as cur:
            t = time.perf_counter()
            cur.execute(sql)
            out[name + " rows"] = cur.fetchone()[0]
            out[name] = time.perf_counter() - t
    with conn.cursor() as cur:
        cur.execute("DROP TABLE bench_point, bench_cell")
    return out


def report(label: str, seconds: float, n: int | None = None, note: str = "") -> None:
    rate = f"{n / seconds:14,.0f} points/s" if n else " " * 23
    print(f"{label:22s}{seconds:8.3f} s {rate}   {note}".rstrip())


def run(name: str, codes: list[str], polygons: np.ndarray, n: int, with_postgis: bool) -> None:
    print(f"\n== {name}: {len(codes):,} cells, {n:,} points ==")
    x, y = sample_points(polygons, n)
    build, index = timed(lambda: CellIndex.from_frame(codes, polygons))
    assign, batch = timed(lambda: index.assign(x, y), repeat=3)
    make, points = timed(lambda: gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4326))
    sjoin, joined = timed(lambda: sjoin_within(codes, polygons, points), repeat=2)
    inside = batch != None  # noqa: E711 - elementwise on an object array
    size = index._size * 1e5
    report(
        "index build",
        build,
        note=f"({size[0]:.1f} x {size[1]:.1f} e-5 deg pixels,"
        f" {len(index._ptr) - 1:,} mixed, {index._tiles.nbytes / 1e6:.0f} MB of tiles)",
    )
    report("batch assign", assign, n, f"({inside.mean():.1%} of the points inside a cell)")
    report("batch build+assign", build + assign, n)
    report("geopandas.sjoin", sjoin, n, f"(cold; +{make:.3f} s to make the points)")
    print(
        f"ratio sjoin / batch: {sjoin / assign:.1f}x (assign), "
        f"{sjoin / (build + assign):.1f}x (build + assign)"
    )
    placed = joined != None  # noqa: E711
    differ = int((joined[placed] != batch[placed]).sum())
    only_batch = int((inside & ~placed).sum())
    print(
        f"agreement: sjoin places {placed.sum():,} points, batch places {differ} of them"
        f" differently; {only_batch} placed by batch only (boundary points, outside `within`)"
    )
    if not with_postgis:
        return
    with Session(get_engine()) as session:
        pg = postgis(session, codes, polygons, x, y)
        session.rollback()
    report("PostGIS load+index", pg["load"], note="(COPY cells and points, GiST, ANALYZE)")
    for variant in ("default plan", "cells LATERAL"):
        t = pg[variant]
        report(
            f"PostGIS {variant}",
            t,
            n,
            f"({pg[variant + ' rows']:,} pairs; batch assign {t / assign:.0f}x faster)",
        )
    m = min(n, PER_POINT_SUBSET)
    report("PostGIS per point", pg["per point"], m, f"(locate's SQL per point, first {m:,})")
    print(f"ratio default plan / cells LATERAL: {pg['default plan'] / pg['cells LATERAL']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--lattice", type=int, default=316, help="side (316^2 ~ 100k cells)")
    parser.add_argument("--no-postgis", action="store_true", help="skip the PostGIS variants")
    args = parser.parse_args()
    with Session(get_engine()) as session:
        codes, polygons = yichun_cells(session)
    run("Yichun demo cells", codes, polygons, args.points, not args.no_postgis)
    codes, polygons = lattice_cells(args.lattice)
    run("synthetic jittered lattice", codes, polygons, args.points, not args.no_postgis)


if __name__ == "__main__":
    main()
