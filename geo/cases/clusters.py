"""Open cases as clusters, for a map zoomed out past a street.

The live feed (`geo.cases.feed`) sends every open case in scope as a marker: right for a street
or a city (10,000 cases, ~4 MB), not for a province's dispatcher (1,000,000 open cases would be
~400 MB of GeoJSON). Here PostgreSQL snaps each case to a square of the map's grid at the zoom
asked for (a square per `SQUARE_PX` screen pixels, `ST_SnapToGrid` in degrees) and sends one
point per non-empty square: the number of cases and how many are on track, due soon and
overdue, placed at their mean position. Squares' points closer than `MERGE_PX` on the screen (cases
either side of a square's edge) are then merged, largest first, as supercluster merges, so that
no two circles sit on each other. The answer is bounded by the squares on the screen, not by the
cases; the scope is `case_filter`, the rule of every case query. The filters are the
console's (`QueueFilters`), so a zoomed-out map counts what its filter bar would list.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.cases import clock
from geo.cases.models import Case
from geo.cases.queue import QueueFilters, filter_conditions
from geo.cases.scope import case_filter
from geo.cases.workflow import FINISHED
from geo.core.errors import InvalidInput
from geo.spatial.geojson import GEOJSON_DECIMALS

SQUARE_PX = 64  # a cluster per 64 x 64 screen pixels: 16 per 256-pixel tile
MERGE_PX = 40  # the map's circles are 28-36 pixels wide for a few to thousands of cases
MAX_ZOOM = 16  # past a street's zoom the feed's markers are fewer than the squares
STATES = ("on_track", "due_soon", "overdue")
Cluster = tuple[float, float, int, int, int, int]  # lon, lat, count, on track, due soon, overdue

c = Case.__table__.c


def square_degrees(zoom: int) -> float:
    """The side of a cluster square at `zoom`, in degrees of longitude (web map tiles).

    >>> square_degrees(0)
    90.0
    """
    if not 0 <= zoom <= MAX_ZOOM:
        raise InvalidInput(f"zoom must be 0 to {MAX_ZOOM}")
    return 360.0 / (1 << zoom) * SQUARE_PX / 256


def open_case_clusters(
    session: Session,
    principal: Any,
    *,
    zoom: int,
    bbox: tuple[float, float, float, float] | None = None,
    filters: QueueFilters = QueueFilters(),  # noqa: B008  (frozen: never mutated)
) -> dict[str, Any]:
    """The open cases in scope (and in `bbox`, WGS84 lon/lat, and passing `filters`) as one
    Point feature per square of the zoom's grid that holds any, with `count` and the count per
    clock state."""
    size = square_degrees(zoom)
    state = clock.clock_state()
    where = [
        c.status.notin_([s.value for s in FINISHED]),
        case_filter(principal),
        *filter_conditions(filters),
    ]
    if filters.clock_state is not None:
        where.append(state == filters.clock_state)
    if bbox is not None:
        where.append(c.geom.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    square = func.ST_SnapToGrid(c.geom, size)
    rows = session.execute(
        select(
            func.avg(func.ST_X(c.geom)),
            func.avg(func.ST_Y(c.geom)),
            func.count(),
            *(func.count().filter(state == s) for s in STATES),
        )
        .where(*where)
        .group_by(square)
        .order_by(square)
    ).all()
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [round(lon, GEOJSON_DECIMALS), round(lat, GEOJSON_DECIMALS)],
            },
            "properties": {"count": n, **dict(zip(STATES, counts, strict=True))},
        }
        for lon, lat, n, *counts in merge_close([tuple(r) for r in rows], zoom)
    ]
    return {"type": "FeatureCollection", "features": features}


def screen_pixels(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """A point's position in web-map pixels at `zoom` (Web Mercator, 256-pixel tiles).

    >>> screen_pixels(0.0, 0.0, 1)
    (256.0, 256.0)
    """
    world = 256.0 * (1 << zoom)
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180.0) / 360.0 * world, (1.0 - y / math.pi) / 2.0 * world


def merge_close(rows: list[Cluster], zoom: int, px: float = MERGE_PX) -> list[Cluster]:
    """Squares' clusters (lon, lat, count, on_track, due_soon, overdue) with those closer than
    `px` screen pixels at `zoom` merged: the largest takes its unmerged neighbours (their counts
    added, its point moved to the mean of all their cases), again until none are that close.

    >>> merge_close([(128.0, 47.0, 3, 3, 0, 0), (128.0001, 47.0, 1, 0, 0, 1)], zoom=10)
    [(128.000025, 47.0, 4, 3, 0, 1)]
    """
    while len(rows) > 1:
        xy = np.array([screen_pixels(lon, lat, zoom) for lon, lat, *_ in rows])
        tree = cKDTree(xy)
        taken = np.zeros(len(rows), dtype=bool)
        merged: list[Cluster] = []
        for i in sorted(range(len(rows)), key=lambda k: (-rows[k][2], k)):
            if taken[i]:
                continue
            group = [j for j in tree.query_ball_point(xy[i], px) if not taken[j]]
            taken[group] = True
            merged.append(_merged([rows[j] for j in group]))
        if len(merged) == len(rows):
            break
        rows = merged
    return rows


def _merged(rows: list[Cluster]) -> Cluster:
    n = sum(r[2] for r in rows)
    lon = sum(r[0] * r[2] for r in rows) / n
    lat = sum(r[1] * r[2] for r in rows) / n
    on_track, due_soon = sum(r[3] for r in rows), sum(r[4] for r in rows)
    return lon, lat, n, on_track, due_soon, sum(r[5] for r in rows)


def open_case_clusters_json(
    session: Session,
    principal: Any,
    *,
    zoom: int,
    bbox: tuple[float, float, float, float] | None = None,
    filters: QueueFilters = QueueFilters(),  # noqa: B008  (frozen: never mutated)
) -> bytes:
    """`open_case_clusters` as the UTF-8 JSON the route sends."""
    found = open_case_clusters(session, principal, zoom=zoom, bbox=bbox, filters=filters)
    return json.dumps(found, separators=(",", ":")).encode()
