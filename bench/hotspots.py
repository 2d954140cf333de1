"""Hot spots of cases for the demo city: Getis-Ord Gi* per cell (geo/planning/hotspots.py) beside
its own count query measured in the same run.

Runs on a loaded demo database (`houniao load yichun`; DATABASE_URL, or --url), read only. Per
case category (and all categories): the count of cases per cell alone (the baseline: one
aggregate over `case_kpi_facts()`, best of --repeat), the cells' queen contiguity from PostGIS
(best of --repeat), the statistic (esda G_Local, 9,999 permutations, fresh: its cache emptied;
once), the whole answer fresh (once) and again from the cache (best of --repeat). Prints
seconds and each as a ratio to the count query, and the first import of esda and libpysal,
which a server process pays once.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/houniao .venv/bin/python bench/hotspots.py \
        [--season 2026] [--repeat 3] [--permutations 9999] [--categories medical tourism]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.access.principal import Principal, as_system  # noqa: E402
from geo.core.clock import install_city_zone  # noqa: E402
from geo.models import load_models  # noqa: E402
from geo.planning import hotspots  # noqa: E402
from geo.privacy.windows import Window  # noqa: E402

ME = Principal.system("bench")


def _best(repeat: int, run: Callable[[], Any], before: Callable[[], None] = lambda: None) -> float:
    best = float("inf")
    for _ in range(repeat):
        before()
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return best


def measure(s: Session, window: Window, category: str | None, repeat: int, perms: int) -> dict:
    fresh = hotspots._gi_star.cache_clear
    counts = _best(repeat, lambda: hotspots.case_counts(s, ME, window, category))
    cells = hotspots.cell_codes(s, ME)
    contiguity = _best(repeat, lambda: hotspots.neighbours(s, ME))
    adjacency = hotspots.neighbours(s, ME)
    found = hotspots.case_counts(s, ME, window, category)
    import numpy as np

    y = np.array([found.get(c, 0) for c in cells], dtype=float)
    statistic = _best(repeat, lambda: hotspots.gi_star(y, adjacency, cells, perms), fresh)
    whole = _best(repeat, lambda: hotspots.hotspots(s, ME, window, category, perms), fresh)
    cached = _best(repeat, lambda: hotspots.hotspots(s, ME, window, category, perms))
    out = hotspots.hotspots(s, ME, window, category, perms)
    return {
        "category": category or "(all)",
        "cells": len(cells),
        "cases": out["cases"],
        "hot": out["summary"]["hot"],
        "cold": out["summary"]["cold"],
        "counts_s": counts,
        "contiguity_s": contiguity,
        "statistic_s": statistic,
        "whole_s": whole,
        "cached_s": cached,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=os.environ.get("DATABASE_URL", ""))
    ap.add_argument("--season", type=int, default=2026)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--permutations", type=int, default=hotspots.PERMUTATIONS)
    ap.add_argument("--categories", nargs="*", default=[], help="besides all categories")
    args = ap.parse_args()
    load_models()
    t = time.perf_counter()
    import esda  # noqa: F401
    import libpysal  # noqa: F401

    first_import = time.perf_counter() - t
    engine = create_engine(args.url)
    install_city_zone(engine)
    rows = []
    with Session(engine) as s:
        as_system(s, ME.name)
        for category in [None, *args.categories]:
            rows.append(measure(s, Window(args.season), category, args.repeat, args.permutations))
        s.rollback()
    print(f"season {args.season}, {args.permutations} permutations, best of {args.repeat}")
    print(f"first import of esda + libpysal (once per process): {first_import:.2f} s")
    print(
        "| category | cells | cases | hot | cold | count query (baseline) | contiguity |"
        " Gi* + permutations | whole, fresh | whole, cached |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        base = r["counts_s"]

        def cell(key: str, base: float = base, r: dict = r) -> str:
            return f"{r[key]:.3f} s ({r[key] / base:.1f}x)"

        print(
            f"| {r['category']} | {r['cells']} | {r['cases']} | {r['hot']} | {r['cold']} |"
            f" {base:.3f} s | {cell('contiguity_s')} | {cell('statistic_s')} |"
            f" {cell('whole_s')} | {cell('cached_s')} |"
        )


if __name__ == "__main__":
    main()
