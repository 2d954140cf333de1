"""GET /api/v1/locate answered from memory vs the same SQL straight on the database (issue 15).

On the scratch database of bench/locate_api.py (`<db>_bench_locate`: migrated, Yichun demo
loaded, dropped at the end unless --keep), two real APIs with one uvicorn worker each: the
default (point -> cell from the in-memory index, details from the per-release cache, dropped on
activation by LISTEN/NOTIFY: geo/spatial/locate_memory.py) and one with HOUNIAO_LOCATE_CACHE=0
(every request runs locate()'s SQL). Each round drives, with the same points and C requests in
flight (default 32): the memory API and the SQL API from a bare-asyncio HTTP/1.1 client, and
`geo.spatial.locate.LOCATE_SQL` from a pool of C threads each holding a pooled connection (the
baseline). Rounds interleave the three, so load from other work on the machine hits all alike;
the table shows each one's median round and its ratio to the baseline's.

With --granian, a third API (memory, one granian worker) in the same rounds: the serving stack
chosen by measurement (bench/RESULTS.md).

    .venv/bin/python bench/locate_serving.py [--requests 4000] [--concurrency 32] [--rounds 3]
        [--granian] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `python bench/locate_serving.py`

from bench.locate_api import drive, sample, scratch_database, threaded  # noqa: E402
from bench.scratch import free_port, serve  # noqa: E402
from geo.spatial import locate as locating  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--granian", action="store_true", help="also the API under granian")
    parser.add_argument("--reuse", action="store_true", help="use the kept scratch database")
    args = parser.parse_args()
    if not args.reuse:
        print("scratch database: migrate and load the Yichun demo ...", flush=True)
    url = scratch_database(reuse=args.reuse)
    try:
        run(url, args)
    finally:
        if not args.keep:
            scratch_database(drop_only=True)


def run(url: URL, args: argparse.Namespace) -> None:
    points, rid = sample(url, args.requests + 500)
    warm, points = points[:500], points[500:]
    print(f"{len(points):,} requests a round, {args.concurrency} in flight, {os.cpu_count()} CPUs")
    servers, ports = [], {}
    try:
        for label, cache in (("API from memory, 1 worker", "1"), ("API by SQL, 1 worker", "0")):
            os.environ["HOUNIAO_LOCATE_CACHE"] = cache
            ports[label] = port = free_port(args.port + len(ports))
            servers.append(serve(url, port, 1))
        os.environ.pop("HOUNIAO_LOCATE_CACHE")
        if args.granian:
            label = "API from memory, granian 1 worker"
            ports[label] = port = free_port(args.port + len(ports))
            servers.append(serve(url, port, 1, server="granian"))
        engine = create_engine(url, pool_size=args.concurrency)

        def raw_sql(lon: float, lat: float) -> int:
            with engine.connect() as conn:
                row = conn.execute(
                    locating.LOCATE_SQL, {"lon": lon, "lat": lat, "rid": rid}
                ).first()
            return 200 if row else 404

        for port in ports.values():
            asyncio.run(drive(warm, port, args.concurrency, "raw"))
        threaded(warm, args.concurrency, raw_sql)
        base = "LOCATE_SQL direct, threads"
        results: dict[str, list[tuple[float, float, float]]] = {base: [], **{k: [] for k in ports}}
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            for label in results:
                if label == base:
                    seconds, lat, statuses = threaded(points, args.concurrency, raw_sql)
                else:
                    seconds, lat, statuses = asyncio.run(
                        drive(points, ports[label], args.concurrency, "raw")
                    )
                assert set(statuses) <= {200, 404}, statuses
                ms = np.array(lat) * 1000
                results[label].append(
                    (len(ms) / seconds, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)))
                )
        engine.dispose()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    b_rate = statistics.median(x[0] for x in results[base])
    b_p50 = statistics.median(x[1] for x in results[base])
    head = ("path", "req/s", "p50 ms", "p99 ms", "x req/s", "x p50")
    print("\n{:34s} {:>8s} {:>7s} {:>7s} {:>8s} {:>6s}".format(*head))
    for label, runs in results.items():
        rate = statistics.median(x[0] for x in runs)
        p50 = statistics.median(x[1] for x in runs)
        p99 = statistics.median(x[2] for x in runs)
        print(
            f"{label:34s} {rate:8,.0f} {p50:7.1f} {p99:7.1f}"
            f" {rate / b_rate:7.2f}x {p50 / b_p50:5.2f}x"
        )
    print(f"(median of {args.rounds} interleaved rounds; ratios against {base!r})")


if __name__ == "__main__":
    main()
