"""Slow lanes for CPU-heavy requests (ASGI middleware): a planner's aggregates and exports, and
the intake's writes, each queue for `HOUNIAO_HEAVY_PLACES` places per worker process in their
own lane (0: no lanes), so the light requests a street works by (tiles, the card, a grid
worker's lists, the dispatcher's feed) are not left behind them on a worker's GIL and the
machine's cores at the season's peak, and a channel's report never waits for a planner.

A request waits for its place in the event loop, holding no thread, connection or lock; its wait
lands on its log line as `lock_wait_ms.aggregates_lane` or `.intake_lane`
(geo/core/lock_waits.py). Light routes never wait here. Measured in bench/peak_day.py
(`--heavy-places`).

OGC API reads (a page of 100 polygons is ~8 ms of a worker's Python) have a lane of their own
with `HOUNIAO_MAP_THREADS` places, as the tiles' threads (api/tile_cache.py): sixteen pages at
once in sixteen threads made the slowest wait longest (p99 1.3x tipg's; bench/ogc_tipg.py).
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from geo.core import lock_waits
from geo.core.config import serving_settings

# (lane, method, path prefix): the routes whose work is seconds of CPU at worst, not
# milliseconds. Two lanes, so a channel's report never queues behind a planner's season.
HEAVY = (
    ("intake", "POST", "/api/v1/intake/"),
    ("aggregates", "GET", "/api/v1/residents/density"),
    ("aggregates", "GET", "/api/v1/planning/"),
    ("aggregates", "GET", "/api/v1/kpis"),
    ("aggregates", "GET", "/api/v1/export/"),
    ("aggregates", "GET", "/maps/density"),
    ("aggregates", "GET", "/maps/coverage"),
)


MAP_READS = (("ogc", "GET", "/ogc/collections/"),)


def lane_of(method: str, path: str) -> str | None:
    """The lane a request queues in, or None for a light one."""
    lanes = (*HEAVY, *MAP_READS)
    return next((lane for lane, m, p in lanes if method == m and path.startswith(p)), None)


class Lanes:
    """`app.add_middleware(Lanes)`; the limiters are made in the server's event loop."""

    def __init__(
        self, app: ASGIApp, places: int | None = None, map_places: int | None = None
    ) -> None:
        self.app = app
        settings = serving_settings()
        self.places = settings.heavy_places if places is None else places
        self.map_places = settings.map_threads if map_places is None else map_places
        self.limiters: dict[str, anyio.CapacityLimiter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = lane_of(scope["method"], scope["path"]) if scope["type"] == "http" else None
        places = self.map_places if lane in {m[0] for m in MAP_READS} else self.places
        if lane is None or not places:
            await self.app(scope, receive, send)
            return
        limiter = self.limiters.get(lane)
        if limiter is None:
            limiter = self.limiters[lane] = anyio.CapacityLimiter(places)
        with lock_waits.waiting(f"{lane}_lane"):
            await limiter.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release()
