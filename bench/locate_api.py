"""GET /api/v1/locate under concurrent loopback load vs the same SQL straight on the database.

Starts the real API (`uvicorn api.app:app` on 127.0.0.1:8765, or a free port when that one is
taken, in a subprocess, against the database in DATABASE_URL) and drives /api/v1/locate with an
httpx async client that keeps C requests in flight (default 32) until N requests are done
(default 5,000), at points inside random grid cells (fixed seed). Then, with the same points and
concurrency, from a pool of C threads each holding a pooled connection: `geo.locate.locate()`
in-process (a session per call, as a request has) and `geo.locate.LOCATE_SQL` alone. Prints
requests/s, p50 and p99 latency, and the ratios. Runs the API with 1 and with 2 uvicorn
workers. Client and server share the machine's cores.

    .venv/bin/python bench/locate_api.py [--requests 5000] [--concurrency 32] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo import locate as locating
from geo.boundaries.releases import resolve_release
from geo.config import database_settings
from geo.errors import OutsideCoverage

SEED = 20260604
ROOT = Path(__file__).resolve().parents[1]


def sample(n: int) -> tuple[list[tuple[float, float]], int]:
    """n points inside random cells of the active release, and the release id."""
    engine = create_engine(database_settings().sqlalchemy_url)
    with Session(engine) as session:
        rid = resolve_release(session, None)
        centres = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell"
                " WHERE release_low <= :rid AND release_high >= :rid) s"
            ),
            {"rid": rid},
        ).all()
    engine.dispose()
    rng = np.random.default_rng(SEED)
    pick = np.array(centres)[rng.integers(0, len(centres), n)] + rng.normal(0, 3e-4, (n, 2))
    return [(float(x), float(y)) for x, y in pick.round(7)], rid


def summary(label: str, seconds: float, latencies: list[float], statuses: Counter) -> float:
    lat = np.array(latencies) * 1000
    rate = len(lat) / seconds
    codes = ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))
    print(f"{label:30s} {rate:8,.0f} req/s   p50 {np.percentile(lat, 50):6.1f} ms"
          f"   p99 {np.percentile(lat, 99):6.1f} ms   ({len(lat):,} in {seconds:.2f} s; {codes})")
    return rate


async def drive(points: list[tuple[float, float]], port: int, concurrency: int
                ) -> tuple[float, list, Counter]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    todo = iter(points)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=60) as client:

        async def worker() -> None:
            for x, y in todo:
                t = time.perf_counter()
                r = await client.get("/api/v1/locate", params={"lon": x, "lat": y})
                latencies.append(time.perf_counter() - t)
                statuses[r.status_code] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, statuses


def free_port(preferred: int) -> int:
    """`preferred` unless something listens there already (then any free port)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def serve(port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"our API on port {port} did not answer /healthz within 60 s")


def threaded(points: list[tuple[float, float]], concurrency: int,
             call: Callable[[float, float], int]) -> tuple[float, list, Counter]:
    def one(p: tuple[float, float]) -> tuple[float, int]:
        t = time.perf_counter()
        status = call(*p)
        return time.perf_counter() - t, status

    with ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        results = list(pool.map(one, points))
        seconds = time.perf_counter() - start
    return seconds, [r[0] for r in results], Counter(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    points, rid = sample(args.requests + 500)
    warm, points = points[:500], points[500:]
    print(f"{len(points):,} requests, {args.concurrency} in flight, {os.cpu_count()} CPUs\n")
    rates: dict[str, float] = {}
    for workers in args.workers:
        port = free_port(args.port)
        server = serve(port, workers)
        try:
            asyncio.run(drive(warm, port, args.concurrency))
            label = f"API, {workers} uvicorn worker(s)"
            rates[label] = summary(label, *asyncio.run(drive(points, port, args.concurrency)))
        finally:
            server.terminate()
            server.wait(timeout=30)

    engine = create_engine(database_settings().sqlalchemy_url, pool_size=args.concurrency)

    def raw_sql(lon: float, lat: float) -> int:
        with engine.connect() as conn:
            row = conn.execute(locating.LOCATE_SQL, {"lon": lon, "lat": lat, "rid": rid}).first()
        return 200 if row else 404

    def in_process(lon: float, lat: float) -> int:
        with Session(engine) as session:
            try:
                locating.locate(session, lon, lat)
            except OutsideCoverage:
                return 404
        return 200

    for label, call in (("locate() in-process, threads", in_process),
                        ("LOCATE_SQL direct, threads", raw_sql)):
        threaded(warm, args.concurrency, call)
        rates[label] = summary(label, *threaded(points, args.concurrency, call))
    engine.dispose()
    base = rates["LOCATE_SQL direct, threads"]
    print()
    for label, rate in rates.items():
        print(f"{label:30s} {rate / base:5.2f}x the direct SQL's requests/s")


if __name__ == "__main__":
    main()
