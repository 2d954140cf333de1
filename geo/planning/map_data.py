"""The planner's map data: seasonal residents per cell and month, flows, origins, H3 hexagons.

Planners never see a person or a point. Every figure here comes from geo.planning.aggregates,
one window at a time and already protected (a suppressed count arrives as None); this module only
reshapes it for the map and its charts, and adds nothing a reader could subtract.

H3 view: each cell's count is attributed to the hexagon (resolution 8, ~0.74 km²) that holds
the cell's centroid, so hexagons compare areas evenly without touching a single point.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import h3
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.core.errors import InvalidInput
from geo.planning import aggregates, forecast, presence
from geo.planning.presence import Level
from geo.privacy.masking import suppress_small
from geo.privacy.windows import Window, season_months
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release

H3_RESOLUTION = 8


def monthly_density(
    session: Session, me: Principal, window: Window
) -> dict[str, dict[str, int | None]]:
    """{'YYYY-MM': {cell code: residents present that month, or None if suppressed}}, keyed for
    the map's time slider."""
    out: dict[str, dict[str, int | None]] = defaultdict(dict)
    for r in aggregates.density(session, me, window)["rows"]:
        if r["cell_code"] is not None:
            out[r["month"]][r["cell_code"]] = r["residents"]
    return dict(sorted(out.items()))


def flows(session: Session, me: Principal, window: Window) -> list[dict[str, Any]]:
    """The city's arrivals and departures per month (the same protected table as per community)."""
    city: list[dict[str, Any]] = aggregates.flows(session, me, window)["city"]
    return city


def origins(session: Session, me: Principal, season: int) -> list[tuple[str, int | None]]:
    """Residents of the season per origin province: largest first, suppressed ones last by name
    (their order among themselves would tell which is larger)."""
    rows = aggregates.origins(session, me, Window(season))["provinces"]
    pairs = [(r["province"], r["residents"]) for r in rows]
    return sorted(pairs, key=lambda p: (p[1] is None, -(p[1] or 0), p[0]))


def outlook(
    session: Session, me: Principal, season: int
) -> list[tuple[str, int | None, int | None]]:
    """(month 'MM', residents present in the city that month of `season`, the forecast for that
    month of the next season), each as the API publishes it; empty where the forecast lacks
    history (fewer than two earlier seasons)."""
    try:
        ahead = forecast.forecast(session, me, Level.city, season + 1)["rows"]
    except InvalidInput:
        return []
    out = []
    for month, row in zip(season_months(season), ahead, strict=True):
        rows = presence.presence(session, me, Window(season, month), Level.city)["rows"]
        out.append((month[5:], rows[0]["residents"] if rows else 0, row["residents"]))
    return out


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
        # 6 decimals (~0.1 m), as RFC 7946 advises: full floats bloat the page, and their digit
        # runs can read as phone numbers to anyone scanning it for personal data
        ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(hex_id)]
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


def month_of(season: int, month: int) -> str:
    """'YYYY-MM' of calendar month `month` (1-12) within `season` (May to April)."""
    return next(m for m in season_months(season) if int(m[5:]) == month)
