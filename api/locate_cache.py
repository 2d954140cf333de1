"""The process's locate cache (geo/spatial/locate_memory.py) and its listener thread.

`install` puts a `LocateCache` on `app.state` and wraps the lifespan: while the app runs, a
`Listener` on DATABASE_URL drops the cache whenever a boundary release is activated (and the
tile cache's boundary tiles, api/tile_cache.py).
HOUNIAO_LOCATE_CACHE=0 leaves the listener off, so every locate runs its SQL (benchmarks'
baseline; a database that cannot LISTEN, such as one behind a transaction pooler).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from api import tile_cache
from geo.core.config import database_settings
from geo.spatial.locate_memory import Listener, LocateCache


def enabled() -> bool:
    value = os.environ.get("HOUNIAO_LOCATE_CACHE", "1").strip().lower()
    return value not in {"0", "false", "no", "off"}


def install(app: FastAPI) -> None:
    app.state.locate_cache = cache = LocateCache()
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        listener = None
        if enabled():
            url = database_settings().sqlalchemy_url
            listener = Listener(cache, url, on_activation=tile_cache.on_activation(app)).start()
        app.state.locate_listener = listener
        try:
            async with inner(app) as state:
                yield state
        finally:
            if listener is not None:
                await to_thread.run_sync(listener.stop)

    app.router.lifespan_context = lifespan
