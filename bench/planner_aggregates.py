"""What complementary suppression costs the planner: each planner answer against the same
figures unprotected, in the same run, on the loaded demo database (read-only transaction).

- KPIs by community for a season: the planner's protected table (first answer, nothing cached;
  then a month of it, cached) against the dispatcher's exact KPIs of the same season.
- Flows + origins and density for a season: the protected answers against the bare counts
  they read (`resident_flows`, `resident_origins`; density: the season's `presence_month` rows,
  twelve monthly presence tables protected with every level, bands and origins).

    DATABASE_URL=... .venv/bin/python bench/planner_aggregates.py [--seasons 2024 2025]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases import kpis
from geo.core.db import get_engine
from geo.planning import aggregates
from geo.privacy.suppression import hidden_cells
from geo.privacy.windows import Window

PLANNER = Principal(role="planner", name="bench")
DISPATCHER = Principal(role="dispatcher", name="bench")


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        hidden_cells.cache_clear()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(label: str, protected: float, baseline: float) -> None:
    ratio = protected / baseline
    print(f"{label:<44} {protected * 1e3:9.0f} ms {baseline * 1e3:9.0f} ms {ratio:7.1f}x")


def bare(s: Session, function: str, season: int) -> list:
    sql = text(f"SELECT * FROM {function}(:a, :b)")  # a constant of this script
    return list(s.execute(sql, {"a": season - 1, "b": season + 1}).all())


def season_rows(s: Session, season: int) -> None:
    window, by = Window(season), ["community"]
    exact = timed(lambda: kpis.kpis(s, DISPATCHER, group_by=by, season=season))
    planner = timed(lambda: kpis.kpis(s, PLANNER, group_by=by, season=season))
    row(f"{season} KPIs by community (vs exact)", planner, exact)
    kpis.kpis(s, PLANNER, group_by=by, season=season)  # fill the cache
    start = time.perf_counter()
    kpis.kpis(s, PLANNER, group_by=by, month=f"{season}-07")
    row(f"{season} KPIs, a month of it (cached)", time.perf_counter() - start, exact)
    raw = timed(lambda: (bare(s, "resident_flows", season), bare(s, "resident_origins", season)))
    both = timed(
        lambda: (aggregates.flows(s, PLANNER, window), aggregates.origins(s, PLANNER, window))
    )
    row(f"{season} flows + origins (vs bare functions)", both, raw)
    months = text(
        "SELECT * FROM presence_month WHERE month BETWEEN make_date(:s, 5, 1)"
        " AND make_date(:s + 1, 4, 1)"
    )
    raw = timed(lambda: s.execute(months, {"s": season}).all())
    row(
        f"{season} density (vs bare presence_month)",
        timed(lambda: aggregates.density(s, PLANNER, window)),
        raw,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seasons", type=int, nargs="+", default=[2024, 2025])
    args = parser.parse_args()
    with Session(get_engine()) as s:
        s.execute(text("SET TRANSACTION READ ONLY"))
        print(f"{'answer':<44} {'protected':>12} {'baseline':>12} {'ratio':>8}")
        for season in args.seasons:
            season_rows(s, season)
        s.rollback()


if __name__ == "__main__":
    main()
