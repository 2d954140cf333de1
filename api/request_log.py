"""One structured log line per request (ASGI middleware): method, route template, status,
duration in milliseconds, the caller's account id, and the milliseconds it waited on each
serialising lock (`lock_wait_ms`, see geo/core/lock_waits.py) when it waited on any, and with a
read replica which database served its map reads (`read`, `read_reason`; api/reads.py), and for a
vector tile what the tile cache did (`tile_cache`).

The route is the template the request matched (`/api/v1/residents/{resident_id}`), never the
path as sent nor its query string, so no identifier, name or coordinate a caller puts in a URL is
written to the log. The account id comes from `api.auth.optional_principal` (request state).
"""

from __future__ import annotations

import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.core import lock_waits, logs

LOGGER = "houniao.request"


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before responding

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with lock_waits.collect() as waits:
            try:
                await self.app(scope, receive, send_and_note)
            finally:
                rounded = {name: round(ms, 1) for name, ms in waits.items()}
                extra = {"lock_wait_ms": rounded} if waits else {}
                state = scope.get("state", {})
                # which database served the map reads (api/reads.py), with a read replica
                extra.update(state.get("read_log", {}))
                if "tile_cache" in state:  # hit, miss, bypass, uncached (api/tile_cache.py)
                    extra["tile_cache"] = state["tile_cache"]
                logs.event(
                    "request",
                    logger=LOGGER,
                    method=scope["method"],
                    route=_template(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    user_id=scope.get("state", {}).get("account_id"),
                    **extra,
                )


def _template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return "(unmatched)"
    # A mounted app (the vendored static files) matches by prefix: name the mount, not the file.
    return f"{route.path}/…" if isinstance(route, Mount) else str(route.path)
