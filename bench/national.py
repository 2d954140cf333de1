"""National scale on one machine: the served and scheduled paths measured on `houniao load
synthetic` worlds at fractions of the issue's national command (100,000 cells, 1,000,000
residents, 10,000,000 stays, 1,000,000 open cases), each figure printed beside the smaller
scale's with the log-log slope between them (1.0 = linear in the world's size).

Each scale lives on its own database `houniao_national_<n>` (1/n of national), made with the
real `houniao load synthetic` command unless it exists and `--reuse` is given; dropped at the
end unless `--keep`. Writes (escalation, rebuilds, intake) run in transactions rolled back.

    .venv/bin/python bench/national.py --scales 1000 100 10 [1] [--reuse] [--keep] [--walk]
        [--only density] [--density-baseline]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from bench.scratch import ROOT, drop_database, scratch_url
from geo.access.principal import Principal, Role, as_system
from geo.cases import clock as case_clock
from geo.cases import clusters, feed
from geo.core.clock import install_city_zone
from geo.core.db import HIDE_PARAMETERS, connect_args
from geo.models import load_models
from geo.planning import presence
from geo.planning.density_table import density_table
from geo.privacy import suppression
from geo.spatial.batch import CellIndex
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.features import tiles
from geo.spatial.locate import LOCATE_SQL
from geo.spatial.locate_memory import LocateCache

NATIONAL = {"cells": 100_000, "residents": 1_000_000, "stays": 10_000_000, "open_cases": 1_000_000}
AS_OF = date(2026, 11, 30)
SEASON = 2026


def world_url(n: int) -> URL:
    return scratch_url("national").set(database=f"houniao_national_{n}")


def generate(n: int) -> dict[str, Any]:
    """`houniao load synthetic` at 1/n of national, through the real command."""
    sizes = [f"--{k.replace('_', '-')}={v // n}" for k, v in NATIONAL.items()]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from api.cli import app; app()", "load", "synthetic", *sizes,
         f"--as-of={AS_OF}", f"--database=houniao_national_{n}", "--replace"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True,
    )  # fmt: skip
    out: dict[str, Any] = json.loads(done.stdout)
    out["wall_seconds"] = round(time.monotonic() - started, 1)
    return out


def exists(url: URL) -> bool:
    admin = create_engine(url.set(database="postgres"), **HIDE_PARAMETERS)
    try:
        with admin.connect() as conn:
            return bool(
                conn.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
                )
            )
    finally:
        admin.dispose()


@contextmanager
def rolled_back(engine: Any) -> Iterator[Session]:
    with Session(engine) as session:
        try:
            yield session
        finally:
            session.rollback()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def sample_points(session: Session, k: int, seed: int) -> np.ndarray:
    """k points, each inside a random cell of the active release (seeded)."""
    session.execute(text("SELECT setseed(0.5)"))
    rows = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT"
            " ST_GeometryN(ST_GeneratePoints(geom, 1, (:seed + i)::int), 1) AS p"
            " FROM (SELECT geom, row_number() OVER () AS i FROM grid_cell"
            f" WHERE {in_release('grid_cell')} ORDER BY random() LIMIT :k) g) s"
        ),
        {"k": k, "seed": seed, "rid": resolve_release(session, None)},
    ).all()
    return np.array(rows, dtype=np.float64)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def walk_sql() -> str:
    """0011presence's spans and rebuild, as 0019spans' downgrade keeps them."""
    path = ROOT / "migrations" / "versions" / "2026-12-01_0019spans_presence_spans_from_dates.py"
    spec = importlib.util.spec_from_file_location("rev_0019spans", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FUNCTIONS_DOWN)


def measure_presence(engine: Any, walk: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    with rolled_back(engine) as s:
        out["presence_rebuild_s"] = timed(lambda: s.execute(text("SELECT presence_rebuild()")))[0]
    if walk:  # 0011presence's day-by-day walk, on the same rows (frozen in 0019spans' downgrade)
        with rolled_back(engine) as s:
            s.execute(text(walk_sql()))
            out["presence_walk_s"] = timed(lambda: s.execute(text("SELECT presence_rebuild()")))[0]
    return out


def per_call_ms(call: Callable[[float, float], Any], points: np.ndarray) -> list[float]:
    ms = []
    for lon, lat in points:
        t = time.perf_counter()
        call(float(lon), float(lat))
        ms.append((time.perf_counter() - t) * 1000)
    return ms


def measure_locate(engine: Any, points: np.ndarray) -> dict[str, float]:
    """Point -> cell with its details, one caller: from memory (the API's path) and by
    LOCATE_SQL. Throughput is calls over the summed time of the best of three rounds (the
    machine is shared: a round can lose tens of milliseconds to other processes)."""
    out: dict[str, float] = {}
    with rolled_back(engine) as s:
        cache = LocateCache()
        cache.set_live(True)
        out["locate_cache_load_s"] = timed(lambda: cache.load(s))[0]
        rid = resolve_release(s, None)
        paths: dict[str, tuple[Callable[[float, float], Any], np.ndarray]] = {
            "memory": (cache.lookup, points),
            "sql": (
                lambda lon, lat: s.execute(
                    LOCATE_SQL, {"lon": lon, "lat": lat, "rid": rid}
                ).first(),
                points[:1000],
            ),
        }
        for path, (call, where) in paths.items():
            rounds = [per_call_ms(call, where) for _ in range(3)]
            best = min(rounds, key=sum)
            out[f"locate_{path}_p50_ms"] = pct(best, 50)
            out[f"locate_{path}_p99_ms"] = pct(best, 99)
            out[f"locate_{path}_per_s"] = len(best) / (sum(best) / 1000)
    return out


def measure_batch(engine: Any, n_points: int) -> dict[str, float]:
    with rolled_back(engine) as s:
        build, index = timed(lambda: CellIndex.from_session(s))
        bounds = s.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
                 f" (SELECT ST_Extent(geom) e FROM grid_cell WHERE {in_release('grid_cell')}) x"),
            {"rid": resolve_release(s, None)},
        ).one()  # fmt: skip
    rng = np.random.default_rng(20261201)
    lon = rng.uniform(bounds[0], bounds[2], n_points)
    lat = rng.uniform(bounds[1], bounds[3], n_points)
    assign, idx = timed(lambda: index.assign_index(lon, lat))
    return {
        "batch_index_build_s": build,
        "batch_points": n_points,
        "batch_assign_s": assign,
        "batch_points_per_s": n_points / assign,
        "batch_inside_share": float((idx >= 0).mean()),
    }


def measure_tiles(engine: Any, points: np.ndarray, per_layer: int) -> dict[str, float]:
    out: dict[str, float] = {}
    dispatcher = Principal(role=Role.dispatcher, name="bench")
    with rolled_back(engine) as s:
        case_points = s.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM cases TABLESAMPLE SYSTEM (5) LIMIT :k"),
            {"k": per_layer},
        ).all()
        for layer, where in (("cells", points[:per_layer]), ("open_cases", case_points)):
            for z in (12, 15):
                ms, sizes = [], []
                for lon, lat in where:
                    x, y = tile_of(float(lon), float(lat), z)
                    t = time.perf_counter()
                    data = tiles.tile(s, layer, z, x, y, viewer=dispatcher)
                    ms.append((time.perf_counter() - t) * 1000)
                    sizes.append(len(data))
                out[f"tile_{layer}_z{z}_p50_ms"] = pct(ms, 50)
                out[f"tile_{layer}_z{z}_p99_ms"] = pct(ms, 99)
                out[f"tile_{layer}_z{z}_kb"] = statistics.mean(sizes) / 1024
    return out


def measure_views(engine: Any, full_province: bool) -> dict[str, float]:
    """The dispatcher's open cases: a street as its staff's feed (a marker per case); a district
    (the map framed on it, z10) and the province (z6) as clusters; the province's whole feed
    (what the map would load without clusters) where asked."""
    out: dict[str, float] = {}
    dispatcher = Principal(role=Role.dispatcher, name="bench")
    with rolled_back(engine) as s:
        street = s.scalar(
            text("SELECT street_code FROM cases GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        )
        district = s.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT"
                " ST_Extent(geom) e FROM cases WHERE left(street_code, 6) = (SELECT"
                " left(street_code, 6) FROM cases GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)) x"
            )
        ).one()
        views: dict[str, Callable[[], bytes]] = {
            "street_feed": lambda: feed.open_cases_json_etag(
                s, Principal(role=Role.street_staff, name="bench", street=street)
            )[0],
            "district_clusters_z10": lambda: clusters.open_case_clusters_json(
                s, dispatcher, zoom=10, bbox=tuple(district)
            ),
            "province_clusters_z6": lambda: clusters.open_case_clusters_json(s, dispatcher, zoom=6),
        }
        if full_province:
            views["province_feed"] = lambda: feed.open_cases_json_etag(s, dispatcher)[0]
        for view, fetch in views.items():
            ms = []
            for _ in range(3):
                t = time.perf_counter()
                body = fetch()
                ms.append((time.perf_counter() - t) * 1000)
            out[f"view_{view}_ms"] = statistics.median(ms)
            out[f"view_{view}_kb"] = len(body) / 1024
            out[f"view_{view}_features"] = body.count(b'"type":"Feature"')
    return out


def measure_density(engine: Any, dense_baseline: bool) -> dict[str, float]:
    """The planners' season table; with `dense_baseline`, also with every component's algebra
    dense (suppression's `_SparseAlgebra` off: cubic in a component's sums) and the ratio."""
    planner = Principal(role=Role.planner, name="bench")
    out: dict[str, float] = {}
    runs = [("density_season_s", None)]
    if dense_baseline:
        runs.insert(0, ("density_dense_s", math.inf))
    for figure, sparse_from in runs:
        before = suppression._SPARSE_FROM
        suppression._SPARSE_FROM = sparse_from or before
        try:
            with rolled_back(engine) as s:
                out[figure], table = timed(lambda: density_table(s, planner, SEASON))
        finally:
            suppression._SPARSE_FROM = before
        presence._cut_of.cache_clear()  # each run protects its tables anew
        suppression.hidden_cells.cache_clear()
    if dense_baseline:
        out["density_dense_over_sparse"] = out["density_dense_s"] / out["density_season_s"]
    return {**out, "density_rows": len(table.rows)}


def measure_escalation(engine: Any) -> dict[str, float]:
    """One escalate-overdue pass over every open case: the backlog the synthetic world starts
    with (every tier limit passed since it was generated), then the next minute's pass."""
    from datetime import UTC, datetime, timedelta

    at = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 12, tzinfo=UTC)
    with rolled_back(engine) as s:
        backlog, rows = timed(lambda: case_clock.escalate_overdue(s, now=at))
        s.flush()
        later = at + timedelta(minutes=1)
        steady, again = timed(lambda: case_clock.escalate_overdue(s, now=later))
        open_cases = s.scalar(text("SELECT count(*) FROM cases WHERE resolved_at IS NULL"))
    return {
        "escalate_backlog_s": backlog,
        "escalated": len(rows),
        "escalate_next_minute_s": steady,
        "escalated_next_minute": len(again),
        "escalate_open_cases": open_cases,
    }


def measure_intake(engine: Any, points: np.ndarray, n: int) -> dict[str, float]:
    """n police reports (name, mobile, birth year, a point in a cell) through the real intake
    (`submissions.submit`: check, place, link, write reports, archives and stays, presence by
    the triggers), one transaction rolled back; the index of cells built beforehand, as a
    running server holds it."""
    from geo.core import clock
    from geo.residents.intake import submissions
    from geo.residents.intake.records import MAX_BATCH

    rng = random.Random(n)
    surnames, given = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨", ["秀英", "桂兰", "建国", "志强", "海涛"]
    reports = [
        {
            "external_id": f"national-{i}",
            "name": rng.choice(surnames) + rng.choice(given) + rng.choice("明华丽军平"),
            "phone": f"139{rng.randrange(10**8):08d}",
            "birth_year": 1940 + rng.randrange(30),
            "lon": float(points[i % len(points), 0]),
            "lat": float(points[i % len(points), 1]),
        }
        for i in range(n)
    ]
    me = Principal.system("bench-national")

    def submit_all() -> None:  # in batches of the API's largest request
        for start in range(0, n, MAX_BATCH):
            batch = reports[start : start + MAX_BATCH]
            submissions.submit(s, me, batch, channel="police", crs="wgs84", received_at=clock.now())
            print(f"  intake: {start + len(batch):,} of {n:,}", file=sys.stderr, flush=True)

    with rolled_back(engine) as s:
        as_system(s, "intake")
        CellIndex.of_release(s)
        secs = timed(submit_all)[0]
    return {"intake_reports": n, "intake_s": secs, "intake_per_s": n / secs}


def measure_vacuum(url: URL) -> dict[str, float]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT", **HIDE_PARAMETERS)
    try:
        with engine.connect() as conn:
            secs = timed(lambda: conn.execute(text("VACUUM ANALYZE")))[0]
            sizes = conn.execute(
                text(
                    "SELECT relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c"
                    " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
                    " ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 8"
                )
            ).all()
            total = conn.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        engine.dispose()
    out: dict[str, float] = {"vacuum_analyze_s": secs, "database_mb": total / 1e6}
    for name, table, index in sizes:
        out[f"size_{name}_table_mb"] = table / 1e6
        out[f"size_{name}_index_mb"] = index / 1e6
    return out


def run_scale(n: int, args: argparse.Namespace) -> dict[str, Any]:
    url = world_url(n)
    result: dict[str, Any] = {"n": n, "load_before": os.getloadavg()[0]}
    if not (args.reuse and exists(url)):
        result["generated"] = generate(n)
    engine = install_city_zone(create_engine(url, connect_args=connect_args(), **HIDE_PARAMETERS))
    try:
        with rolled_back(engine) as s:
            points = sample_points(s, 5000, 20261201)
            result["cells"] = s.scalar(text("SELECT count(*) FROM grid_cell"))
        measures: dict[str, Callable[[], dict[str, Any]]] = {
            "presence": lambda: measure_presence(engine, args.walk),
            "locate": lambda: measure_locate(engine, points),
            "batch": lambda: measure_batch(engine, args.batch_points),
            "tiles": lambda: measure_tiles(engine, points, args.tiles),
            "views": lambda: measure_views(engine, n >= args.province_feed_from),
            "density": lambda: measure_density(engine, args.density_baseline),
            "escalation": lambda: measure_escalation(engine),
            "intake": lambda: measure_intake(engine, points, args.intake),
            "vacuum": lambda: measure_vacuum(url),
        }
        m = result.setdefault("m", {})
        for name, measure in measures.items():
            if not args.only or name in args.only:
                m.update(measure())
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)
    result["load_after"] = os.getloadavg()[0]
    return result


def report(runs: list[dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for r in runs for k in r["m"]))
    head = " | ".join(f"1/{r['n']}" for r in runs)
    print(f"\n| figure | {head} | slope (last two) |")
    for k in keys:
        vals = [r["m"].get(k) for r in runs]
        slope = ""
        if len(runs) >= 2 and all(isinstance(v, (int, float)) and v > 0 for v in vals[-2:]):
            a, b = vals[-2], vals[-1]
            slope = f"{math.log(b / a) / math.log(runs[-2]['n'] / runs[-1]['n']):.2f}"
        cells = " | ".join(
            "" if v is None else f"{v:,.3g}" if v < 100 else f"{v:,.0f}" for v in vals
        )
        print(f"| {k} | {cells} | {slope} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1000, 100])
    parser.add_argument("--reuse", action="store_true", help="measure existing databases")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--walk", action="store_true", help="also 0011presence's walk")
    parser.add_argument("--batch-points", type=int, default=1_000_000)
    parser.add_argument("--tiles", type=int, default=100, help="tiles per layer and zoom")
    parser.add_argument(
        "--province-feed-from", type=int, default=10, help="the whole feed only at 1/n >= this"
    )
    parser.add_argument("--intake", type=int, default=2000, help="reports through the intake")
    parser.add_argument("--only", nargs="+", help="these measures only (presence, locate, ...)")
    parser.add_argument("--json", help="write every figure here too")
    parser.add_argument(
        "--density-baseline", action="store_true", help="density with dense algebra too (slow)"
    )
    args = parser.parse_args()
    load_models()
    random.seed(20261201)
    runs = []
    for n in sorted(args.scales, reverse=True):
        r = run_scale(n, args)
        runs.append(r)
        print(f"1/{n}: load {r['load_before']:.1f} -> {r['load_after']:.1f}", flush=True)
        print(json.dumps(r, default=str), flush=True)
    report(runs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1, default=str)


if __name__ == "__main__":
    main()
