"""Synthetic history of residents present per cell and month, for the forecast's backtest.

The demo's residents (geo/demo/residents.py) hold seasons 2021-2026 at about 6,000 a season
with no trend, and loading them through the intake takes minutes; the backtest needs more
seasons and a city that changes. This generator gives every demo cell a monthly series for
seasons 2017-2026: a level per cell (log-normal, most cells small), the season's shape (arrivals
in May-June, a July-August peak, departures by October, a few over the winter), a trend per
community (-4 % to +12 % a season, the city's growth uneven), a per-season shock per street and
Poisson noise. Deterministic for the seed. It is an input to the backtest only; the API
forecasts from the presence tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.privacy.windows import season_months

SEED = 20261130
SEASONS = tuple(range(2017, 2027))
# Share of a cell's peak present in each month of a season, May to April.
SHAPE = (0.45, 0.9, 1.0, 0.95, 0.55, 0.2, 0.06, 0.05, 0.05, 0.05, 0.05, 0.08)


@dataclass(frozen=True)
class Series:
    cell_code: str
    community_code: str
    months: tuple[str, ...]  # 'YYYY-MM', every month of SEASONS in order
    residents: tuple[int, ...]


def generate(cells: list[tuple[str, str]], seed: int = SEED, scale: float = 1.0) -> list[Series]:
    """One series per (cell code, community code); `scale` multiplies every level (10x bench)."""
    rng = np.random.default_rng(seed)
    communities = sorted({c for _, c in cells})
    streets = sorted({c[:9] for c in communities})
    trend = dict(zip(communities, rng.uniform(-0.04, 0.12, len(communities)), strict=True))
    shock = {(s, y): rng.normal(0.0, 0.05) for s in streets for y in SEASONS}
    months = tuple(m for y in SEASONS for m in season_months(y))
    out = []
    for cell, community in cells:
        level = scale * rng.lognormal(mean=1.6, sigma=0.8)
        shape = np.array(SHAPE) * rng.uniform(0.85, 1.15, 12)
        values = []
        for i, season in enumerate(SEASONS):
            growth = (1 + trend[community]) ** i * (1 + shock[community[:9], season])
            values += list(rng.poisson(np.maximum(level * growth * shape, 0.0)))
        out.append(Series(cell, community, months, tuple(int(v) for v in values)))
    return out
