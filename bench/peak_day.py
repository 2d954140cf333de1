"""A peak-season day under load (locust, headless, a fixed request budget per step).

Who works on such a day, by weight: grid workers register and update residents and read their
cell; the six channels' intake; the public files cases and reads the service card; dispatchers'
consoles poll the open-cases feed and its changes; map viewers fetch vector tiles; planners read
aggregates. Each route is first measured unloaded (one client, sequential requests), then under
growing numbers of locust users until throughput stops rising (the saturation point). Printed per
route: requests, requests/s, p50/p95/p99, errors, 5xx, and the ratio of its p95 under load to
the same route unloaded, measured in the same run.

Runs on a scratch database `<DATABASE_URL's name>_bench_peak` (created, migrated, loaded with
`houniao load yichun`, dropped at the end unless --keep) against the real API served by
`houniao serve` with its default workers (all cores). Locust runs in this process: on a 2-core
machine the load generator takes a share of the cores it measures, as said beside the figures.

    .venv/bin/python bench/peak_day.py [--users 6 12 24 48] [--budget 3000] [--heavy-places 0 1]
                                       [--keep] [--reuse]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # locust's users are greenlets: patch before anything opens a socket

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import httpx  # noqa: E402
from locust import FastHttpUser, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER_LOG = ROOT / "var" / "bench-peak-server.log"  # JSON lines: one per request, with lock waits
sys.path.insert(0, str(ROOT))

from bench.scratch import drop_database, free_port, recreate_database, scratch_url  # noqa: E402
from geo.access.principal import ACCOUNT_CHANNELS  # noqa: E402
from geo.accounts import apikeys, tokens  # noqa: E402
from geo.accounts.models import Account  # noqa: E402
from geo.models import load_models  # noqa: E402

COMMUNITY = "230717001001"  # 伊美区 红升街道's first community: the grid workers' cells
CHANNELS = tuple(c.value for c in ACCOUNT_CHANNELS)  # grid_worker first: the others are API keys
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "秀英桂兰玉兰淑珍建国志强丽华海燕德明凤英国华春生"


@dataclass
class City:
    """What the users need: points in the cells, tiles over them, and credentials per role."""

    base: str
    points: list[tuple[float, float]]
    cells: list[str]
    tiles: list[tuple[int, int, int]]
    grid_tokens: list[tuple[str, str]]  # (bearer token, own cell)
    channel_keys: list[tuple[str, str]]  # (API key, its channel)
    dispatcher: str
    planner: str


CITY: City  # set before the users start


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def person(rng: random.Random, lon: float, lat: float, external: str) -> dict[str, Any]:
    return {
        "external_id": external,
        "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
        "phone": f"13{rng.randrange(10**9):09d}",
        "birth_year": rng.randrange(1945, 1962),
        "origin": rng.choice(["广东广州", "上海", "浙江杭州", "江苏南京", "四川成都"]),
        "lon": lon + rng.uniform(-1e-4, 1e-4),
        "lat": lat + rng.uniform(-1e-4, 1e-4),
    }


class GridWorker(FastHttpUser):
    weight = 3
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.token, self.cell = self.rng.choice(CITY.grid_tokens)

    @task(2)
    def register_resident(self) -> None:
        lon, lat = self.rng.choice(CITY.points)
        report = person(self.rng, lon, lat, f"gw-{uuid.uuid4().hex}")
        body = {"channel": "grid_worker", "crs": "wgs84", "report": report}
        self.client.post(
            "/api/v1/intake/reports",
            json=body,
            headers=bearer(self.token),
            name="POST /api/v1/intake/reports (grid worker)",
        )

    @task(3)
    def residents_of_my_cell(self) -> None:
        self.client.get(
            f"/api/v1/residents?cell={self.cell}&limit=50",
            headers=bearer(self.token),
            name="GET /api/v1/residents?cell",
        )

    @task(1)
    def open_cases_of_my_cell(self) -> None:
        self.client.get(
            f"/api/v1/cases?cell={self.cell}",
            headers=bearer(self.token),
            name="GET /api/v1/cases?cell",
        )


class ChannelIntake(FastHttpUser):
    weight = 3
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.key, self.channel = self.rng.choice(CITY.channel_keys)

    @task
    def report(self) -> None:
        lon, lat = self.rng.choice(CITY.points)
        report = person(self.rng, lon, lat, f"ch-{uuid.uuid4().hex}")
        body = {"channel": self.channel, "crs": "wgs84", "report": report}
        self.client.post(
            "/api/v1/intake/reports",
            json=body,
            headers={"X-API-Key": self.key},
            name="POST /api/v1/intake/reports (channel)",
        )


class Public(FastHttpUser):
    weight = 3
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task(3)
    def card(self) -> None:
        lon, lat = self.rng.choice(CITY.points)
        self.client.get(f"/card?lon={lon:.6f}&lat={lat:.6f}", name="GET /card")

    @task(1)
    def file_case(self) -> None:
        lon, lat = self.rng.choice(CITY.points)
        body = {"category": "other", "description": "压测诉求: 路灯不亮", "lon": lon, "lat": lat}
        self.client.post(
            "/api/v1/cases",
            json=body,
            name="POST /api/v1/cases (public)",
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )


class Dispatcher(FastHttpUser):
    fixed_count = 1  # the city's consoles do not multiply with the season's crowd: one per step
    wait_time = constant(0)

    def on_start(self) -> None:
        self.etag = ""

    @task(2)
    def feed(self) -> None:
        headers = {**bearer(CITY.dispatcher), "If-None-Match": self.etag}
        with self.client.get(
            "/api/v1/cases/open.geojson",
            headers=headers,
            catch_response=True,
            name="GET /api/v1/cases/open.geojson",
        ) as r:
            if r.status_code in (200, 304):
                self.etag = r.headers.get("ETag", self.etag)
                r.success()

    @task(1)
    def overdue(self) -> None:
        self.client.get(
            "/api/v1/cases?overdue=true&limit=100",
            headers=bearer(CITY.dispatcher),
            name="GET /api/v1/cases?overdue",
        )


class MapViewer(FastHttpUser):
    weight = 2
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def tile(self) -> None:
        z, x, y = self.rng.choice(CITY.tiles)
        self.client.get(f"/tiles/cells/{z}/{x}/{y}.mvt", name="GET /tiles/cells/{z}/{x}/{y}.mvt")


class Planner(FastHttpUser):
    fixed_count = 1  # as the dispatcher: present in every step, however few users it has
    wait_time = constant(0)

    @task(2)
    def density(self) -> None:
        self.client.get(
            "/api/v1/residents/density",
            headers=bearer(CITY.planner),
            name="GET /api/v1/residents/density",
        )

    @task(1)
    def kpis(self) -> None:
        self.client.get(
            "/api/v1/kpis?by=community",
            headers=bearer(CITY.planner),
            name="GET /api/v1/kpis?by=community",
        )


USERS = [GridWorker, ChannelIntake, Public, Dispatcher, MapViewer, Planner]


# -- set-up -------------------------------------------------------------------------------------


def prepare(url_string: str, grid_workers: int) -> tuple[list, list, list, list, list, str, str]:
    """Accounts with tokens issued directly (no password hashing in the measured path)."""
    engine = create_engine(url_string.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as s:
        cells = s.scalars(
            text("SELECT code FROM grid_cell WHERE community_code = :c ORDER BY code"),
            {"c": COMMUNITY},
        ).all()
        points = [
            (float(x), float(y))
            for x, y in s.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
                    " WHERE community_code = :c ORDER BY code) q"
                ),
                {"c": COMMUNITY},
            )
        ]
        x0, y0, x1, y1 = s.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
                " FROM (SELECT ST_Extent(geom) e FROM grid_cell) q"
            )
        ).one()

        def account(name: str, role: str, **scope: Any) -> Account:
            kept = s.scalar(select(Account).where(Account.name == name))  # --reuse
            if kept is not None:
                return kept
            a = Account(name=name, display_name=name, role=role, **scope)
            s.add(a)
            s.flush()
            return a

        def token(a: Account) -> str:
            return str(tokens.start_session(s, a).access_token)

        grid = []
        for i in range(grid_workers):
            cell = cells[i % len(cells)]
            grid.append((token(account(f"peak-grid-{i}", "grid_worker", cells=[cell])), cell))
        keys = []
        for i, channel in enumerate(CHANNELS[1:]):
            a = account(f"peak-channel-{i}", "channel", channel=channel)
            keys.append((apikeys.create_key(s, a), channel))
        dispatcher = token(account("peak-dispatcher", "dispatcher"))
        planner = token(account("peak-planner", "planner"))
        s.commit()
    engine.dispose()
    return points, list(cells), tiles_over((x0, y0, x1, y1)), grid, keys, dispatcher, planner


def tiles_over(extent: tuple[float, float, float, float]) -> list[tuple[int, int, int]]:
    """z12 and z14 tiles over the cells' extent (what a map viewer pans over)."""
    x0, y0, x1, y1 = extent
    out = []
    for z in (12, 14):
        (a, b), (c, d) = tile_of(x0, y1, z), tile_of(x1, y0, z)  # top-left, bottom-right
        out += [(z, x, y) for x in range(a, c + 1) for y in range(b, d + 1)]
    return out


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The web-mercator (XYZ) tile holding lon/lat at zoom z."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def serve(url_string: str, port: int, heavy_places: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url_string, "HOUNIAO_SCHEDULER": "0"}
    env["HOUNIAO_HEAVY_PLACES"] = str(heavy_places)  # api/lanes.py
    SERVER_LOG.parent.mkdir(exist_ok=True)
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("houniao")), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=SERVER_LOG.open("w"),
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise SystemExit(
        "`houniao serve` did not answer /healthz within 90 s (var/bench-peak-server.log)"
    )


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Step:
    users: int
    seconds: float
    rps: float
    rows: dict[str, dict[str, float]]  # route -> figures
    requests: list[dict[str, Any]]  # the server's request log lines of the step


def run_step(users: int, budget: int, classes: list[type] | None = None) -> Step:
    """`users` locust users (all spawned at once) until `budget` requests are done."""
    env = Environment(user_classes=classes or USERS, events=events, host=CITY.base)
    status_5xx: dict[str, int] = {}

    def count_5xx(name: str, response: Any, **_: Any) -> None:
        if response is not None and getattr(response, "status_code", 0) >= 500:
            status_5xx[name] = status_5xx.get(name, 0) + 1

    listener = env.events.request.add_listener(count_5xx)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    start = time.perf_counter()
    while env.stats.total.num_requests < budget:
        gevent.sleep(0.05)
    runner.quit()
    seconds = time.perf_counter() - start
    env.events.request.remove_listener(listener)
    rows = {}
    for (name, _method), e in sorted(env.stats.entries.items()):
        rows[name] = {
            "n": e.num_requests,
            "rps": e.num_requests / seconds,
            "p50": e.get_response_time_percentile(0.50),
            "p95": e.get_response_time_percentile(0.95),
            "p99": e.get_response_time_percentile(0.99),
            "errors": e.num_failures,
            "5xx": status_5xx.get(name, 0),
        }
    return Step(users, seconds, env.stats.total.num_requests / seconds, rows, [])


def run_unloaded(budget: int) -> Step:
    """Each kind of user alone, one at a time (one locust user of one class picks one class)."""
    steps = [run_step(1, max(20, budget // len(USERS)), [cls]) for cls in USERS]
    rows = {name: r for step in steps for name, r in step.rows.items()}
    seconds = sum(step.seconds for step in steps)
    return Step(1, seconds, sum(r["n"] for r in rows.values()) / seconds, rows, [])


def lock_waits(log: Path, start: int) -> tuple[int, list[dict[str, Any]]]:
    """The request lines the server logged since byte `start`: (end offset, lines)."""
    with log.open("rb") as f:
        f.seek(start)
        raw = f.read()
    lines = []
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # uvicorn's own start-up lines
        if entry.get("event") == "request":
            lines.append(entry)
    return start + len(raw), lines


def main() -> None:
    load_models()  # every table the ORM may meet (an account refers to a service area)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[6, 12, 24, 48])
    ap.add_argument("--budget", type=int, default=3000, help="requests per load step")
    ap.add_argument("--unloaded", type=int, default=300, help="requests in the unloaded step")
    ap.add_argument("--grid-workers", type=int, default=20)
    ap.add_argument(
        "--heavy-places",
        type=int,
        nargs="+",
        default=[1],
        help="the slow lane's places per worker (api/lanes.py), one run each; 0: no lane",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument(
        "--reuse", action="store_true", help="use the scratch database kept by an earlier --keep"
    )
    args = ap.parse_args()

    url = scratch_url("bench_peak")
    url_string = url.render_as_string(hide_password=False).replace("+psycopg", "")
    if not args.reuse:
        recreate_database(url)
        env = {**os.environ, "DATABASE_URL": url_string, "HOUNIAO_SCHEDULER": "0"}
        houniao = str(Path(sys.executable).with_name("houniao"))
        t = time.perf_counter()
        for command in (("db", "upgrade"), ("load", "yichun")):
            subprocess.run([houniao, *command], env=env, check=True, capture_output=True)
        elapsed = time.perf_counter() - t
        print(f"scratch database {url.database}: migrated and loaded in {elapsed:.0f} s")
    port = free_port(8766)
    global CITY
    try:
        points, cells, tiles, grid, keys, dispatcher, planner = prepare(
            url_string, args.grid_workers
        )
        CITY = City(
            f"http://127.0.0.1:{port}", points, cells, tiles, grid, keys, dispatcher, planner
        )
        for places in args.heavy_places:
            server = serve(url_string, port, places)
            try:
                unloaded = run_unloaded(args.unloaded)
                offset, _ = lock_waits(SERVER_LOG, 0)
                steps = []
                for u in args.users:
                    step = run_step(u, args.budget)
                    offset, step.requests = lock_waits(SERVER_LOG, offset)
                    steps.append(step)
            finally:
                server.terminate()
                server.wait(timeout=30)
            print(f"\n== HOUNIAO_HEAVY_PLACES={places} (api/lanes.py; 0: no slow lane) ==")
            report(unloaded, steps)
    finally:
        if not args.keep:
            drop_database(url)


def report(unloaded: Step, steps: list[Step]) -> None:
    print(f"\ncores: {os.cpu_count()}; `houniao serve` default workers; locust in the same machine")
    print(f"\n{'users':>5} {'req/s':>8} {'p95 all':>8}  slowest route (p95)")
    best = steps[0]
    for s in steps:
        slowest, p95 = max(((n, r["p95"]) for n, r in s.rows.items()), key=lambda x: x[1])
        print(f"{s.users:>5} {s.rps:>8.0f} {p95:>7.0f}ms  {slowest}")
        if s.rps > best.rps * 1.10:  # saturated once another step adds less than 10 %
            best = s
    print(f"\nsaturation: {best.users} users, {best.rps:.0f} requests/s; per route there:")
    head = f"{'route':<44} {'n':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'err':>4} {'5xx':>4} {'p95/unloaded':>12}"  # noqa: E501
    print(head)
    for name, r in best.rows.items():
        base = unloaded.rows.get(name, {}).get("p95") or float("nan")
        print(
            f"{name[:44]:<44} {r['n']:>6.0f} {r['rps']:>7.1f} {r['p50']:>5.0f}m {r['p95']:>5.0f}m"
            f" {r['p99']:>5.0f}m {r['errors']:>4.0f} {r['5xx']:>4.0f} {r['p95'] / base:>11.1f}x"
        )
    print_lock_waits(best)
    total_5xx = sum(r["5xx"] for s in steps for r in s.rows.values())
    total_err = sum(r["errors"] for s in steps for r in s.rows.values())
    total = sum(r["n"] for s in steps for r in s.rows.values())
    print(
        f"\nall load steps: {total} requests, {total_err} errors ({total_err / total:.2%}),"
        f" {total_5xx} answered 5xx"
    )


def print_lock_waits(step: Step) -> None:
    """Per serialising lock at the saturation step: how many requests took it, how long they
    waited (p50/p95/max), and the share of those requests' time spent waiting."""
    print(f"\nlock waits at {step.users} users (from the server's request log):")
    print(
        f"{'lock':<22} {'requests':>8} {'waited>1ms':>10}"
        f" {'p50':>7} {'p95':>7} {'max':>7} {'share':>6}"
    )
    for lock in sorted({k for r in step.requests for k in r.get("lock_wait_ms", {})}):
        took = [r for r in step.requests if lock in r.get("lock_wait_ms", {})]
        waits = sorted(r["lock_wait_ms"][lock] for r in took)
        share = sum(waits) / max(1e-9, sum(r["duration_ms"] for r in took))
        print(
            f"{lock:<22} {len(took):>8} {sum(w > 1 for w in waits):>10}"
            f" {pct(waits, 0.50):>5.1f}ms {pct(waits, 0.95):>5.1f}ms {waits[-1]:>5.0f}ms"
            f" {share:>6.1%}"
        )


def pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


if __name__ == "__main__":
    main()
