"""Candidate sites for new service areas: where a few new ones would bring the most residents
aged 65+ now beyond 15 minutes' walk (geo.planning.coverage) within it.

A maximal covering location problem (PySAL `spopt.locate.MCLP`, solved with CBC through PuLP):
demand is each gap cell (beyond 15 minutes of every service area offering the item) weighted by
its residents aged 65+ present in the window; candidate sites are the cells' centroids (a point
on the surface: a public place, never the residents' mean point); a site covers a gap cell when
the walk between them (the same network walk, or estimate, as coverage) takes at most 15
minutes at the given pace.

What each site adds is told from the coverage table as published: the sum of the shown 65+
counts of the gap cells it brings within 15 minutes (each cell counted for the first site that
covers it, sites in the order they add most), and how many of those cells have their count
hidden, so no number appears here that coverage does not publish. The solver sees the true
counts; it answers only with places.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.core.config import walk_settings
from geo.core.errors import InvalidInput
from geo.planning import coverage, presence, walking
from geo.privacy.windows import Window

MAX_NEW_SITES = 20
_CENTROIDS_ONLY = 2**31 - 1  # no cell has so many stays: every cell's point is its centroid


def candidate_sites(
    session: Session,
    me: Principal,
    window: Window,
    item: str | None = None,
    new_sites: int = 5,
    speed_kmh: float | None = None,
) -> dict[str, Any]:
    """Up to `new_sites` cells whose centroids, as new service areas, cover the most gap 65+."""
    if not 1 <= new_sites <= MAX_NEW_SITES:
        raise InvalidInput(f"new_sites must be 1 to {MAX_NEW_SITES}, got {new_sites}")
    figures = coverage.coverage(session, me, window, item, speed_kmh)  # checks role and item
    radius = coverage.TIERS[-1] * figures["speed_kmh"] * 1000 / 60
    shown = {c["cell_code"]: c["residents_65plus"] for c in figures["cells"]}
    gaps = {c["cell_code"] for c in figures["cells"] if c["item"]["tier"] == coverage.BEYOND}
    older = {
        cell: sum(bands.get(b, 0) for b in coverage.OLDER)
        for (_, cell), bands in presence.cell_ages(session, window).items()
    }
    k = figures["threshold"]
    demand = [
        p
        for p in walking.cell_points(session, window.season, k)
        if p.code in gaps and older.get(p.code, 0) > 0
    ]
    centroids = walking.cell_points(session, window.season, _CENTROIDS_ONLY)
    method, walks = walking.matrix(
        session,
        demand,
        centroids,
        max_metres=radius,
        detour_factor=walk_settings().detour_factor,
    )
    about = {
        "season": window.season,
        "month": window.month,
        "item": item,
        "method": method.value,
        "speed_kmh": figures["speed_kmh"],
        "within_minutes": coverage.TIERS[-1],
        "threshold": k,
        "gap_cells": len(gaps),
        # the beyond tier's protected total, as coverage publishes it
        "gap_residents_65plus": next(
            t["residents_65plus"] for t in figures["tiers"]["item"] if t["tier"] == coverage.BEYOND
        ),
    }
    candidates = sorted({site for _, site in walks})
    if not demand or not candidates:
        return {**about, "sites": []}
    at = {code: j for j, code in enumerate(candidates)}
    row = {p.code: i for i, p in enumerate(demand)}
    cost = np.full((len(demand), len(candidates)), radius * 10.0)
    for (cell, code), metres in walks.items():
        cost[row[cell], at[code]] = metres
    weights = np.array([older[p.code] for p in demand], dtype=float)
    model = _solve(cost, weights, radius, min(new_sites, len(candidates)))
    chosen = [j for j in range(len(candidates)) if model.fac2cli[j]]
    covers = {j: {demand[i].code for i in model.fac2cli[j]} for j in chosen}
    chosen.sort(key=lambda j: (-sum(older[c] for c in covers[j]), candidates[j]))
    by_code = {p.code: p for p in centroids}
    sites, taken = [], set[str]()
    for j in chosen:
        adds = sorted(covers[j] - taken)
        taken |= covers[j]
        place = by_code[candidates[j]]
        sites.append(
            {
                "cell_code": place.code,
                "community_code": place.community_code,
                "lon": round(place.x, 6),
                "lat": round(place.y, 6),
                "gap_cells_covered": adds,
                "adds_residents_65plus_shown": _shown_sum(shown, adds),
                "adds_cells_hidden": sum(shown.get(c) is None for c in adds),
            }
        )
    return {**about, "sites": sites}


def _solve(cost: np.ndarray, weights: np.ndarray, radius: float, p: int) -> Any:
    from spopt.locate import MCLP  # libpysal and friends: for this question only

    model = MCLP.from_cost_matrix(cost, weights, service_radius=radius, p_facilities=p)
    return model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=60))


def _shown_sum(shown: dict[str, int | None], cells: Any) -> int:
    """The sum of the published counts of `cells` (hidden ones left out: a lower bound)."""
    return sum(v for c in cells if (v := shown.get(c)) is not None)
