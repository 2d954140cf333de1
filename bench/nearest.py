"""Nearest service area (候鸟服务区): per-query latency, and bulk throughput, in one run.

Per query: `geo.spatial.places.service.nearest_service_areas` (KNN through the geography GiST index,
then the ellipsoidal distance) called once per point, sequentially, on one session: p50, p99 and
queries/s. Bulk: the same N points (default 10,000) in one SQL statement, a LATERAL KNN per
point over `unnest` of the coordinate arrays, against the same points one query each; points/s,
the ratio, and whether both give the same nearest service area for every point. Points are
uniform in the urban cores' bounding boxes (fixed seed), in WGS84. Reads only.

    .venv/bin/python bench/nearest.py [--points 10000] [--k 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.db import get_engine
from geo.spatial.places.service import nearest_service_areas

SEED = 20260605
CORES = text(
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e"
    " FROM grid_cell GROUP BY left(code, 6)) s"
)
BULK = text(
    """
    SELECT q.i, n.id, n.distance_m
    FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS q(x, y, i)
    CROSS JOIN LATERAL (
        SELECT sa.id,
               ST_Distance(sa.geom::geography,
                           ST_SetSRID(ST_MakePoint(q.x, q.y), 4326)::geography, true) AS distance_m
        FROM service_area sa
        ORDER BY sa.geom::geography <-> ST_SetSRID(ST_MakePoint(q.x, q.y), 4326)::geography
        LIMIT :k
    ) n
    ORDER BY q.i, n.distance_m
    """
)


def points(session: Session, n: int) -> np.ndarray:
    boxes = np.array(session.execute(CORES).all(), dtype=float)
    rng = np.random.default_rng(SEED)
    b = boxes[rng.integers(0, len(boxes), n)]
    return np.column_stack([rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])]).round(7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=1)
    args = parser.parse_args()
    with Session(get_engine()) as session:
        pts = points(session, args.points)
        for x, y in pts[:200]:  # warm the caches and the connection
            nearest_service_areas(session, x, y, k=args.k)
        latencies, single = [], []
        start = time.perf_counter()
        for x, y in pts:
            t = time.perf_counter()
            rows = nearest_service_areas(session, x, y, k=args.k)
            latencies.append(time.perf_counter() - t)
            single.append([r["id"] for r in rows])
        per_query = time.perf_counter() - start
        session.execute(BULK, {"xs": pts[:200, 0].tolist(), "ys": pts[:200, 1].tolist(), "k": 1})
        start = time.perf_counter()
        bulk_rows = session.execute(
            BULK, {"xs": pts[:, 0].tolist(), "ys": pts[:, 1].tolist(), "k": args.k}
        ).all()
        bulk = time.perf_counter() - start
        session.rollback()
    many: list[list[int]] = [[] for _ in range(len(pts))]
    for i, sid, _ in bulk_rows:
        many[i - 1].append(sid)
    lat = np.array(latencies) * 1000
    n = len(pts)
    print(f"{n:,} points in the urban cores' bounding boxes, k={args.k}")
    p50, p99 = np.percentile(lat, [50, 99])
    print(
        f"one query per point   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
        f"   {n / per_query:9,.0f} queries/s   ({per_query:.2f} s)"
    )
    print(f"one bulk LATERAL KNN{'':34s}{n / bulk:9,.0f} points/s    ({bulk:.2f} s)")
    print(f"ratio bulk / per query: {per_query / bulk:.1f}x")
    same = sum(a == b for a, b in zip(single, many, strict=True))
    print(f"agreement: {same:,} of {n:,} points get the same service area(s) both ways")


if __name__ == "__main__":
    main()
