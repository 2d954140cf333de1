"""`houniao load synthetic` at fractions of national scale: seconds and rows/s per step, the
database's size, and a projection to national scale (100,000 cells, 1,000,000 residents,
10,000,000 stays, 1,000,000 open cases) along each step's log-log slope between the two largest
fractions run. Each fraction on its own scratch database `houniao_synthetic_<1/fraction>`,
dropped afterwards unless --keep.

    .venv/bin/python bench/synthetic.py --fractions 0.001 0.01 [0.1]
"""

from __future__ import annotations

import argparse
import math
import os
from datetime import date

from bench.scratch import drop_database, scratch_url
from geo.demo import synthetic
from geo.models import load_models

NATIONAL = {"cells": 100_000, "residents": 1_000_000, "stays": 10_000_000, "open_cases": 1_000_000}
STEPS = (
    "migrate",
    "grid_generated",
    "boundaries",
    "workers_and_areas",
    "residents_and_stays",
    "presence_rebuild",
    "cases_and_events",
    "analyze",
)


def run_fraction(fraction: float, seed: int, as_of: date, keep: bool) -> dict:
    spec = synthetic.Spec(
        **{k: max(1, round(v * fraction)) for k, v in NATIONAL.items()}, seed=seed, as_of=as_of
    )
    url = scratch_url("synthetic").set(database=f"houniao_synthetic_{round(1 / fraction)}")
    load = os.getloadavg()[0]
    try:
        synthetic.prepare(url, replace=True)
        result = synthetic.run(spec, url)
    finally:
        if not keep:
            drop_database(url)
    result["load_before"] = round(load, 1)
    result["load_after"] = round(os.getloadavg()[0], 1)
    result["fraction"] = fraction
    return result


def project(a: dict, b: dict) -> dict[str, float]:
    """Seconds per step at national scale along the log-log slope from run `a` to run `b`
    (total against the fraction), with the slope."""
    out = {}
    for step in (*STEPS, "total"):
        ta = a["total_seconds"] if step == "total" else a["steps"][step]["seconds"]
        tb = b["total_seconds"] if step == "total" else b["steps"][step]["seconds"]
        if not ta or not tb:
            continue
        slope = math.log(tb / ta) / math.log(b["fraction"] / a["fraction"])
        out[step] = round(tb * (1 / b["fraction"]) ** slope, 1)
        out[f"{step}_slope"] = round(slope, 2)
    size_slope = math.log(b["database_bytes"] / a["database_bytes"]) / math.log(
        b["fraction"] / a["fraction"]
    )
    out["database_gb"] = round(b["database_bytes"] * (1 / b["fraction"]) ** size_slope / 1e9, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.001, 0.01])
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--as-of", default="2026-11-30")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    load_models()
    runs = []
    for fraction in sorted(args.fractions):
        r = run_fraction(fraction, args.seed, date.fromisoformat(args.as_of), args.keep)
        runs.append(r)
        print(f"\n1/{round(1 / fraction)} of national: {r['counts']}")
        print(f"  load average before {r['load_before']}, after {r['load_after']}")
        for step, m in r["steps"].items():
            print(
                f"  {step:20} {m['seconds']:8.1f} s  {m['rows']:>11,} rows"
                f"  {m['rows_per_second']:>9,} rows/s"
            )
        print(f"  total {r['total_seconds']:.1f} s, database {r['database_bytes'] / 1e6:,.0f} MB")
    if len(runs) >= 2:
        p = project(runs[-2], runs[-1])
        print("\nprojection to national scale (log-log slope of the two largest runs):")
        for step in (*STEPS, "total"):
            if step in p:
                print(f"  {step:18} {p[step]:10,.0f} s  (slope {p[f'{step}_slope']})")
        print(f"  database           {p['database_gb']:10,.1f} GB")


if __name__ == "__main__":
    main()
