"""The tile cache on a replayed day: hit ratio, requests/s and p50/p99 with the cache on, against
the same requests with it off (HOUNIAO_TILE_CACHE_MB=0), in the same run.

A scratch database (`<DATABASE_URL's database>_tile_cache_bench`, dropped afterwards unless
--keep) gets the demo grid as its boundary release, dispatchers and grid workers with accounts,
and `--open` open cases. A day (08:00-20:00, seed fixed) is generated:

- dispatchers (city-wide, one scope) open the map a few times an hour at z12-z14 over a random
  community and pan or zoom; grid workers (two cells each, a scope each) open it at z14-z16 over
  their own cells and move around them; every view asks the tiles it newly shows (as Leaflet
  does) of `cells` (public) and `open_cases` (scoped);
- `--cases` cases are filed at random times in random cells and moved through the workflow
  (accept, dispatch, start, feedback, confirm, close) over the following hours, as the service
  calls a console or phone makes, committed. The default, 15, is a busy day: the demo files
  about 4 a day in its peak month (430 in season 2026, 30 % in July) and keeps 60 open.

The day is replayed minute by minute, as fast as the servers answer: a minute's case steps
first, then its tile requests, `--concurrency` in flight, to two real APIs served by uvicorn in
threads of this process (so their caches' counts can be read): one with the cache, one without,
taking turns first. Prints hit ratio, requests/s and p50/p99 of each, and their ratios; with
--record appends them to bench/RESULTS.md. A tile the cached server answered differently from
the uncached one in the same minute counts as stale (the feed's poll interval bounds it).

    .venv/bin/python bench/tile_cache.py [--cases 15] [--open 60] [--dispatchers 4]
        [--grid-workers 20] [--sessions 4] [--moves 6] [--concurrency 16] [--keep] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import math
import os
import platform
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from bench.scratch import drop_database, recreate_database, scratch_url

SEED = 20261201
DAY = range(8 * 60, 20 * 60)  # minutes of the working day
ACTIVE = "(SELECT id FROM boundary_release WHERE status = 'active')"
VIEW = (4, 3)  # tiles across and down a 1024 x 768 map
STEPS = [  # the workflow after filing: (action, actor, hours after the step before)
    ("accept", "dispatcher", 0.3),
    ("dispatch", "dispatcher", 0.3),
    ("start", "grid_worker", 1.0),
    ("give_feedback", "grid_worker", 2.0),
    ("confirm", "dispatcher", 1.0),
    ("close", "dispatcher", 0.5),
]


@dataclass
class Viewer:
    name: str
    role: str
    cells: list[str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Minute:
    steps: list[tuple[str, Any]] = field(default_factory=list)  # ("file", point) | (action, key)
    tiles: list[tuple[Viewer, str]] = field(default_factory=list)  # (viewer, path)


def tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 1 << z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def view_tiles(lon: float, lat: float, z: int) -> set[tuple[int, int, int]]:
    """The tiles of a VIEW-sized map centred on (lon, lat) at zoom z."""
    fx, fy = tile_xy(lon, lat, z)
    w, h = VIEW[0] / 2, VIEW[1] / 2
    return {
        (z, x, y)
        for x in range(math.floor(fx - w), math.floor(fx + w) + 1)
        for y in range(math.floor(fy - h), math.floor(fy + h) + 1)
    }


# --- the scratch world --------------------------------------------------------------------------


def build(url: URL, args: argparse.Namespace) -> tuple[list[Viewer], dict[str, list[Any]]]:
    """Migrate, load the grid, make the accounts and the open cases; returns the viewers and
    candidate points per cell (three inside each)."""
    from geo.accounts import tokens
    from geo.accounts.models import Account
    from geo.core import migrate
    from geo.core.db import get_engine
    from geo.demo import grid
    from geo.spatial.boundaries import releases
    from geo.spatial.boundaries.models import in_release

    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    rng = random.Random(SEED)
    with Session(get_engine()) as s:
        releases.stage(s, grid.generate().all())
        report = releases.validate(s)
        releases.write_release(s, name="demo", level="full", source="bench", report=report)
        # a grid worker per cell: dispatching a case names its cell's worker
        s.execute(
            text(
                "WITH w AS (INSERT INTO grid_worker (name, work_phone, wechat_id)"
                " SELECT 'bench-' || g.code, '0458' || right(g.code, 7), 'wx' || g.code"
                f" FROM grid_cell g WHERE {in_release('g', ACTIVE)} RETURNING id, name)"
                " INSERT INTO grid_worker_cell (worker_id, cell_code)"
                " SELECT id, substr(name, 7) FROM w"
            )
        )
        s.commit()
        rows = s.execute(
            text(
                "SELECT g.code, ST_X(p.geom), ST_Y(p.geom) FROM grid_cell g,"
                " ST_Dump(ST_GeneratePoints(g.geom, 3, 7)) p"
                f" WHERE {in_release('g', ACTIVE)} ORDER BY g.code, p.path"
            )
        ).all()
        points: dict[str, list[Any]] = {}
        for code, lon, lat in rows:
            points.setdefault(code, []).append((lon, lat))
        cells = sorted(points)
        viewers = [
            Viewer(f"bench-dispatcher-{i}", "dispatcher", []) for i in range(args.dispatchers)
        ]
        for i, start in enumerate(rng.sample(range(0, len(cells) - 1, 2), args.grid_workers)):
            viewers.append(Viewer(f"bench-grid-{i}", "grid_worker", cells[start : start + 2]))
        for v in viewers:
            scope = {"cells": v.cells} if v.cells else {}
            account = Account(name=v.name, display_name=v.name, role=v.role, **scope)
            s.add(account)
            s.flush()
            v.headers = {"Authorization": f"Bearer {tokens.start_session(s, account).access_token}"}
        s.commit()
    return viewers, points


# --- the day -------------------------------------------------------------------------------------


def plan_day(
    viewers: list[Viewer], points: dict[str, list[Any]], args: argparse.Namespace
) -> dict[int, Minute]:
    """Every minute's case steps and tile requests (seeded)."""
    rng = random.Random(SEED + 1)
    day: dict[int, Minute] = {m: Minute() for m in DAY}
    cells = sorted(points)
    for n in range(args.cases):
        at = rng.choice(DAY[: -4 * 60])  # filed by 16:00, so most of its day is replayed
        day[at].steps.append(("file", (n, rng.choice(points[rng.choice(cells)]))))
        t = float(at)
        for action, _, hours in STEPS:
            t += hours * 60 * rng.uniform(0.5, 1.5)
            if int(t) in day:
                day[int(t)].steps.append((action, n))
    for v in viewers:
        dispatcher = v.role == "dispatcher"
        for _ in range(args.sessions):
            minute = rng.choice(DAY[:-30])
            if dispatcher:
                lon, lat = rng.choice(points[rng.choice(cells)])
                z = rng.choice([12, 13, 13, 14])
            else:
                lon, lat = rng.choice(points[rng.choice(v.cells)])
                z = rng.choice([14, 15, 15, 16])
            shown: set[tuple[int, int, int]] = set()
            for _move in range(args.moves):
                tiles = view_tiles(lon, lat, z) - shown
                shown |= tiles
                for layer in ("cells", "open_cases"):
                    for tz, tx, ty in sorted(tiles):
                        day[minute].tiles.append((v, f"/tiles/{layer}/{tz}/{tx}/{ty}.mvt"))
                minute = min(minute + rng.choice([0, 1]), DAY[-1])
                if rng.random() < 0.25:  # zoom in or out by one, within the role's range
                    low, high = (12, 14) if dispatcher else (14, 16)
                    z = min(high, max(low, z + rng.choice([-1, 1])))
                    shown = set()
                else:  # pan by half a view in some direction
                    step = 360.0 / (1 << z) * rng.uniform(0.3, 0.7)
                    lon += step * rng.choice([-1, 0, 1]) * VIEW[0] / 2
                    lat += step * rng.choice([-1, 0, 1]) * VIEW[1] / 4
    return day


class Writer:
    """Files and moves the day's cases through the service, as the console and phone would."""

    def __init__(self) -> None:
        from geo.access.principal import Principal

        self.dispatcher = Principal(role="dispatcher", name="bench-console")
        self.cases: dict[int, tuple[int, str]] = {}  # day's case number -> (id, cell)
        self.grid = lambda cell: Principal(role="grid_worker", name="bench-phone", cells=(cell,))

    def run(self, session: Session, step: tuple[str, Any]) -> None:
        from geo.cases import service
        from geo.cases.schemas import CaseCreate, TransitionRequest

        kind, payload = step
        if kind == "file":
            n, (lon, lat) = payload
            body = CaseCreate(
                category="medical", description="老人摔倒，需要上门看诊", lon=lon, lat=lat
            )
            case = service.create_case(session, self.dispatcher, body)["case"]
            self.cases[n] = (case["id"], case["properties"]["cell_code"])
            return
        case_id, cell = self.cases[payload]
        actor = next(a for act, a, _ in STEPS if act == kind)
        who = self.dispatcher if actor == "dispatcher" else self.grid(cell)
        fields: dict[str, Any] = {"action": kind}
        if kind == "give_feedback":
            fields["note"] = "已上门处理"
        if kind == "confirm":
            fields.update(solved=True, satisfaction=5)
        service.transition(session, who, case_id, TransitionRequest(**fields))


def open_cases_now(points: dict[str, list[Any]], n: int) -> list[tuple[str, Any]]:
    rng = random.Random(SEED + 2)
    cells = sorted(points)
    return [("file", (-1 - i, rng.choice(points[rng.choice(cells)]))) for i in range(n)]


# --- servers and client --------------------------------------------------------------------------


@contextmanager
def serve(cache_mb: str) -> Iterator[tuple[str, Any]]:
    """The API with HOUNIAO_TILE_CACHE_MB=`cache_mb` on a free port, in a thread."""
    from api.app import create_app

    os.environ["HOUNIAO_TILE_CACHE_MB"] = cache_mb
    app = create_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # keep-alive outlasting the other server's turn: uvicorn closes idle connections after 5 s
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=600)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class ServerTimes(logging.Handler):
    """The servers' request log lines (api/request_log.py), kept instead of printed: their own
    duration of each tile by what the cache did (hit, miss, bypass; uncached: cache off)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_outcome: dict[str, list[float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", {})
        if "tile_cache" in fields:
            self.by_outcome.setdefault(fields["tile_cache"], []).append(fields["duration_ms"])

    @classmethod
    def install(cls) -> ServerTimes:
        handler = cls()
        logger = logging.getLogger("houniao.request")
        logger.propagate = False  # not a JSON line per tile on stderr
        logger.addHandler(handler)
        return handler


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    digests: dict[tuple[int, int], str] = field(default_factory=dict)


async def fetch_all(
    client: httpx.AsyncClient,
    minute: int,
    tiles: list[tuple[Viewer, str]],
    tally: Tally,
    width: int,
) -> None:
    gate = asyncio.Semaphore(width)

    async def one(i: int, viewer: Viewer, path: str) -> None:
        async with gate:
            started = time.perf_counter()
            r = await client.get(path, headers=viewer.headers)
            tally.latencies.append((time.perf_counter() - started) * 1000)
            if r.status_code not in (200, 204):
                tally.errors += 1
            tally.digests[(minute, i)] = hashlib.blake2b(r.content, digest_size=8).hexdigest()

    started = time.perf_counter()
    await asyncio.gather(*(one(i, v, p) for i, (v, p) in enumerate(tiles)))
    tally.seconds += time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def replay(
    day: dict[int, Minute], bases: dict[str, str], writer: Writer, width: int
) -> dict[str, Tally]:
    from geo.core.db import get_engine

    tallies = {mode: Tally() for mode in bases}
    limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
    async with AsyncExitStack() as stack:
        clients = {
            mode: await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, limits=limits, timeout=60)
            )
            for mode, base in bases.items()
        }
        for minute in DAY:
            m = day[minute]
            if m.steps:
                with Session(get_engine()) as s:
                    for step in m.steps:
                        writer.run(s, step)
                    s.commit()
            order = list(bases) if minute % 2 else list(reversed(list(bases)))
            for mode in order:
                await fetch_all(clients[mode], minute, m.tiles, tallies[mode], width)
    return tallies


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=15, help="cases filed during the day")
    parser.add_argument("--open", type=int, default=60, help="cases open at 08:00")
    parser.add_argument("--dispatchers", type=int, default=4)
    parser.add_argument("--grid-workers", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=4, help="map sessions per viewer")
    parser.add_argument("--moves", type=int, default=6, help="views per session")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()

    url = scratch_url("tile_cache_bench")
    # Every part of this process (the servers, their feeds, the writer) on the scratch database.
    os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
    os.environ.setdefault("HOUNIAO_ENV", "development")
    os.environ["HOUNIAO_SCHEDULER"] = "0"
    os.environ["HOUNIAO_ACCESS_TOKEN_MINUTES"] = "240"  # the replay outlasts 15 minutes
    from geo.core.config import database_settings
    from geo.core.db import get_engine

    database_settings.cache_clear()
    get_engine.cache_clear()
    try:
        viewers, points = build(url, args)
        writer = Writer()
        with Session(get_engine()) as s:
            for step in open_cases_now(points, args.open):
                writer.run(s, step)
            s.commit()
        day = plan_day(viewers, points, args)
        with ExitStack() as stack:
            on_base, on_app = stack.enter_context(serve("64"))
            off_base, _ = stack.enter_context(serve("0"))
            times = ServerTimes.install()
            started = time.perf_counter()
            tallies = asyncio.run(
                replay(day, {"on": on_base, "off": off_base}, writer, args.concurrency)
            )
            wall = time.perf_counter() - started
            counts = on_app.state.tile_cache.stats()
        report(args, day, tallies, counts, wall, times.by_outcome)
    finally:
        if not args.keep:
            get_engine().dispose()
            drop_database(url)


def report(
    args: argparse.Namespace,
    day: dict[int, Minute],
    tallies: dict[str, Tally],
    counts: dict[str, Any],
    wall: float,
    server_ms: dict[str, list[float]],
) -> None:
    requests = sum(len(m.tiles) for m in day.values())
    steps = sum(len(m.steps) for m in day.values())
    on, off = tallies["on"], tallies["off"]
    stale = sum(1 for k, d in on.digests.items() if off.digests.get(k) != d)
    served = counts["hit"] + counts["miss"] + counts["bypass"]
    hit_ratio = counts["hit"] / served if served else 0.0
    rows = []
    for mode, t in (("cache on", on), ("cache off (baseline)", off)):
        rps = len(t.latencies) / t.seconds
        p50, p99 = percentile(t.latencies, 50), percentile(t.latencies, 99)
        rows.append((mode, rps, p50, p99, t.errors))
    lines = [
        f"{requests:,} tile requests per server ({len(day)} minutes, {steps} case steps:"
        f" {args.cases} cases filed and moved, {args.open} open at 08:00), concurrency"
        f" {args.concurrency}, replayed in {wall:.0f} s",
        f"hit ratio {hit_ratio:.1%} (hit {counts['hit']:,}, miss {counts['miss']:,}, bypass"
        f" {counts['bypass']:,}, expired {counts['expired']:,}; held {counts['entries']:,} tiles,"
        f" {counts['bytes'] / 2**20:.1f} MiB); answered unlike the uncached server in the same"
        f" minute: {stale:,}",
        "",
        "| server | requests/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {m} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {e} |" for m, rps, p50, p99, e in rows),
        f"| **ratio on / off** | **{rows[0][1] / rows[1][1]:.2f}x** |"
        f" {rows[0][2] / rows[1][2]:.2f}x | {rows[0][3] / rows[1][3]:.2f}x | |",
        "",
        "Inside the servers (request log `duration_ms`, from the request's arrival to its"
        " answer): "
        + "; ".join(
            f"{outcome} p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms"
            f" ({len(ms):,})"
            for outcome, ms in sorted(server_ms.items())
        ),
    ]
    print("\n".join(lines))
    if args.record:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        head = (
            f"\n## Tile cache on a replayed day (`bench/tile_cache.py`)\n\nMeasured 2026-12-01 on"
            f" {platform.node() or 'the dev machine'} ({os.cpu_count()} cores, load average"
            f" {load} at the end, shared with other engineers' work), one uvicorn worker per"
            " server in threads of the bench process, loopback.\n\n"
        )
        with Path(__file__).with_name("RESULTS.md").open("a", encoding="utf-8") as out:
            out.write(head + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
