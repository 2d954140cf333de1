"""Slow lanes for CPU-heavy requests (ASGI middleware): a planner's aggregates and exports, and
the intake's writes, each queue for `HOUNIAO_HEAVY_PLACES` places per worker process in their
own lane (0: no lanes), so the light requests a street works by (tiles, the card, a grid
worker's lists, the dispatcher's feed) are not left behind them on a worker's GIL and the
machine's cores at the season's peak, and a channel's report never waits for a planner.

A request waits for its place in the event loop, holding no thread, connection or lock; its wait
lands on its log line as `lock_wait_ms.aggregates_lane` or `.intake_lane`
(geo/core/lock_waits.py). Light routes never wait here. Measured in bench/peak_day.py
(`--heavy-places`).
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


def lane_of(method: str, path: str) -> str | None:
    """The slow lane a request queues in, or None for a light one."""
    return next((lane for lane, m, p in HEAVY if method == m and path.startswith(p)), None)


class HeavyLane:
    """`app.add_middleware(HeavyLane)`; the limiters are made in the server's event loop."""

    def __init__(self, app: ASGIApp, places: int | None = None) -> None:
        self.app = app
        self.places = serving_settings().heavy_places if places is None else places
        self.limiters: dict[str, anyio.CapacityLimiter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = lane_of(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if lane is None or not self.places:
            await self.app(scope, receive, send)
            return
        limiter = self.limiters.get(lane)
        if limiter is None:
            limiter = self.limiters[lane] = anyio.CapacityLimiter(self.places)
        with lock_waits.waiting(f"{lane}_lane"):
            await limiter.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release()
