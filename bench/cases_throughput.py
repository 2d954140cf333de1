"""Cases: create and transition throughput under concurrent clients, and the open-cases GeoJSON
at 10,000 open cases with its ratio to the bare SQL query.

Runs on a scratch database `<DATABASE_URL's name>_bench_cases` on the same server (created,
migrated, loaded with the Yichun grid, dropped at the end unless --keep), so the dev database is
left as found. The API is the real one (`uvicorn api.app:app` in a subprocess, as the application
role under row-level security, scheduler off); clients are threads with their own keep-alive
client and bearer token: the standard library's (bench/lean_http.py), or httpx with
`--client httpx` (its own Python is ~0.6 ms a request, on the same two cores as the server).

1. create: C clients POST /api/v1/cases (channel accounts, a point in the grid worker's community):
   cases/s, p50 and p99 latency; baseline: the same `service.create_case` in-process, C threads
   with their own database session each, as the API makes the call (the application role and
   the caller's row-level-security settings), and as the table owner (the rules' cost beside).
2. transitions: C clients each take their own cases through accept, dispatch, start,
   give_feedback, confirm, close with If-Match: transitions/s, p50, p99; same in-process baseline.
   Both after a warm-up, in --tp-rounds rounds that alternate which path goes first.
   `--paired` instead alternates request by request in each client (HTTP, then the same call
   in-process, or the other way round): both paths meet the same machine at the same moment,
   so a one-client ratio no longer moves with what else ran during one path's round.
3. open.geojson with 10,000 open cases (bulk-inserted; the trigger sets their deadlines): the bare
   SQL (the same rows and ST_AsGeoJSON, fetched with psycopg), `feed.open_cases_json` (the
   FeatureCollection built by PostgreSQL) in-process, and GET /api/v1/cases/open.geojson over
   HTTP: 200 from a second server that keeps no Features (HOUNIAO_FEED_CACHE_MB=0: the body
   built in one statement), 200 as the first reader after a change (one case's version bumped,
   untimed, before it: one Feature written anew, the rest from the process's memory), 200 as
   another reader of the unchanged feed, and 304 with If-None-Match; medians of --rounds
   interleaved rounds and the ratios to the bare SQL. `--only-geojson` skips 1 and 2.

    .venv/bin/python bench/cases_throughput.py [--clients 1 4 8] [--per-client 40] [--open 10000]
        [--tp-rounds 3] [--rounds 7] [--workers 1] [--paired]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lean_http import LeanClient  # noqa: E402
from bench.scratch import (  # noqa: E402
    drop_database,
    free_port,
    recreate_database,
    scratch_url,
    serve,
)
from geo.access.principal import Principal, apply_rls, as_system  # noqa: E402
from geo.access.rls import app_engine  # noqa: E402
from geo.accounts import tokens  # noqa: E402
from geo.accounts.models import Account  # noqa: E402
from geo.cases import feed, service  # noqa: E402
from geo.cases.schemas import CaseCreate, TransitionRequest  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.models import load_models  # noqa: E402

SEED = 20260605
COMMUNITY = "230717001001"  # 伊美区 红升街道: the bench's grid worker walks its cells
STEPS = [  # (who, body) per workflow step, grid tier
    ("grid", {"action": "accept"}),
    ("grid", {"action": "dispatch"}),
    ("grid", {"action": "start"}),
    ("grid", {"action": "give_feedback", "note": "已处理"}),
    ("dispatcher", {"action": "confirm", "solved": True, "satisfaction": 5}),
    ("dispatcher", {"action": "close"}),
]


def body(rng: random.Random, points: list[tuple[float, float]], i: int) -> dict[str, Any]:
    lon, lat = rng.choice(points)
    return {
        "category": rng.choice(["medical", "tourism", "housing", "other"]),
        "description": f"压测诉求 {i}",
        "lon": lon + rng.uniform(-1e-4, 1e-4),
        "lat": lat + rng.uniform(-1e-4, 1e-4),
    }


def run_clients(clients: int, work: Callable[[int], list[float]]) -> tuple[float, list[float]]:
    """Run `work(client_index)` in `clients` threads released together; (seconds, latencies)."""
    barrier = threading.Barrier(clients)

    def one(i: int) -> list[float]:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        results = list(pool.map(one, range(clients)))
        seconds = time.perf_counter() - start
    return seconds, [x for r in results for x in r]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


class People:
    """Accounts of the bench (no passwords: tokens are issued directly) and their principals."""

    def __init__(self, session: Session, clients: int) -> None:
        cells = session.scalars(
            text("SELECT code FROM grid_cell WHERE community_code = :c ORDER BY code"),
            {"c": COMMUNITY},
        ).all()
        self.points = [
            tuple(map(float, p))
            for p in session.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
                    " WHERE community_code = :c ORDER BY code) q"
                ),
                {"c": COMMUNITY},
            )
        ]
        self.dispatcher = self._account(session, "bench-dispatcher", "dispatcher")
        self.grid = self._account(session, "bench-grid", "grid_worker", cells=list(cells))
        self.channels = [
            self._account(session, f"bench-channel-{i}", "channel", channel="police")
            for i in range(clients)
        ]

    @staticmethod
    def _account(session: Session, name: str, role: str, **scope: Any) -> tuple[Principal, dict]:
        account = Account(name=name, display_name=name, role=role, **scope)
        session.add(account)
        session.flush()
        pair = tokens.start_session(session, account)
        return tokens.principal_for(account), {"Authorization": f"Bearer {pair.access_token}"}


def http_client(kind: str, port: int, headers: dict[str, str] | None = None) -> Any:
    """A client of the API for one thread: `lean` (bench/lean_http.py) or `httpx`."""
    if kind == "httpx":
        return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60)
    return LeanClient(port, headers)


def bench_http(
    port: int, people: People, clients: int, per_client: int, statuses: Counter, kind: str
) -> tuple[dict, dict]:
    created: dict[int, list[tuple[int, str]]] = {}

    def create(i: int) -> list[float]:
        rng, lat = random.Random(SEED + i), []
        mine = created.setdefault(i, [])
        with http_client(kind, port, people.channels[i][1]) as http:
            for k in range(per_client):
                t = time.perf_counter()
                r = http.post("/api/v1/cases", json=body(rng, people.points, k))
                lat.append(time.perf_counter() - t)
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    mine.append((r.json()["case"]["id"], r.headers["ETag"]))
        return lat

    c_seconds, c_lat = run_clients(clients, create)
    c_n = sum(len(v) for v in created.values())

    def work(i: int) -> list[float]:
        lat = []
        heads = {"grid": people.grid[1], "dispatcher": people.dispatcher[1]}
        with http_client(kind, port) as http:
            for case_id, tag in created.get(i, []):
                for who, step in STEPS:
                    t = time.perf_counter()
                    r = http.post(
                        f"/api/v1/cases/{case_id}/transitions",
                        json=step,
                        headers={**heads[who], "If-Match": tag},
                    )
                    lat.append(time.perf_counter() - t)
                    statuses[r.status_code] += 1
                    tag = r.headers.get("ETag", tag)
        return lat

    t_seconds, t_lat = run_clients(clients, work)
    return (
        {"n": c_n, "seconds": c_seconds, "lat": c_lat},
        {"n": len(t_lat), "seconds": t_seconds, "lat": t_lat},
    )


def bench_inprocess(
    engine, people: People, clients: int, per_client: int, as_caller: bool = True
) -> tuple[dict, dict]:
    """The same service calls in this process. `as_caller`: as the API makes them, on the
    application role's engine with the caller's row-level-security settings; else as the table
    owner with the system's settings (the rules' cost is the difference)."""
    created: dict[int, list[int]] = {}

    def scoped(s: Session, me: Principal) -> None:
        apply_rls(s, me) if as_caller else as_system(s)

    def create(i: int) -> list[float]:
        rng, lat, me = random.Random(SEED + 100 + i), [], people.channels[i][0]
        for k in range(per_client):
            t = time.perf_counter()
            with Session(engine) as s:
                scoped(s, me)
                out = service.create_case(s, me, CaseCreate(**body(rng, people.points, k)))
                s.commit()
            lat.append(time.perf_counter() - t)
            created.setdefault(i, []).append(out["case"]["id"])
        return lat

    c_seconds, c_lat = run_clients(clients, create)

    def work(i: int) -> list[float]:
        lat, who = [], {"grid": people.grid[0], "dispatcher": people.dispatcher[0]}
        for case_id in created.get(i, []):
            for actor, step in STEPS:
                t = time.perf_counter()
                with Session(engine) as s:
                    scoped(s, who[actor])
                    service.transition(s, who[actor], case_id, TransitionRequest(**step))
                    s.commit()
                lat.append(time.perf_counter() - t)
        return lat

    t_seconds, t_lat = run_clients(clients, work)
    return (
        {"n": len(c_lat), "seconds": c_seconds, "lat": c_lat},
        {"n": len(t_lat), "seconds": t_seconds, "lat": t_lat},
    )


def bulk_open_cases(engine, n: int, first: int = 1) -> None:
    """`n` open cases at random gazetteer points across the city, in every running status
    (public ids from `first` on: a second call needs the next)."""
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO cases (public_id, category_code, grade, status, tier, description, geom,
                               cell_code, community_code, street_code, district_code, release_id,
                               reporter_kind, created_by, created_by_role, reported_at, updated_at)
            SELECT 'HNB' || lpad(g::text, 9, '0'),
                   (ARRAY['medical','tourism','housing','elderly_care','other'])[1 + g % 5],
                   'simple',
                   (ARRAY['reported','accepted','dispatched','in_handling'])[1 + g % 4]
                       ::case_status,
                   (ARRAY['grid','grid','community','street'])[1 + g % 4]::case_tier,
                   '压测', a.geom, a.cell_code, a.community_code, a.street_code, a.district_code,
                   (SELECT id FROM boundary_release WHERE status = 'active'),
                   'staff', 'bench', 'dispatcher',
                   now() - make_interval(mins => (g * 7) % 3000), now()
            FROM generate_series(:first, :first + :n - 1) g
            JOIN LATERAL (SELECT * FROM address_point ORDER BY id
                          OFFSET (g * 7919) % (SELECT count(*) FROM address_point) LIMIT 1) a
              ON true
        """),
            {"n": n, "first": first},
        )
        conn.execute(text("ANALYZE cases"))


BARE_SQL = """
    SELECT c.id, c.category_code, k.name_zh, c.grade, c.status, c.tier,
           case_clock(c.status, c.due_at, c.resolved_at, now()), c.reported_at, c.due_at,
           CASE c.tier WHEN 'grid' THEN c.grid_due_at WHEN 'community' THEN c.community_due_at
                       ELSE c.due_at END,
           c.cell_code, c.version, ST_AsGeoJSON(c.geom, 7)
    FROM cases c JOIN case_category k ON k.code = c.category_code
    WHERE c.status NOT IN ('closed', 'cancelled') ORDER BY c.id
"""

NO_FEATURES_KEPT = {"HOUNIAO_FEED_CACHE_MB": "0"}  # the feed built in one statement

# A new version of the oldest open case: what any change does to the feed's ETag.
CHANGE_ONE_CASE = """
    UPDATE cases SET version = version + 1
    WHERE id = (SELECT min(id) FROM cases WHERE status NOT IN ('closed', 'cancelled'))
"""


def timed(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, out = [], None
    fn()  # warm-up
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, out


def bench_geojson(
    engine, url: URL, port: int, plain_port: int, people: People, rounds: int
) -> dict[str, Any]:
    """Each round runs every path once, in turn (interleaved: other load hits all alike)."""
    import psycopg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(dsn)
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers=people.dispatcher[1], timeout=120
    )
    plain = httpx.Client(
        base_url=f"http://127.0.0.1:{plain_port}", headers=people.dispatcher[1], timeout=120
    )
    out: dict[str, Any] = {}

    def bare() -> int:
        out["rows"] = len(conn.execute(BARE_SQL).fetchall())
        return out["rows"]

    def service_call() -> int:
        with Session(engine) as s:
            as_system(s)
            out["bytes"] = len(feed.open_cases_json(s, people.dispatcher[0]).encode())
            s.rollback()
        return out["bytes"]

    def etag_call() -> str:
        with Session(engine) as s:
            as_system(s)
            return feed.open_etag(s, people.dispatcher[0])

    def get() -> httpx.Response:
        r = http.get("/api/v1/cases/open.geojson")
        assert r.status_code == 200
        out["tag"] = r.headers["ETag"]
        return r

    def get_plain() -> httpx.Response:
        r = plain.get("/api/v1/cases/open.geojson")
        assert r.status_code == 200
        return r

    def change_a_case() -> None:
        """A new version of one case (untimed): the next GET is the first reader after a
        change, which builds the body; the other GETs find it by its ETag."""
        conn.execute(CHANGE_ONE_CASE)
        conn.commit()

    def get304() -> httpx.Response:
        r = http.get("/api/v1/cases/open.geojson", headers={"If-None-Match": out["tag"]})
        if r.status_code == 200:
            # The clock moved a case across due_soon/overdue since the tag was read (the bulk
            # cases' deadlines fall on whole minutes after their insert): a new tag, rightly.
            out["tag"] = r.headers["ETag"]
            r = http.get("/api/v1/cases/open.geojson", headers={"If-None-Match": out["tag"]})
        assert r.status_code == 304, r.status_code
        return r

    paths = {"bare": bare, "service": service_call, "etag": etag_call, "http_changed": get}
    paths |= {"http": get, "http304": get304, "http_plain": get_plain}
    before = {"http_changed": change_a_case}
    times: dict[str, list[float]] = {k: [] for k in paths}
    try:
        for fn in paths.values():
            fn()  # warm-up
        out["features"] = len(get().json()["features"])
        for _ in range(rounds):
            for key, fn in paths.items():
                before.get(key, lambda: None)()
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
    finally:
        http.close()
        plain.close()
        conn.close()
    return {**out, **{k: statistics.median(v) * 1000 for k, v in times.items()}}


def bench_paired(
    port: int, engine, people: People, clients: int, per_client: int, statuses: Counter, kind: str
) -> dict[str, tuple[list[float], list[float]]]:
    """HTTP and in-process request by request: each client alternates one request over HTTP and
    the same call in-process (which goes first turns each time), so both see the same machine
    at the same moment (other load, WAL flushes, autovacuum). {path: (create latencies,
    transition latencies)}; at one client the ratio of mean latencies is the ratio of rates."""
    lat: dict[str, tuple[list[float], list[float]]] = {"HTTP": ([], []), "in-process": ([], [])}
    lock = threading.Lock()

    def client(i: int) -> list[float]:
        rng, me = random.Random(SEED + 200 + i), people.channels[i][0]
        who = {"grid": people.grid, "dispatcher": people.dispatcher}
        mine: dict[str, list[float]] = {"c HTTP": [], "c in": [], "t HTTP": [], "t in": []}
        cases: list[tuple[int, str, int]] = []  # (HTTP case, its ETag, in-process case)
        with http_client(kind, port) as http:

            def timed_call(key: str, fn: Callable[[], Any]) -> Any:
                t = time.perf_counter()
                out = fn()
                mine[key].append(time.perf_counter() - t)
                return out

            def create_http(k: int) -> tuple[int, str]:
                r = http.post(
                    "/api/v1/cases", json=body(rng, people.points, k), headers=people.channels[i][1]
                )
                statuses[r.status_code] += 1
                return r.json()["case"]["id"], r.headers["ETag"]

            def create_in(k: int) -> int:
                with Session(engine) as s:
                    apply_rls(s, me)
                    out = service.create_case(s, me, CaseCreate(**body(rng, people.points, k)))
                    s.commit()
                return out["case"]["id"]

            for k in range(per_client):
                if k % 2:
                    made_in = timed_call("c in", partial(create_in, k))
                    made_http = timed_call("c HTTP", partial(create_http, k))
                else:
                    made_http = timed_call("c HTTP", partial(create_http, k))
                    made_in = timed_call("c in", partial(create_in, k))
                cases.append((*made_http, made_in))

            tags = {h_case: tag for h_case, tag, _ in cases}

            def step_http(case_id: int, actor: str, step: dict) -> None:
                r = http.post(
                    f"/api/v1/cases/{case_id}/transitions",
                    json=step,
                    headers={**who[actor][1], "If-Match": tags[case_id]},
                )
                statuses[r.status_code] += 1
                tags[case_id] = r.headers.get("ETag", tags[case_id])

            def step_in(case_id: int, actor: str, step: dict) -> None:
                with Session(engine) as s:
                    apply_rls(s, who[actor][0])
                    service.transition(s, who[actor][0], case_id, TransitionRequest(**step))
                    s.commit()

            for k, (h_case, _, i_case) in enumerate(cases):
                for j, (actor, step) in enumerate(STEPS):
                    calls = [
                        ("t HTTP", partial(step_http, h_case, actor, step)),
                        ("t in", partial(step_in, i_case, actor, step)),
                    ]
                    for key, fn in calls if (k + j) % 2 == 0 else calls[::-1]:
                        timed_call(key, fn)
        with lock:
            lat["HTTP"][0].extend(mine["c HTTP"])
            lat["HTTP"][1].extend(mine["t HTTP"])
            lat["in-process"][0].extend(mine["c in"])
            lat["in-process"][1].extend(mine["t in"])
        return []

    run_clients(clients, client)
    return lat


def paired(engine, port: int, people: People, args: argparse.Namespace, statuses: Counter) -> None:
    """`bench_paired` at each client count, after a warm-up: mean and percentile latencies and
    the ratio of in-process's mean to HTTP's (HTTP's rate / in-process's), per kind, with the
    ratio of each half of the requests beside it (how much the run moved)."""
    run = partial(bench_paired, port, engine, people, statuses=statuses, kind=args.client)
    run(max(args.clients), 2)  # a connection per client, so that every worker warms up
    print(
        f"\nPaired, request by request ({args.client} client, {args.per_client} cases per client,"
        " each through the six steps)"
    )
    print(
        "| clients | kind | HTTP mean / p50 / p99 ms | in-process mean / p50 / p99 ms |"
        " HTTP / in-process | first half / second half |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for c in args.clients:
        lat = run(c, args.per_client)
        for k, kind in enumerate(("creates", "transitions")):
            h, i = lat["HTTP"][k], lat["in-process"][k]
            half_h, half_i = len(h) // 2, len(i) // 2
            halves = [
                statistics.mean(i[:half_i]) / statistics.mean(h[:half_h]),
                statistics.mean(i[half_i:]) / statistics.mean(h[half_h:]),
            ]
            print(
                f"| {c} | {kind} | {statistics.mean(h) * 1000:.1f} / {pct(h, 50):.1f} /"
                f" {pct(h, 99):.1f} | {statistics.mean(i) * 1000:.1f} / {pct(i, 50):.1f} /"
                f" {pct(i, 99):.1f} | **{statistics.mean(i) / statistics.mean(h):.2f}x** |"
                f" {halves[0]:.2f}x / {halves[1]:.2f}x |",
                flush=True,
            )


PATHS = ("HTTP", "in-process", "in-process, owner")


def throughput(
    engines: dict[str, Any], port: int, people: People, args: argparse.Namespace, statuses: Counter
) -> None:
    """HTTP against in-process at each client count, in --tp-rounds interleaved rounds (the
    order turns each round, so load from elsewhere falls on all alike) after one warm-up round
    of each; rates over all rounds, latency percentiles of all requests, and the ratios.

    `in-process` is the same service call as the API makes it (the application role, the
    caller's row-level-security settings); `in-process, owner` skips those rules (as_system on
    the owner's engine), so the rules' cost shows beside HTTP's."""
    app, owner = engines["app"], engines["owner"]
    runners = {
        "HTTP": partial(bench_http, port, people, statuses=statuses, kind=args.client),
        "in-process": partial(bench_inprocess, app, people),
        "in-process, owner": partial(bench_inprocess, owner, people, as_caller=False),
    }
    for run in runners.values():
        run(1, 3)
    print(
        "\n| clients | path | creates/s | create p50 / p99 ms | transitions/s |"
        " transition p50 / p99 ms |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    ratios = []
    for c in args.clients:
        got: dict[str, list[tuple[dict, dict]]] = {label: [] for label in PATHS}
        for r in range(args.tp_rounds):
            order = PATHS[r % 3 :] + PATHS[: r % 3]
            for label in order:
                got[label].append(runners[label](c, args.per_client))
        rate = {}
        for label, results in got.items():
            merged = []
            for k in (0, 1):
                n = sum(x[k]["n"] for x in results)
                seconds = sum(x[k]["seconds"] for x in results)
                merged.append((n / seconds, [v for x in results for v in x[k]["lat"]]))
            rate[label] = merged
            (cr, clat), (tr, tlat) = merged
            print(
                f"| {c} | {label} | {cr:.0f} | {pct(clat, 50):.1f} / {pct(clat, 99):.1f} |"
                f" {tr:.0f} | {pct(tlat, 50):.1f} / {pct(tlat, 99):.1f} |",
                flush=True,
            )
        ratios.append(
            (c, *(rate["HTTP"][k][0] / rate[base][k][0] for base in PATHS[1:] for k in (0, 1)))
        )
    print(
        f"\nHTTP / in-process ({args.client} client), {args.tp_rounds} interleaved rounds of"
        f" {args.per_client} per client"
    )
    print("| clients | creates | transitions | creates / owner | transitions / owner |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for c, cr, tr, cro, tro in ratios:
        print(f"| {c} | {cr:.2f}x | {tr:.2f}x | {cro:.2f}x | {tro:.2f}x |")


def main() -> None:
    load_models()  # every table the ORM may meet (an account refers to a service area)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--per-client", type=int, default=40)
    ap.add_argument("--open", type=int, default=10_000, help="0: skip the open-cases feed")
    ap.add_argument("--rounds", type=int, default=7, help="rounds of the GeoJSON paths")
    ap.add_argument("--tp-rounds", type=int, default=3, help="rounds of create and transition")
    ap.add_argument("--workers", type=int, default=1, help="the API's uvicorn workers")
    ap.add_argument("--client", choices=("lean", "httpx"), default="lean", help="HTTP client")
    ap.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument(
        "--paired", action="store_true", help="create and transition request by request"
    )
    ap.add_argument("--only-geojson", action="store_true", help="skip create and transition")
    args = ap.parse_args()
    if args.only_geojson:
        args.clients = []

    url = scratch_url("bench_cases")
    print(f"scratch database {url.database}: migrate and load the Yichun grid ...", flush=True)
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = create_engine(url, pool_size=max(args.clients, default=1) + 2, max_overflow=4)
    with Session(engine) as s:
        load_yichun(s)
        people = People(s, max(args.clients, default=1))
        s.commit()
    port = free_port(8766)
    # the server's request log (a line per request) is written, not printed between the tables
    server = serve(url, port, workers=args.workers, server=args.server, stderr=subprocess.DEVNULL)
    try:
        statuses: Counter = Counter()
        if args.clients:
            engines = {
                "app": app_engine(url.render_as_string(hide_password=False)),
                "owner": engine,
            }
            if args.paired:
                paired(engines["app"], port, people, args, statuses)
            else:
                throughput(engines, port, people, args, statuses)
            print(f"HTTP statuses: {dict(statuses)}")
        if not args.open:
            return

        print(f"\nbulk-inserting {args.open:,} open cases ...", flush=True)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE cases SET status = 'closed', resolved_at = now(),"
                    " closed_at = now() WHERE status NOT IN ('closed', 'cancelled')"
                )
            )
        bulk_open_cases(engine, args.open)
        plain_port = free_port(port + 1)
        plain = serve(url, plain_port, stderr=subprocess.DEVNULL, settings=NO_FEATURES_KEPT)
        try:
            g = bench_geojson(engine, url, port, plain_port, people, args.rounds)
        finally:
            plain.terminate()
            plain.wait(10)
        print(f"\nopen cases: {g['features']:,} features, {g['bytes'] / 1e6:.1f} MB of GeoJSON")
        print(f"medians of {args.rounds} interleaved rounds")
        print("| what | median ms | / bare SQL |")
        print("| --- | ---: | ---: |")
        for key, label in (
            ("bare", "bare SQL (psycopg, rows)"),
            ("service", "feed.open_cases_json (built in SQL)"),
            ("http_plain", "GET open.geojson (200), no Features kept (FEED_CACHE_MB=0)"),
            ("http_changed", "GET open.geojson (200), first reader after a change"),
            ("http", "GET open.geojson (200), another reader, unchanged"),
            ("etag", "ETag only (feed.open_etag)"),
            ("http304", "GET open.geojson, If-None-Match (304)"),
        ):
            print(f"| {label} | {g[key]:.1f} | {g[key] / g['bare']:.2f} |")
    finally:
        server.terminate()
        server.wait(10)
        engine.dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
