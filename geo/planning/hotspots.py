"""Hot spots of cases: where cases of a category cluster in a season (Getis-Ord Gi*, PySAL esda).

For one window (a season, or a month of it; geo.privacy.windows) and optionally one case
category, over the cells of the active boundary release in the caller's area:

- counts: cases reported in the window per cell, cancelled ones (duplicates, invalid) left out,
  counted in PostgreSQL from the owner-defined `case_kpi_facts()` (codes and timestamps, no
  person), limited to the caller's area in the query (`_scoped`); a case counts in the cell it
  was placed in when filed, so cells retired by a later release drop out;
- weights: queen contiguity of the cell polygons (cells sharing an edge or a corner), found in
  PostGIS (`ST_DWithin` at 1e-7 degrees, about 1 cm, so an imported grid whose neighbours' vertices
  differ in the last digits still touches), binary, handed to libpysal as a `W`; a cell with no
  neighbour (an island) is compared on its own count;
- statistic: `esda.G_Local(y, w, transform="B", star=True)`, the focal cell in its own sum
  (Gi*); `z` is its standardised value (`Zs`, Getis and Ord 1992), positive where the cell and its
  neighbours hold more cases than the area's mean;
- significance: conditional permutations (`permutations`, default 9,999, seed `SEED`), a
  two-sided pseudo p-value from esda's draws (`G_Local.rGs`): p = min(1, 2 * min(p_high,
  p_low)), p_high = (1 + #draws >= observed) / (1 + permutations), p_low likewise with <=.
  Ties count on both sides: with counts of cases most neighbourhoods hold none, and esda's own
  `p_sim` counts ties on the upper side only, which calls an empty neighbourhood "extremely low"
  (its smallest p) while every draw there ties with it. Then Benjamini-Hochberg's false discovery
  rate over the area's cells at `ALPHA` (`esda.fdr`); a cell is `hot` (z > 0) or `cold`
  (z < 0) when its p is at most that cut-off, else `not_significant`.

Planners' rule holds: nothing finer than a cell leaves this module (no case, no point). Cases
are not persons, so z and p are published per cell to every reader; the count of cases per cell
goes to the roles that read those cases one by one (dispatchers, street and community staff, in
their area) and not to planners, who see no case (their case figures are otherwise the KPI tables,
small counts suppressed): planners get the area's total only, suppressed below the disclosure
threshold. Leaving the counts out hides little: z at three decimals fixes each cell's local sum
up to the area's mean and spread, which is why this rule is stated for cases and would not do
for residents.

The area is the caller's: city-wide for planners and dispatchers; a street's (community's)
cells for its staff, compared with that street's (community's) own mean, so nothing outside
their scope enters their figures.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session, aliased

from geo.access.principal import Principal, Role, scope_filter
from geo.cases import kpis
from geo.cases.catalogue import catalogue
from geo.cases.scope import case_filter
from geo.cases.workflow import Status
from geo.core.config import map_settings
from geo.core.errors import Forbidden, InvalidInput
from geo.privacy.masking import suppress_small
from geo.privacy.windows import Window
from geo.spatial.boundaries.models import GridCell
from geo.spatial.boundaries.releases import active_release_id

CITY_WIDE = (Role.planner.value, Role.dispatcher.value, "system")
READERS = (*CITY_WIDE, Role.street_staff.value, Role.community_staff.value)
ALPHA = 0.05
PERMUTATIONS = 9999
MIN_PERMUTATIONS, MAX_PERMUTATIONS = 99, 99999
SEED = 20261130
TOUCH_DEGREES = 1e-7  # about 1 cm: neighbours whose shared vertices differ in the last digits
CLASSES = ("hot", "cold", "not_significant")


def hotspots(
    session: Session,
    me: Principal,
    window: Window,
    category: str | None = None,
    permutations: int = PERMUTATIONS,
) -> dict[str, Any]:
    """Gi* hot and cold spots of the window's cases (of `category`) over the caller's cells."""
    if me.role not in READERS:
        raise Forbidden(f"role {me.role} may not read hot spots of cases")
    if not MIN_PERMUTATIONS <= permutations <= MAX_PERMUTATIONS:
        raise InvalidInput(
            f"permutations must be {MIN_PERMUTATIONS} to {MAX_PERMUTATIONS}, got {permutations}"
        )
    if category is not None:
        codes = [c["code"] for c in catalogue(session)["categories"]]
        if category not in codes:
            raise InvalidInput(
                f"unknown case category {category!r}; categories are {', '.join(codes)}"
                " (GET /api/v1/case-catalogue lists them)"
            )
    cells = cell_codes(session, me)
    counts = case_counts(session, me, window, category)
    y = np.array([counts.get(c, 0) for c in cells], dtype=float)
    stats, cutoff = gi_star(y, neighbours(session, me), cells, permutations)
    k = map_settings().disclosure_threshold
    exact = me.role != Role.planner.value
    total = int(y.sum())
    rows = [
        {
            "cell_code": code,
            "community_code": code[:12],
            "cases": counts.get(code, 0) if exact else None,
            **stats[code],
        }
        for code in cells
    ]
    return {
        "season": window.season,
        "month": window.month,
        "category": category,
        "statistic": "Getis-Ord Gi* (esda.G_Local, star=True, binary weights)",
        "weights": "queen contiguity of the cell polygons (edge or corner), binary",
        "permutations": permutations,
        "seed": SEED,
        "alpha": ALPHA,
        "correction": "fdr",
        "p_cutoff": cutoff,
        "threshold": k,
        "cases": total if exact else suppress_small(total, k),
        "counts_per_cell": exact,
        "summary": {c: sum(1 for r in rows if r["class"] == c) for c in CLASSES},
        "cells": rows,
    }


# --- counts and weights (PostgreSQL) ----------------------------------------------------------


def _in_area(me: Principal, table: Any) -> ColumnElement[bool]:
    """Cells of the caller's area: every cell for the city-wide roles, else their scope's."""
    if me.role in CITY_WIDE:
        return true()
    return scope_filter(me, cell=table.code, community=table.community_code)


def cell_codes(session: Session, me: Principal) -> list[str]:
    """Codes of the active release's cells in the caller's area, in order."""
    rid = active_release_id(session)
    if rid is None:
        return []
    stmt = (
        select(GridCell.code)
        .where(GridCell.in_release(rid), _in_area(me, GridCell))
        .order_by(GridCell.code)
    )
    return list(session.scalars(stmt))


def neighbours(session: Session, me: Principal) -> dict[str, list[str]]:
    """{cell: its queen neighbours} among the active release's cells in the caller's area."""
    rid = active_release_id(session)
    if rid is None:
        return {}
    a, b = aliased(GridCell), aliased(GridCell)
    stmt = (
        select(a.code, b.code)
        .join(b, func.ST_DWithin(a.geom, b.geom, TOUCH_DEGREES))
        .where(
            a.in_release(rid),
            b.in_release(rid),
            a.code != b.code,
            _in_area(me, a),
            _in_area(me, b),
        )
    )
    out: dict[str, list[str]] = defaultdict(list)
    for one, other in session.execute(stmt):
        out[one].append(other)
    return {code: sorted(others) for code, others in out.items()}


def case_counts(
    session: Session, me: Principal, window: Window, category: str | None
) -> dict[str, int]:
    """{cell: cases reported in the window} (cancelled left out), the caller's cases only."""
    c = kpis.facts.c
    conditions = [c.status != Status.cancelled.value, kpis.in_months(window.months)]
    if category is not None:
        conditions.append(c.category_code == category)
    if me.role not in CITY_WIDE:
        conditions.append(case_filter(me, c))
    stmt = select(c.cell_code, func.count()).where(and_(*conditions)).group_by(c.cell_code)
    return {cell: int(n) for cell, n in session.execute(stmt)}


# --- the statistic ------------------------------------------------------------------------------


def gi_star(
    y: np.ndarray, adjacency: dict[str, list[str]], cells: list[str], permutations: int
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """({cell: {"z", "p", "class"}}, the p cut-off the false discovery rate gave): Gi* z, the
    two-sided pseudo p and the class per cell (module docstring). An area of fewer than three
    cells, or one whose cells all hold the same count, has no statistic (None, no cut-off).

    The answer is a function of its inputs alone (the seed is fixed), so it is kept for the last
    few inputs: a map reloaded while no case came in answers without the permutations."""
    links = tuple(sorted((a, b) for a, around in adjacency.items() for b in around))
    values = tuple(float(v) for v in y)
    rows, cutoff = _gi_star(values, links, tuple(cells), permutations)
    return {code: dict(row) for code, row in zip(cells, rows, strict=True)}, cutoff


@lru_cache(maxsize=16)
def _gi_star(
    values: tuple[float, ...],
    links: tuple[tuple[str, str], ...],
    cells: tuple[str, ...],
    permutations: int,
) -> tuple[tuple[dict[str, Any], ...], float | None]:
    y = np.asarray(values, dtype=float)
    if len(cells) < 3 or float(y.min()) == float(y.max()):
        return tuple({"z": None, "p": None, "class": "not_significant"} for _ in cells), None
    from esda import fdr  # PySAL's esda and libpysal: for this question only (slow to import)
    from esda.getisord import G_Local
    from libpysal.weights import W

    adjacency: dict[str, list[str]] = {c: [] for c in cells}
    for a, b in links:
        adjacency[a].append(b)
    with warnings.catch_warnings():  # islands and disconnected towns are expected, not news
        warnings.simplefilter("ignore")
        w = W(adjacency, id_order=list(cells), silence_warnings=True)
        g = G_Local(
            y,
            w,
            transform="B",
            star=True,
            permutations=permutations,
            keep_simulations=True,
            n_jobs=1,
            seed=SEED,
        )
    observed = np.asarray(g.Gs)[:, None]
    draws = np.asarray(g.rGs)  # (cells, permutations)
    tolerance = 1e-9 * np.maximum(np.abs(observed), 1e-12)
    high = (1 + (draws >= observed - tolerance).sum(axis=1)) / (permutations + 1)
    low = (1 + (draws <= observed + tolerance).sum(axis=1)) / (permutations + 1)
    p = np.minimum(1.0, 2 * np.minimum(high, low))
    cutoff = float(fdr(p, ALPHA))
    rows = []
    for i in range(len(cells)):
        z = float(g.Zs[i])
        kind = "not_significant"
        if p[i] <= cutoff and z != 0:
            kind = "hot" if z > 0 else "cold"
        rows.append({"z": round(z, 3), "p": round(float(p[i]), 5), "class": kind})
    return tuple(rows), cutoff
