"""The process's vector-tile cache (geo/spatial/features/tile_cache.py) and the case event feed
that invalidates it.

`install` puts a `TileCache` on `app.state` (None with HOUNIAO_TILE_CACHE_MB=0: every tile is
made anew) and wraps the lifespan: while the app runs, a `CaseEventFeed` thread reads new case
events every HOUNIAO_TILE_CACHE_POLL_MS on the primary and drops the tiles around their points.
Event ids commit out of order, so each poll re-reads the SSE stream's trailing window of ids
(geo/cases/stream.py), skipping those already seen. Release activations reach the cache through
the locate cache's listener (api/locate_cache.py).

Read your own writes: a successful write answers with the primary's WAL position (`houniao_lsn`,
api/reads.py). Each poll reads the position before it reads the events, so a caller whose
position is below the feed's has their write in the events read; otherwise their case tiles are
made anew (`fresh`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.reads import requested_lsn
from geo.access.principal import Principal, as_system
from geo.cases import feed
from geo.cases.stream import TRAILING_IDS
from geo.core import clock, logs, replica
from geo.core.config import tile_cache_settings
from geo.core.db import get_engine
from geo.spatial.features import tile_cache
from geo.spatial.features.tile_cache import Served, TileCache

LOGGER = "houniao.tiles"


class CaseEventFeed:
    """Reads case events as the system, every `interval` seconds, into `cache.evict_points`."""

    def __init__(self, cache: TileCache, engine: Engine, interval: float) -> None:
        self.cache = cache
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._after: int | None = None  # the newest event id read; None: start from the newest
        self._seen: set[int] = set()
        self.polls = 0
        self._thread = threading.Thread(target=self._run, name="tile-cache-feed", daemon=True)

    def start(self) -> CaseEventFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.cache.set_feed(False)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except SQLAlchemyError as exc:
                if self.cache.feed_live:
                    logs.event(
                        "tiles.feed_failed",
                        logger=LOGGER,
                        level=logging.WARNING,
                        error=type(exc).__name__,
                    )
                self.cache.set_feed(False)
                self._after, self._seen = None, set()
            self._stop.wait(self._interval)

    def poll(self) -> None:
        with Session(self._engine) as session:
            as_system(session, "system:tile-cache")
            # before the events' snapshot: whatever committed before this position is in them
            position = replica.lsn_number(replica.wal_position(session))
            starting = self._after is None
            if self._after is None:
                self._after = feed.newest_event_id(session)
            since = max(0, self._after - TRAILING_IDS)
            rows = [r for r in feed.event_points_after(session, since) if r[0] not in self._seen]
        if not starting:  # at the start the cache holds no case tile: the window is only seen
            self.cache.evict_points((lon, lat) for _, lon, lat in rows)
        if rows:
            self._seen.update(r[0] for r in rows)
            self._after = max(self._after, *(r[0] for r in rows))
            self._seen = {i for i in self._seen if i > self._after - TRAILING_IDS}
        self.cache.set_feed(True, position)
        self.polls += 1


def install(app: FastAPI) -> None:
    settings = tile_cache_settings()
    cache = TileCache(int(settings.mb * 2**20)) if settings.mb > 0 else None
    app.state.tile_cache = cache
    app.state.tile_feed_engine = None  # None: DATABASE_URL's (tests name their database)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        events = None
        if cache is not None:
            engine = app.state.tile_feed_engine or get_engine()
            events = CaseEventFeed(cache, engine, settings.poll_ms / 1000).start()
        app.state.tile_feed = events
        try:
            async with inner(app) as state:
                yield state
        finally:
            if events is not None:
                await to_thread.run_sync(events.stop)

    app.router.lifespan_context = lifespan


def on_activation(app: FastAPI) -> Callable[[], None] | None:
    """What the release listener calls besides dropping the locate cache."""
    cache: TileCache | None = getattr(app.state, "tile_cache", None)
    return cache.drop_releases if cache is not None else None


def serve(
    request: Request, session: Session, viewer: Principal, layer: str, z: int, x: int, y: int
) -> Served:
    """The tile for this request, through the process's cache; the outcome goes to the request's
    log line (`tile_cache`: hit, miss, bypass, uncached)."""
    cache: TileCache | None = request.app.state.tile_cache
    fresh = False
    if cache is not None and (lsn := requested_lsn(request)) is not None:
        position = cache.feed_position
        fresh = position is None or position <= replica.lsn_number(lsn)
    read = getattr(request.state, "read_log", {}).get("read")
    served = tile_cache.serve(
        cache,
        session,
        layer,
        z,
        x,
        y,
        viewer=viewer,
        now=clock.now(),
        fresh=fresh,
        replica=read == "replica",
    )
    request.state.tile_cache = served.cache
    return served
