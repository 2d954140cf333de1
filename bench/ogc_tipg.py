"""OGC API items and MVT tiles of the grid cells: Houniao's API against tipg on the same table.

tipg (developmentseed's OGC Features and Tiles server, asyncpg) and the API each run as one
uvicorn worker against the same scratch database `<DATABASE_URL's name>_bench_tipg` (migrated,
Yichun demo loaded, dropped at the end unless --keep). tipg serves `public.grid_cell` as it is;
the API serves the `cells` collection with every rule it keeps: the active boundary release, the
community/street/district names joined from their own releases, Cache-Control, OGC errors. The
same bare-asyncio client (16 keep-alive connections) sends both the same requests in interleaved
rounds, the order of the servers alternating. The API runs twice: with its tile cache off
(every tile made, as tipg makes them) and as deployed (HOUNIAO_TILE_CACHE_MB's default: after the
first round most tiles are answered from memory; tipg keeps none). Items are never cached:

- items: `limit=100` pages at random offsets (fixed seed);
- tiles: z12 and z14 tiles drawn from those that hold cells (fixed seed).

Prints requests/s, p50 and p99 per server and the ratios (API / tipg). Then, on one psycopg
connection, the SQL alone of an items page and of a tile, plain table (what tipg reads) against the
`cells` source (release and parent joins): what the rules cost in PostgreSQL.

tipg is not a dependency of the project: it is installed from PyPI into its own virtualenv
(`~/.cache/houniao-bench/tipg`, created on first use; --tipg-venv to choose another).

    .venv/bin/python bench/ogc_tipg.py [--requests 1500] [--rounds 3] [--concurrency 16] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `python bench/ogc_tipg.py`

from bench.scratch import drop_database, free_port, scratch_url, serve  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.spatial.boundaries.models import in_release  # noqa: E402
from geo.spatial.boundaries.releases import resolve_release  # noqa: E402

SEED = 20261130
TIPG_VERSION = "1.6.1"
TIPG_COLLECTION = "public.grid_cell"


def scratch_database(drop_only: bool = False, reuse: bool = False) -> URL:
    url = scratch_url("bench_tipg")
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


def tipg_python(venv: Path) -> Path:
    """The virtualenv's python with tipg installed (made on first use)."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing tipg {TIPG_VERSION} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"tipg=={TIPG_VERSION}", "uvicorn"],
            check=True,
        )
    return python


def serve_tipg(python: Path, url: URL, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": f'["{TIPG_COLLECTION}"]',
    }
    command = [str(python), "-m", "uvicorn", "tipg.main:app", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env)
    deadline = time.monotonic() + 120  # tipg reads the catalogue at start
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/collections", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"tipg on port {port} did not answer within 120 s")


def tiles_with_cells(url: URL, z: int, n: int, rid: int) -> list[tuple[int, int]]:
    """n tiles at zoom z drawn (with replacement, fixed seed) from those that hold cells."""
    engine = create_engine(url)
    with engine.connect() as conn:
        box = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
                f" (SELECT ST_Extent(geom) AS e FROM grid_cell WHERE {in_release('grid_cell')}) s"
            ),
            {"rid": rid},
        ).one()
        x0, y1 = _tile_of(box[0], box[1], z)
        x1, y0 = _tile_of(box[2], box[3], z)
        held = conn.execute(
            text(
                "SELECT x, y FROM generate_series(CAST(:x0 AS int), :x1) x,"
                " generate_series(CAST(:y0 AS int), :y1) y"
                " WHERE EXISTS (SELECT 1 FROM grid_cell WHERE geom &&"
                " ST_Transform(ST_TileEnvelope(:z, x, y), 4326))"
            ),
            {"x0": x0, "x1": x1, "y0": y0, "y1": y1, "z": z},
        ).all()
    engine.dispose()
    rng = random.Random(SEED + z)
    return [tuple(rng.choice(held)) for _ in range(n)]  # type: ignore[misc]


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


async def drive(port: int, paths: list[str], concurrency: int) -> tuple[float, np.ndarray, dict]:
    """Keep `concurrency` GETs in flight over keep-alive connections; (seconds, ms, statuses)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    todo = iter(paths)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for path in todo:
                t = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                latencies.append(time.perf_counter() - t)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, np.array(latencies) * 1000, statuses


def workloads(url: URL, n: int, rid: int, matched: int) -> dict[str, tuple[list, list]]:
    """Per workload, the same requests for tipg and for the API."""
    rng = random.Random(SEED)
    offsets = [rng.randrange(0, max(1, matched - 100)) for _ in range(n)]
    items = (
        [f"/collections/{TIPG_COLLECTION}/items?limit=100&offset={o}" for o in offsets],
        [f"/ogc/collections/cells/items?limit=100&offset={o}" for o in offsets],
    )
    out = {"items (limit 100)": items}
    for z in (12, 14):
        picks = tiles_with_cells(url, z, n, rid)
        out[f"tiles z{z}"] = (
            [f"/collections/{TIPG_COLLECTION}/tiles/WebMercatorQuad/{z}/{x}/{y}" for x, y in picks],
            [f"/tiles/cells/{z}/{x}/{y}.mvt" for x, y in picks],
        )
    return out


def sql_costs(url: URL, rid: int, rounds: int = 200) -> None:
    """The SQL alone on one connection: the plain table against the cells source."""
    plain = "SELECT code, name, households, community_code, geom FROM grid_cell"
    cells = (
        "SELECT g.code, g.name, g.households, c.code, c.name, s.code, s.name, d.code, d.name,"
        " g.geom FROM grid_cell g"
        f" JOIN community c ON c.code = g.community_code AND {in_release('c')}"
        f" JOIN street s ON s.code = c.street_code AND {in_release('s')}"
        f" JOIN district d ON d.code = s.district_code AND {in_release('d')}"
        f" WHERE {in_release('g')}"
    )
    page = "SELECT *, ST_AsGeoJSON(geom, 7) FROM ({}) q ORDER BY 1 LIMIT 100 OFFSET %(o)s"
    count = "SELECT count(*) FROM ({}) q"
    rng = random.Random(SEED)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # No server-side prepare: after psycopg's fifth execution PostgreSQL may pick a generic plan,
    # and for the release filter's `$1` ranges that plan nests loops (90 ms instead of 6).
    with psycopg.connect(conninfo, prepare_threshold=None) as conn:
        print("\nSQL alone, one connection, median of", rounds, "(ms):")
        for label, sql in (("plain grid_cell", plain), ("cells (release + parent joins)", cells)):
            q = sql.replace(":rid", "%(rid)s")
            times = {"page": [], "count": []}
            for _ in range(rounds):
                args = {"rid": rid, "o": rng.randrange(0, 1000)}
                for kind, template in (("page", page), ("count", count)):
                    t = time.perf_counter()
                    conn.execute(template.format(q), args).fetchall()
                    times[kind].append((time.perf_counter() - t) * 1000)
            print(
                f"  {label:32s} page {statistics.median(times['page']):6.2f}"
                f"   count {statistics.median(times['count']):6.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="per workload and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--tipg-venv", type=Path, default=Path.home() / ".cache/houniao-bench/tipg")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="use the kept scratch database")
    args = parser.parse_args()
    python = tipg_python(args.tipg_venv)
    if not args.reuse:
        print("scratch database: migrate and load the Yichun demo ...", flush=True)
    url = scratch_database(reuse=args.reuse)
    try:
        run(url, python, args)
    finally:
        if not args.keep:
            scratch_database(drop_only=True)


NO_TILE_CACHE = {"HOUNIAO_TILE_CACHE_MB": "0"}


def run(url: URL, python: Path, args: argparse.Namespace) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        rid = resolve_release(session, None)
        matched = session.execute(
            text(f"SELECT count(*) FROM grid_cell WHERE {in_release('grid_cell')}"), {"rid": rid}
        ).scalar_one()
    engine.dispose()
    ports = {"tipg": free_port(args.port), "houniao": free_port(args.port + 1)}
    ports["houniao+cache"] = free_port(args.port + 2)
    servers = [
        serve_tipg(python, url, ports["tipg"]),
        serve(url, ports["houniao"], 1, settings=NO_TILE_CACHE),  # every tile made, as tipg
        serve(url, ports["houniao+cache"], 1),  # as deployed: tiles kept (api/tile_cache.py)
    ]
    try:
        loads = workloads(url, args.requests, rid, matched)
        print(
            f"{matched:,} cells; {args.requests:,} requests per workload and round,"
            f" {args.concurrency} connections, {args.rounds} rounds, {os.cpu_count()} CPUs"
        )
        for tipg_paths, api_paths in loads.values():  # warm all (pools, plans; not the cache)
            asyncio.run(drive(ports["tipg"], tipg_paths[:200], args.concurrency))
            asyncio.run(drive(ports["houniao"], api_paths[:200], args.concurrency))
            asyncio.run(drive(ports["houniao+cache"], api_paths[:200], args.concurrency))
        results: dict[tuple[str, str], list] = {}
        for r in range(args.rounds):
            for name, (tipg_paths, api_paths) in loads.items():
                order = [("tipg", tipg_paths), ("houniao", api_paths)]
                order.append(("houniao+cache", api_paths))
                for server, paths in order if r % 2 == 0 else order[::-1]:
                    seconds, ms, statuses = asyncio.run(
                        drive(ports[server], paths, args.concurrency)
                    )
                    results.setdefault((name, server), []).append((len(ms) / seconds, ms, statuses))
        report(loads, results)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    sql_costs(url, rid)


def report(loads: dict, results: dict) -> None:
    print("\n| workload | server | req/s | p50 ms | p99 ms | statuses | req/s / tipg | p99 / tipg")
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---:")
    for name in loads:
        figures = {}
        for server in ("tipg", "houniao", "houniao+cache"):
            runs = results[(name, server)]
            rate = statistics.median(r[0] for r in runs)
            ms = np.concatenate([r[1] for r in runs])
            statuses: dict[int, int] = {}
            for r in runs:
                for code, n in r[2].items():
                    statuses[code] = statuses.get(code, 0) + n
            figures[server] = (rate, np.percentile(ms, 50), np.percentile(ms, 99), statuses)
        base = figures["tipg"]
        for server, (rate, p50, p99, statuses) in figures.items():
            codes = ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))
            print(
                f"| {name} | {server} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {codes}"
                f" | {rate / base[0]:.2f}x | {p99 / base[2]:.2f}x |"
            )


if __name__ == "__main__":
    main()
