"""GET /api/v1/locate under concurrent loopback load vs the same SQL straight on the database.

Runs on a scratch database `<DATABASE_URL's name>_bench_locate` on the same server (created,
migrated to head, loaded with the Yichun demo, dropped at the end unless --keep): the API runs
as the application role under row-level security, which needs the schema at head, and the dev
database is left as found. Starts the real API (`uvicorn api.app:app` on 127.0.0.1:8765, or a
free port when that one is taken, in a subprocess, scheduler off) and drives /api/v1/locate with an
httpx async client that keeps C requests in flight (default 32) until N requests are done
(default 5,000), at points inside random grid cells (fixed seed). Then, with the same points and
concurrency, from a pool of C threads each holding a pooled connection:
`geo.spatial.locate.locate()` in-process (a session per call, as a request has) and
`geo.spatial.locate.LOCATE_SQL` alone. Prints requests/s, p50 and p99 latency, and the ratios. Runs
the API with 1 and with 2 uvicorn workers, each driven by httpx and by a bare-asyncio HTTP/1.1
client: client, server and PostgreSQL share the machine's cores, and httpx alone costs ~2 ms of CPU
per request.

    .venv/bin/python bench/locate_api.py [--requests 5000] [--concurrency 32] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `python bench/locate_api.py`

from bench.scratch import drop_database, free_port, scratch_url, serve  # noqa: E402
from geo.core import migrate
from geo.core.errors import OutsideCoverage
from geo.demo.load import load_yichun
from geo.spatial import locate as locating  # noqa: E402
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release

SEED = 20260604


def scratch_database(drop_only: bool = False, reuse: bool = False) -> URL:
    """(Re)create `<name>_bench_locate`, migrated and loaded; or only drop it (or, with `reuse`,
    take it as a previous --keep left it)."""
    url = scratch_url("bench_locate")
    if reuse:
        return url
    drop_database(url, create=not drop_only)
    if not drop_only:
        migrate.upgrade("head", url.render_as_string(hide_password=False))
        engine = create_engine(url)
        with Session(engine) as session:
            load_yichun(session)
            session.commit()
        engine.dispose()
    return url


def sample(url: URL, n: int) -> tuple[list[tuple[float, float]], int]:
    """n points inside random cells of the active release, and the release id."""
    engine = create_engine(url)
    with Session(engine) as session:
        rid = resolve_release(session, None)
        centres = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell"
                f" WHERE {in_release('grid_cell')}) s"
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
    print(
        f"{label:34s} {rate:8,.0f} req/s   p50 {np.percentile(lat, 50):6.1f} ms"
        f"   p99 {np.percentile(lat, 99):6.1f} ms   ({len(lat):,} in {seconds:.2f} s; {codes})"
    )
    return rate


async def _httpx(
    todo: Iterator[tuple[float, float]],
    port: int,
    concurrency: int,
    record: Callable[[float, int], None],
) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            for x, y in todo:
                t = time.perf_counter()
                r = await client.get("/api/v1/locate", params={"lon": x, "lat": y})
                record(time.perf_counter() - t, r.status_code)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _raw(
    todo: Iterator[tuple[float, float]],
    port: int,
    concurrency: int,
    record: Callable[[float, int], None],
) -> None:
    """HTTP/1.1 keep-alive on bare asyncio streams: a client that costs little CPU itself."""

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for x, y in todo:
                t = time.perf_counter()
                writer.write(
                    f"GET /api/v1/locate?lon={x}&lat={y} HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                record(time.perf_counter() - t, int(head[9:12]))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def drive(
    points: list[tuple[float, float]], port: int, concurrency: int, client: str
) -> tuple[float, list, Counter]:
    latencies: list[float] = []
    statuses: Counter = Counter()

    def record(seconds: float, status: int) -> None:
        latencies.append(seconds)
        statuses[status] += 1

    start, cpu = time.perf_counter(), time.process_time()
    await (_httpx if client == "httpx" else _raw)(iter(points), port, concurrency, record)
    seconds = time.perf_counter() - start
    print(f"  ({client} client: {time.process_time() - cpu:.1f} CPU s in {seconds:.1f} s)")
    return seconds, latencies, statuses


def threaded(
    points: list[tuple[float, float]], concurrency: int, call: Callable[[float, float], int]
) -> tuple[float, list, Counter]:
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
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    print("scratch database: migrate and load the Yichun demo ...", flush=True)
    url = scratch_database()
    try:
        run(url, args)
    finally:
        if not args.keep:
            scratch_database(drop_only=True)


def run(url: URL, args: argparse.Namespace) -> None:
    points, rid = sample(url, args.requests + 500)
    warm, points = points[:500], points[500:]
    print(f"{len(points):,} requests, {args.concurrency} in flight, {os.cpu_count()} CPUs\n")
    rates: dict[str, float] = {}
    for workers in args.workers:
        port = free_port(args.port)
        server = serve(url, port, workers)
        try:
            for client in ("httpx", "raw"):
                asyncio.run(drive(warm, port, args.concurrency, client))
                label = f"API, {workers} worker(s), {client} client"
                result = asyncio.run(drive(points, port, args.concurrency, client))
                rates[label] = summary(label, *result)
        finally:
            server.terminate()
            server.wait(timeout=30)

    engine = create_engine(url, pool_size=args.concurrency)

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

    for label, call in (
        ("locate() in-process, threads", in_process),
        ("LOCATE_SQL direct, threads", raw_sql),
    ):
        threaded(warm, args.concurrency, call)
        rates[label] = summary(label, *threaded(points, args.concurrency, call))
    engine.dispose()
    base = rates["LOCATE_SQL direct, threads"]
    print()
    for label, rate in rates.items():
        print(f"{label:34s} {rate / base:5.2f}x the direct SQL's requests/s")


if __name__ == "__main__":
    main()
