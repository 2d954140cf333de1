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

A hit is answered before the work a miss needs (`answer`): a public layer's without a thread, a
session or a round trip (its caller is not looked up: the tile is everyone's); a scoped layer's
after the token's full check in one autocommit statement, without a transaction, settings or a
read session. A hit's request log line has no `read` (nothing was read).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Request
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.auth import Credentials, resolve_caller
from api.deps import lookup_session_for, session_for
from api.reads import public_read_session_for, read_session_for, requested_lsn
from api.viewer import viewer_of
from geo.access.principal import Principal, as_system
from geo.cases import feed
from geo.cases.stream import TRAILING_IDS
from geo.core import clock, logs, replica
from geo.core.config import database_settings, serving_settings, tile_cache_settings
from geo.core.db import get_engine
from geo.spatial.boundaries.releases import ACTIVE_RELEASE
from geo.spatial.features import registry, tile_cache
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
    # the database whose active release `answer` may know without asking (the listener's)
    app.state.tile_release_url = make_url(database_settings().sqlalchemy_url)
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


async def answer(
    request: Request, credentials: Credentials, layer: str, z: int, x: int, y: int
) -> Served:
    """The tile for this request (GET /tiles/{layer}/{z}/{x}/{y}.mvt), the cheapest right way:

    - a public layer's tile is the same for everyone, so its caller is not looked up: a bearer
      token's signature and expiry are checked here (a 401 otherwise), nothing else
      (`Credentials.for_public_answer`). A cached tile of the active release, as the release
      listener remembers it (`ACTIVE_RELEASE`; not known: the database is asked, below), is
      answered here on the event loop: no thread, no session, no round trip;
    - a scoped layer's cached tile (open cases), for a bearer token, while the case event feed
      is read and the caller wrote nothing newer: the token is checked in full (signature,
      expiry, account, login session, revocations) in one autocommit statement, and the tile of
      the scope it yields is answered: no transaction, no row-level-security settings, no read
      session (`_through_session`);
    - a public layer's tile not held: made in one autocommit statement, still with no caller
      (`_public`);
    - anything else (a scoped layer's miss, an API key, a writer's fresh read): the caller
      resolved with their settings, the read session and `serve`, in the same thread.
    """
    cache: TileCache | None = request.app.state.tile_cache
    if registry.is_public(layer):
        credentials = credentials.for_public_answer()
        if credentials.api_key is None:
            if cache is not None:
                release = ACTIVE_RELEASE.remembered(request.app.state.tile_release_url)
                held = tile_cache.lookup(
                    cache, layer, z, x, y, viewer=None, release=release, now=clock.now()
                )
                if held is not None:
                    request.state.tile_cache = held.cache
                    return held
            return await _in_tile_thread(request, _public, request, layer, z, x, y)
    return await _in_tile_thread(request, _through_session, request, credentials, layer, z, x, y)


async def _in_tile_thread(request: Request, work: Callable[..., Served], *args: Any) -> Served:
    """Run a tile's work in one of the worker's HOUNIAO_MAP_THREADS threads; the rest wait on
    the event loop, in order. Sixteen tiles at once in sixteen threads shared one interpreter and
    stretched the slowest: p99 200 ms against 33 ms with four (bench/ogc_tipg.py)."""
    state = request.app.state
    limiter = getattr(state, "tile_threads", None)
    if limiter is None:  # made in the server's event loop, on the first tile
        limiter = state.tile_threads = CapacityLimiter(serving_settings().map_threads)
    return await to_thread.run_sync(work, *args, limiter=limiter)


def _public(request: Request, layer: str, z: int, x: int, y: int) -> Served:
    """A public layer's tile not held: the same for anyone, so no caller, no row-level-security
    settings and no transaction: the tile's one statement in autocommit (BEGIN, settings and
    COMMIT were three round trips more, two thirds of a miss's time in the database)."""
    with lookup_session_for(request) as primary, public_read_session_for(request, primary) as read:
        return serve(request, read, None, layer, z, x, y)


def _through_session(
    request: Request, credentials: Credentials, layer: str, z: int, x: int, y: int
) -> Served:
    cache: TileCache | None = request.app.state.tile_cache
    if (
        cache is not None
        and credentials.bearer
        and not registry.is_public(layer)
        and cache.feed_live
        and not _fresh(request, cache)
        and cache.holds_case_tile(layer, z, x, y)  # else a miss: no token check twice
    ):
        with lookup_session_for(request) as session:  # the token, its account and revocations
            me = resolve_caller(request, session, credentials, with_rls=False)
        held = tile_cache.lookup(
            cache, layer, z, x, y, viewer=viewer_of(request, me), release=None, now=clock.now()
        )
        if held is not None:
            request.state.tile_cache = held.cache
            return held
    with session_for(request) as primary:
        me = resolve_caller(request, primary, credentials)
        with read_session_for(request, primary, me) as session:
            return serve(request, session, viewer_of(request, me), layer, z, x, y)


def _fresh(request: Request, cache: TileCache | None) -> bool:
    """The caller wrote something the feed has not read yet (houniao_lsn, api/reads.py)."""
    if cache is None or (lsn := requested_lsn(request)) is None:
        return False
    position = cache.feed_position
    return position is None or position <= replica.lsn_number(lsn)


def serve(
    request: Request, session: Session, viewer: Principal | None, layer: str, z: int, x: int, y: int
) -> Served:
    """The tile for this request, through the process's cache; the outcome goes to the request's
    log line (`tile_cache`: hit, miss, bypass, uncached)."""
    cache: TileCache | None = request.app.state.tile_cache
    fresh = _fresh(request, cache)
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
