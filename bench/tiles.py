"""Vector tiles at scale: MVT tile latency at z12 and z15 over 100,000 points, against the bare
query.

Builds a scratch table of 100,000 points (fixed seed) inside the Yichun demo cells, in the
database of DATABASE_URL, registers it as a collection (`bench_points`, no minzoom) and times
every tile two ways, interleaved:

- **bare**: the very SQL `geo.spatial.features.tiles` sends for that tile (compiled once per tile),
run
  on a plain psycopg connection: what PostGIS itself costs;
- **api**: ``GET /tiles/bench_points/{z}/{x}/{y}.mvt`` from the real API served by uvicorn (in a
  thread of this process, so it sees the scratch layer) over loopback HTTP with keep-alive:
  routing, validation, a pooled session per request, the response.

Prints p50/p99 (ms) per zoom and the ratios to bare, and with ``--record`` appends them to
bench/RESULTS.md. The scratch table is dropped afterwards whatever happens.

    .venv/bin/python bench/tiles.py [--points 100000] [--z15-tiles 200] [--record]
"""

from __future__ import annotations

import argparse
import platform
import random
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import mapbox_vector_tile
import psycopg
import uvicorn
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from geo.core.config import security_settings
from geo.core.db import get_engine
from geo.spatial.boundaries.models import in_release
from geo.spatial.features import registry, tiles
from geo.spatial.features.registry import Collection, Field
from geo.spatial.features.source import source_query

SEED = 20260604
TABLE = "bench_tile_points"
LAYER = "bench_points"
CATEGORIES = ["医疗", "出行", "住房", "饮食", "邻里", "其他"]


@contextmanager
def serve() -> Iterator[str]:
    """The API on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def build_points(session: Session, n: int) -> None:
    """n points spread over the current demo cells (about n / cells in each), seeded."""
    session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
    session.execute(
        text(
            f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, category text, cell_code text,"
            " geom geometry(Point, 4326))"
        )
    )
    current = (
        "FROM grid_cell g JOIN boundary_release r ON r.status = 'active'"
        f" AND {in_release('g', 'r.id')}"
    )
    cells = session.execute(text(f"SELECT count(*) {current}")).scalar_one()
    base, extra = divmod(n, cells)
    # ST_GeneratePoints with a seed is deterministic; the first `extra` cells get one more point.
    session.execute(
        text(
            f"""INSERT INTO {TABLE} (id, category, cell_code, geom)
            SELECT row_number() OVER (ORDER BY q.code, q.path),
                   (CAST(:categories AS text[]))
                       [1 + (hashtext(q.code || q.path::text) & 2147483647) % 6],
                   q.code, q.geom
            FROM (
                SELECT g.code, (d).path[1] AS path, (d).geom AS geom
                FROM (SELECT g.code, g.geom, row_number() OVER (ORDER BY g.code) AS i
                      {current}) g,
                     LATERAL ST_Dump(ST_GeneratePoints(g.geom,
                         :base + CASE WHEN g.i <= :extra THEN 1 ELSE 0 END, :seed)) AS d
            ) q"""
        ),
        {"base": base, "extra": extra, "seed": SEED, "categories": CATEGORIES},
    )
    session.execute(text(f"CREATE INDEX ON {TABLE} USING gist (geom)"))
    # the API reads as this role (geo.access.principal.app_engine)
    role = security_settings().db_role
    if (
        role
        and session.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
    ):
        session.execute(text(f'GRANT SELECT ON {TABLE} TO "{role}"'))
    session.commit()
    session.execute(text(f"ANALYZE {TABLE}"))
    session.commit()


def register_layer() -> None:
    registry.register(
        Collection(
            id=LAYER,
            title="基准测试点",
            title_en="Benchmark points",
            description="Scratch points of bench/tiles.py.",
            source=f"SELECT id, category, cell_code, geom FROM {TABLE}",
            fields=(
                Field("category", "string", "类别"),
                Field("cell_code", "string", "网格编码"),
            ),
            geometry_type="Point",
            id_column="id",
            id_type="integer",
            versioned=False,
            ogc=False,
            export=False,
            minzoom=0,
        ),
        replace=True,
    )


def tiles_with_points(session: Session, z: int, sample: int | None) -> list[tuple[int, int]]:
    rows = session.execute(
        text(
            f"""SELECT DISTINCT floor((ST_X(geom) + 180) / 360 * 2 ^ :z)::int,
                       floor((1 - asinh(tan(radians(ST_Y(geom)))) / pi()) / 2 * 2 ^ :z)::int
                FROM {TABLE} ORDER BY 1, 2"""
        ),
        {"z": z},
    ).all()
    addresses = [(int(x), int(y)) for x, y in rows]
    if sample is not None and len(addresses) > sample:
        addresses = random.Random(SEED).sample(addresses, sample)
    return addresses


def _count(tile: bytes) -> int:
    return len(mapbox_vector_tile.decode(tile).get(LAYER, {"features": []})["features"])


def percentile(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def measure(
    z: int,
    addresses: list[tuple[int, int]],
    rounds: int,
    session: Session,
    raw: psycopg.Connection,
    client: httpx.Client,
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"bare": [], "api": [], "features": [], "bytes": []}
    features, sizes = times["features"], times["bytes"]
    compiled = {}
    engine_dialect = session.get_bind().dialect
    query = source_query(session, registry.get(LAYER))
    statement = tiles.tile_statement(query, LAYER).compile(dialect=engine_dialect)
    for x, y in addresses:  # compiled once: the bare run pays no SQLAlchemy at all
        compiled[x, y] = (str(statement), statement.construct_params({"z": z, "x": x, "y": y}))
    session.rollback()

    def clock(fn: Callable[..., bytes], *args: object) -> tuple[float, bytes]:
        t = time.perf_counter()
        data = fn(*args)
        return (time.perf_counter() - t) * 1000, data

    def run_bare(sql: str, params: dict) -> bytes:
        row = raw.execute(sql, params).fetchone()
        return bytes(row[0] or b"") if row else b""

    def run_api(x: int, y: int) -> bytes:
        response = client.get(f"/tiles/{LAYER}/{z}/{x}/{y}.mvt")
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{response.url}: HTTP {response.status_code} {response.text}")
        return response.content

    for x, y in addresses:  # warm-up pass: shared buffers, plan caches, the connection pool
        run_bare(*compiled[x, y])
        run_api(x, y)
    for _ in range(rounds):
        for x, y in addresses:
            ms, bare = clock(run_bare, *compiled[x, y])
            times["bare"].append(ms)
            ms, response = clock(run_api, x, y)
            times["api"].append(ms)
            if len(features) < len(addresses):  # first round: both give the same tile
                n = _count(bare)
                assert _count(response) == n, (z, x, y)  # the API serves the same tile
                features.append(n)
                sizes.append(len(bare))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--z15-tiles", type=int, default=200, help="tiles sampled at z15")
    parser.add_argument("--rounds", type=int, default=0, help="passes over the tiles (0: auto)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()

    engine = get_engine()
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    results = {}
    with (
        ExitStack() as stack,
        Session(engine) as session,
        psycopg.connect(url, autocommit=True) as raw,
    ):
        # as geo.spatial.features.tiles.tile() does for its transaction
        raw.execute("SET jit = off")
        try:
            started = time.perf_counter()
            build_points(session, args.points)
            built = time.perf_counter() - started
            register_layer()
            client = stack.enter_context(httpx.Client(base_url=stack.enter_context(serve())))
            postgis = session.execute(text("SELECT postgis_lib_version()")).scalar()
            for z, sample in ((12, None), (15, args.z15_tiles)):
                addresses = tiles_with_points(session, z, sample)
                rounds = args.rounds or max(2, -(-400 // len(addresses)))  # >= 400 samples
                results[z] = (
                    len(addresses),
                    rounds,
                    measure(z, addresses, rounds, session, raw, client),
                )
        finally:
            registry.unregister(LAYER)
            session.rollback()
            session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
            session.commit()

    lines = [
        f"### MVT tiles over {args.points:,} points ({datetime.now(UTC):%Y-%m-%d}, bench/tiles.py)",
        "",
        f"PostGIS {postgis}, Python {platform.python_version()}, {platform.machine()};"
        f" points built in {built:.1f} s; bare = the same SQL on a plain psycopg connection"
        " (jit off, as geo.spatial.features.tiles.tile() sets it),"
        " api = `GET /tiles/...` from uvicorn over loopback HTTP; after one warm-up pass.",
        "",
        "| zoom | tiles x rounds | features/tile p50 (max) | bytes p50 | bare p50 / p99 ms |"
        " api p50 / p99 ms | api / bare p50 | api / bare p99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for z, (n, rounds, t) in results.items():
        p = {k: (percentile(t[k], 50), percentile(t[k], 99)) for k in ("bare", "api")}
        t_features, t_bytes = t["features"], t["bytes"]
        lines.append(
            f"| z{z} | {n} x {rounds}"
            f" | {statistics.median(t_features):.0f} ({max(t_features)})"
            f" | {statistics.median(t_bytes):,.0f}"
            f" | {p['bare'][0]:.2f} / {p['bare'][1]:.2f}"
            f" | {p['api'][0]:.2f} / {p['api'][1]:.2f}"
            f" | {p['api'][0] / p['bare'][0]:.2f} | {p['api'][1] / p['bare'][1]:.2f} |"
        )
    report = "\n".join(lines)
    print(report)
    if args.record:
        record = Path(__file__).with_name("RESULTS.md")
        existing = record.read_text(encoding="utf-8") if record.exists() else "# Results\n"
        record.write_text(existing.rstrip("\n") + "\n\n" + report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
