"""Presence kept current: the cost of one intake change's incremental refresh beside a full
rebuild, at the demo's scale and at 10x, and that after the changes both give the same tables.

Runs on a scratch database `<DATABASE_URL's name>_bench_presence` (created, migrated to head,
the Yichun grid loaded, dropped at the end unless --keep). Stays are written in one statement
(`--stays` per scale, spread over every cell and seasons 2021-2026; ages and origins drawn from
a fixed seed), then `--changes` random intake changes (tests/planning/world.py: new stays and
archives, reports moving the last sign of a stay, departures, expected departures, moves,
deletions, merges, birth years, origins, purges, batch updates), each its own statement(s) and
its trigger's refresh, timed one by one. Baseline in the same run: `presence_rebuild()`, the
full recomputation from every stay. Prints per scale: stays, changes/s, p50/p99 per change,
rebuild seconds, and the ratio of one change's cost to a rebuild.

    .venv/bin/python bench/presence_refresh.py [--stays 36000] [--changes 10000] [--scales 1 10]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import drop_database, recreate_database, scratch_url  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.core.clock import install_city_zone  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from tests.planning import world  # noqa: E402


def run_scale(engine, stays: int, changes: int, seed: int) -> dict[str, float]:  # noqa: ANN001
    with Session(engine) as s:
        s.execute(text("SELECT setseed(0.42)"))
        t0 = time.perf_counter()
        s.execute(world.POPULATE, {"n": stays})
        s.commit()
        populate = time.perf_counter() - t0
        rng = random.Random(seed)
        each = []
        for _ in range(changes):
            t = time.perf_counter()
            world.change(s, rng)
            s.flush()
            each.append(time.perf_counter() - t)
        s.commit()
        incremental = world.snapshot(s)
        t0 = time.perf_counter()
        s.execute(text("SELECT presence_rebuild()"))
        rebuild = time.perf_counter() - t0
        same = world.snapshot(s) == incremental
    per = np.array(each)
    return {
        "stays": stays,
        "populate_s": populate,
        "changes": changes,
        "per_change_p50_ms": float(np.median(per) * 1000),
        "per_change_p99_ms": float(np.percentile(per, 99) * 1000),
        "changes_per_s": changes / float(per.sum()),
        "rebuild_s": rebuild,
        "ratio": float(per.mean()) / rebuild,
        "same": same,
    }


def empty(engine) -> None:  # noqa: ANN001
    """The next scale starts without stays (the truncate trigger empties the presence tables)."""
    with Session(engine) as s:
        s.execute(text("TRUNCATE stay"))  # not CASCADE: the case logs refuse TRUNCATE
        s.execute(text("DELETE FROM resident"))
        s.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stays", type=int, default=36000, help="at scale 1 (6 seasons x 6,000)")
    ap.add_argument("--changes", type=int, default=10000)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()
    url = scratch_url("bench_presence")
    print(f"scratch database {url.database}: migrate and load the Yichun grid ...", flush=True)
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = install_city_zone(create_engine(url))
    try:
        with Session(engine) as s:
            load_yichun(s)
            s.commit()
        for scale in args.scales:
            r = run_scale(engine, args.stays * scale, args.changes, args.seed)
            print(
                f"scale {scale}x: {r['stays']:,} stays written in {r['populate_s']:.1f} s"
                f" (one statement, refreshed by its trigger); {r['changes']:,} changes:"
                f" {r['changes_per_s']:.0f}/s, p50 {r['per_change_p50_ms']:.1f} ms,"
                f" p99 {r['per_change_p99_ms']:.1f} ms; full rebuild {r['rebuild_s']:.1f} s;"
                f" one change / rebuild = {r['ratio']:.5f}; incremental == rebuild: {r['same']}",
                flush=True,
            )
            empty(engine)
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
