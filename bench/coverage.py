"""Walking coverage for the whole city: network walks (pgRouting) beside the straight-line
estimate measured in the same run, at the demo's scale and at 10x the residents.

Runs on a scratch database `<DATABASE_URL's name>_bench_coverage` (created, migrated to head,
the Yichun grid and its walking network loaded, dropped at the end unless --keep). Residents
and their stays are written in one statement (tests/planning/world.py's POPULATE, spread over
every cell and seasons 2021-2026). Per scale: the season's coverage (every cell, both targets,
the protected table) by the network and, with the network set inactive, by the estimate (the
baseline); then candidate sites (maximal covering). Prints seconds and network / estimate.

    .venv/bin/python bench/coverage.py [--residents 36000] [--scales 1 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import drop_database, recreate_database, scratch_url  # noqa: E402
from geo.access.principal import Principal, as_system  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.core.clock import install_city_zone  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.models import load_models  # noqa: E402
from geo.planning import coverage, sites  # noqa: E402
from geo.privacy.windows import Window  # noqa: E402
from tests.planning import world  # noqa: E402

SEASON = 2025
ME = Principal.system("bench")


def _best(session: Session, repeat: int, run) -> tuple[float, dict]:  # noqa: ANN001
    best, out = float("inf"), {}
    for _ in range(repeat):
        t = time.perf_counter()
        out = run(session)
        best = min(best, time.perf_counter() - t)
    return best, out


def run_scale(engine, residents: int, repeat: int) -> dict[str, float]:  # noqa: ANN001
    with Session(engine) as s:
        s.execute(text("SELECT setseed(0.42)"))
        s.execute(world.POPULATE, {"n": residents})
        s.commit()
        as_system(s, ME.name)
        network, out = _best(s, repeat, lambda s: coverage.coverage(s, ME, Window(SEASON)))
        site_s, _ = _best(s, 1, lambda s: sites.candidate_sites(s, ME, Window(SEASON)))
        s.execute(text("UPDATE road_network SET active = false"))
        estimate, est = _best(s, repeat, lambda s: coverage.coverage(s, ME, Window(SEASON)))
        s.rollback()
    assert out["method"] == "network" and est["method"] == "estimate"
    return {
        "residents": residents,
        "cells": len(out["cells"]),
        "network_s": network,
        "estimate_s": estimate,
        "sites_s": site_s,
        "ratio": network / estimate,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=36000, help="at scale 1 (6 seasons)")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()
    load_models()
    url = scratch_url("bench_coverage")
    print(f"scratch database {url.database}: migrate and load the Yichun grid ...", flush=True)
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = install_city_zone(create_engine(url))
    try:
        with Session(engine) as s:
            load_yichun(s)
            s.commit()
        for scale in args.scales:
            r = run_scale(engine, args.residents * scale, args.repeat)
            print(
                f"scale {scale}x: {r['residents']:,} residents, {r['cells']:,} cells:"
                f" coverage by the network {r['network_s']:.2f} s, by the estimate"
                f" {r['estimate_s']:.2f} s (network / estimate = {r['ratio']:.1f});"
                f" candidate sites {r['sites_s']:.2f} s",
                flush=True,
            )
            with Session(engine) as s:
                s.execute(text("TRUNCATE stay"))
                s.execute(text("DELETE FROM resident"))
                s.commit()
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
