"""Planner aggregates: seasonal residents per cell and month, flows, origins, H3 hexagons.

Planners never see a person or a point. Every figure here comes from the owner-defined counting
functions of migration 0004 (`resident_density`, `resident_flows`, `resident_origins`), and every
count below the disclosure threshold leaves this module as None ("suppressed"), never as a number.

H3 view: each cell's count is attributed to the hexagon (resolution 8, ~0.74 km²) that holds
the cell's centroid, so hexagons compare areas evenly without touching a single point.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import h3
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access import Principal
from geo.boundaries.models import in_release
from geo.boundaries.releases import resolve_release
from geo.errors import InvalidInput
from geo.privacy.masking import suppress_small
from geo.residents import service as residents

FIRST_SEASON, LAST_SEASON = 2000, 2100
H3_RESOLUTION = 8


def _check_seasons(season_from: int, season_to: int) -> None:
    if not (FIRST_SEASON <= season_from <= season_to <= LAST_SEASON):
        raise InvalidInput(
            f"seasons must satisfy {FIRST_SEASON} <= from <= to <= {LAST_SEASON},"
            f" got {season_from}..{season_to}"
        )


def monthly_density(
    session: Session, me: Principal, season_from: int, season_to: int
) -> dict[str, dict[str, int | None]]:
    """{'YYYY-MM': {cell code: residents present that month, or None if suppressed}}: the
    residents service's density rows (already suppressed), keyed for the map's time slider."""
    rows = residents.density(session, me, season_from=season_from, season_to=season_to)["rows"]
    out: dict[str, dict[str, int | None]] = defaultdict(dict)
    for r in rows:
        if r["cell_code"] is not None:
            out[r["month"]][r["cell_code"]] = r["residents"]
    return dict(sorted(out.items()))


def flows(
    session: Session, season_from: int, season_to: int, threshold: int
) -> list[dict[str, Any]]:
    """City-wide arrivals and departures per month, each suppressed on its own."""
    _check_seasons(season_from, season_to)
    rows = session.execute(
        text(
            "SELECT month, sum(arrivals)::bigint, sum(departures)::bigint"
            " FROM resident_flows(:a, :b) GROUP BY month ORDER BY month"
        ),
        {"a": season_from, "b": season_to},
    )
    return [
        {
            "month": month.strftime("%Y-%m"),
            "arrivals": suppress_small(int(a), threshold),
            "departures": suppress_small(int(d), threshold),
        }
        for month, a, d in rows
    ]


def origins(
    session: Session, season_from: int, season_to: int, threshold: int
) -> list[tuple[str, int | None]]:
    """Residents per origin province (person-seasons), largest first; small ones suppressed."""
    _check_seasons(season_from, season_to)
    rows = session.execute(
        text(
            "SELECT coalesce(origin_province, '未知'), sum(residents)::bigint"
            " FROM resident_origins(:a, :b) GROUP BY 1 ORDER BY 2 DESC"
        ),
        {"a": season_from, "b": season_to},
    )
    return [(province, suppress_small(int(n), threshold)) for province, n in rows]


def peak_month(monthly: dict[str, dict[str, int | None]]) -> str | None:
    """The month with most residents in unsuppressed cells (what the hexagon view shows)."""
    totals = {m: sum(v for v in cells.values() if v) for m, cells in monthly.items()}
    return max(totals, key=totals.get) if totals else None  # type: ignore[arg-type]


def hexagons(
    session: Session, counts: dict[str, int | None], threshold: int, release: int | None = None
) -> dict[str, Any]:
    """FeatureCollection of H3 hexagons with the summed counts of the cells centred in them.

    Only unsuppressed cell counts are summed, so no suppressed value can be recovered from a
    hexagon: one made only of suppressed cells is suppressed, and one mixing both shows the
    visible sum flagged as a lower bound.
    """
    rid = resolve_release(session, release)
    centroids = session.execute(
        text(
            "SELECT code, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM grid_cell"
            f" WHERE {in_release('grid_cell')}"
        ),
        {"rid": rid},
    )
    visible: dict[str, int] = defaultdict(int)
    hidden: dict[str, int] = defaultdict(int)
    for code, lon, lat in centroids:
        if code not in counts:
            continue
        hex_id = h3.latlng_to_cell(lat, lon, H3_RESOLUTION)
        if counts[code] is None:
            hidden[hex_id] += 1
        else:
            visible[hex_id] += counts[code] or 0
    features = []
    for hex_id in sorted(set(visible) | set(hidden)):
        shown = suppress_small(visible.get(hex_id, 0), threshold) if hex_id in visible else None
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(hex_id)]
        features.append(
            {
                "type": "Feature",
                "id": hex_id,
                "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
                "properties": {
                    "h3": hex_id,
                    "count": shown,
                    "lower_bound": bool(shown) and hex_id in hidden,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def current_season(today: date | None = None) -> int:
    return (today or date.today()).year
