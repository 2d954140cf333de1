"""Next season's presence per cell and area, by month, with an 80 % interval; for planners.

History: residents present per cell and month (`presence_month`, kept current by the database)
over the past seasons (every season before the one forecast). Each cell is forecast by the model
the backtest chose (geo.planning.models_forecast.CHOSEN; bench/forecast_backtest.py), then the
forecasts are reconciled bottom-up: a community's, street's, district's and the city's forecast
is the sum of its cells', so the tiers add up; an area's interval combines its cells' as
independent errors (half-widths added in quadrature). Forecasts are rounded to whole residents
per cell before summing, and published through the one suppression path as counts are (a
forecast of a small cell is close to its small past counts): the table of one season's
forecasts, every level and month with its sums, protected at once; an interval is shown only
beside a shown forecast.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.core import clock
from geo.core.errors import InvalidInput
from geo.planning import presence
from geo.planning.models_forecast import CHOSEN, predict
from geo.planning.presence import CITY, Level
from geo.privacy.suppression import Layout, protect
from geo.privacy.windows import season_months

MIN_SEASONS = 2


def forecast(
    session: Session, me: Principal, level: Level, season: int | None = None
) -> dict[str, Any]:
    """Residents expected per area of `level` and month of `season` (default: the next one)."""
    presence._may_read(me)
    season = clock.current_season() + 1 if season is None else season
    cells, past = _history(session, season)
    if past.shape[1] < MIN_SEASONS:
        raise InvalidInput(
            f"a forecast of season {season} needs presence in at least {MIN_SEASONS} earlier"
            f" seasons; there is presence in {past.shape[1]}"
        )
    pred = predict(CHOSEN, past, [c for c, _ in cells])
    mean = np.rint(pred.mean).astype(int)
    half_low, half_high = pred.mean - pred.low, pred.high - pred.mean
    months = season_months(season)
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    low2: dict[tuple[str, ...], float] = defaultdict(float)
    high2: dict[tuple[str, ...], float] = defaultdict(float)
    parts: dict[tuple[Level, str], set[str]] = defaultdict(set)
    for i, (community, cell) in enumerate(cells):
        for lv, area in _path(community, cell).items():
            for m, month in enumerate(months):
                counts[lv, area, month] += int(mean[i, m])
                low2[lv, area, month] += float(half_low[i, m]) ** 2
                high2[lv, area, month] += float(half_high[i, m]) ** 2
        path = list(_path(community, cell).items())
        for (lv, area), (_, part) in zip(path[1:], path[:-1], strict=True):
            parts[lv, area].add(part)
    sums = [
        ((lv, area, month), [(_child(lv), p, month) for p in sorted(ps)])
        for (lv, area), ps in sorted(parts.items())
        for month in months
    ]
    shown = protect(Layout.build(sorted(counts), sums), counts, presence._k())
    rows = []
    for key in sorted(k for k in counts if k[0] == level and not k[1].endswith(":")):
        value = shown[key]
        rows.append(
            {
                "area": key[1],
                "month": key[2],
                "residents": value,
                "low": None if value is None else max(0, round(value - low2[key] ** 0.5)),
                "high": None if value is None else round(value + high2[key] ** 0.5),
            }
        )
    return {
        "season": season,
        "level": level.value,
        "model": CHOSEN,
        "interval": 0.8,
        "seasons_of_history": past.shape[1],
        "threshold": presence._k(),
        "rows": rows,
    }


def bottom_up(groups: list[str], *arrays: np.ndarray) -> tuple[Any, ...]:
    """Sum series (rows) into their groups: (group keys, sums ...). Given (mean, low, high), the
    groups' means are sums and their interval half-widths add in quadrature."""
    keys = sorted(set(groups))
    at = np.array([keys.index(g) for g in groups])
    onehot = np.zeros((len(keys), len(groups)))
    onehot[at, np.arange(len(groups))] = 1.0
    if len(arrays) == 1:
        return keys, onehot @ arrays[0]
    mean, low, high = arrays
    total = onehot @ mean
    lo = np.maximum(total - np.sqrt(onehot @ (mean - low) ** 2), 0.0)
    hi = total + np.sqrt(onehot @ (high - mean) ** 2)
    return keys, total, lo, hi


def _history(session: Session, season: int) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(community, cell) keys and their presence: cells x past seasons with any x 12 months."""
    rows = session.execute(
        text(
            "SELECT community_code, cell_code, city_season(month) AS season, month,"
            " sum(residents)::int FROM presence_month WHERE month < :start GROUP BY 1, 2, 3, 4"
        ),
        {"start": clock.season_start(season)},
    ).all()
    seasons = sorted({s for _, _, s, _, _ in rows})
    cells = sorted({(c, cell) for c, cell, _, _, _ in rows})
    at = {k: i for i, k in enumerate(cells)}
    past = np.zeros((len(cells), len(seasons), 12))
    for community, cell, s, month, n in rows:
        past[at[community, cell], seasons.index(s), (month.month - 5) % 12] = n
    return cells, past


def _path(community: str, cell: str) -> dict[Level, str]:
    return {
        Level.cell: cell or f"{community}:",
        Level.community: community,
        Level.street: community[:9],
        Level.district: community[:6],
        Level.city: CITY,
    }


def _child(level: Level) -> Level:
    order = list(Level)
    return order[order.index(level) - 1]
