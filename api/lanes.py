"""A slow lane for CPU-heavy requests (ASGI middleware): a planner's aggregates, exports and the
intake's matching queue for `HOUNIAO_HEAVY_PLACES` places per worker process (0: no lane), so
the light requests a street works by (tiles, the card, a grid worker's lists, the dispatcher's
feed) are not left behind them on a worker's GIL and the machine's cores at the season's peak.

A request waits for its place in the event loop, holding no thread, connection or lock; its wait
lands on its log line as `lock_wait_ms.heavy_lane` (geo/core/lock_waits.py). Light routes never
wait here. Measured in bench/peak_day.py (`--heavy-places`).
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from geo.core import lock_waits
from geo.core.config import serving_settings

# (method, path prefix): the routes whose work is seconds of CPU at worst, not milliseconds.
HEAVY = (
    ("POST", "/api/v1/intake/"),
    ("GET", "/api/v1/residents/density"),
    ("GET", "/api/v1/planning/"),
    ("GET", "/api/v1/kpis"),
    ("GET", "/api/v1/export/"),
    ("GET", "/maps/density"),
    ("GET", "/maps/coverage"),
)


def is_heavy(method: str, path: str) -> bool:
    return any(method == m and path.startswith(prefix) for m, prefix in HEAVY)


class HeavyLane:
    """`app.add_middleware(HeavyLane)`; the limiter is made in the server's event loop."""

    def __init__(self, app: ASGIApp, places: int | None = None) -> None:
        self.app = app
        self.places = serving_settings().heavy_places if places is None else places
        self.limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.places
            or not is_heavy(scope["method"], scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.places)
        with lock_waits.waiting("heavy_lane"):
            await self.limiter.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release()
