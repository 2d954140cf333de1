"""Vector tiles kept in memory, one cache per API process, bounded by bytes (least recently used
out first), in front of `tiles.render`.

What a cached tile is keyed by, and what drops it (a collection's `cached_by`):

- ``release`` (the boundary levels): layer + the boundary release the tile shows + z/x/y. A new
  release is a new key, so an activation can never serve the old one; the activation's NOTIFY
  also drops the old entries (`drop_releases`) to free their memory.
- ``case_events`` (open cases): layer + the viewer's scope + z/x/y. Each process reads new case
  events (`evict_points`, api/tile_cache.py) and drops, at every zoom it holds, the tiles within
  `BUFFER` tile units of each event's case point (the tile's own features and those drawn into
  its buffer). A tile is also kept no later than the earliest `changes_at` of its features (the
  48-hour clock's next state), so an overdue colour is never stale. These tiles are served only
  while the feed is read (`feed_live`): a poll that failed may have missed events.
- None (service areas: no change signal): not cached.

A viewer's scope key holds every `houniao.*` setting the scope and row-level security read, so
two callers share an entry only when they would read the same rows. A tile is stored only if
nothing was invalidated while it was being made (`generation`): a case event read meanwhile may
concern rows the tile's snapshot predates.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, Role, rls_settings
from geo.spatial.boundaries.releases import ACTIVE_RELEASE
from geo.spatial.features import registry
from geo.spatial.features import tiles as mvt
from geo.spatial.features.registry import Collection, Viewer

MARGIN = mvt.BUFFER / mvt.EXTENT  # a feature this close to a tile's edge is drawn in it too
OVERHEAD = 200  # bytes an entry costs beside its tile (key, bookkeeping), roughly


@dataclass(frozen=True)
class Key:
    layer: str
    release: int | None  # boundary layers
    scope: tuple[tuple[str, str], ...] | None  # scoped layers
    z: int
    x: int
    y: int

    @property
    def by_events(self) -> bool:
        """A case layer's tile (dropped by case events), not a boundary layer's."""
        return self.release is None


@dataclass(frozen=True)
class Entry:
    data: bytes
    etag: str | None  # None for an empty tile (a 204 carries none)
    expires: datetime | None  # when a feature's state changes by time alone


def etag(data: bytes) -> str | None:
    """The tile's ETag: a digest of its bytes, so the cache and a fresh render agree."""
    return f'"mvt-{hashlib.blake2b(data, digest_size=16).hexdigest()}"' if data else None


def scope_key(collection: Collection, viewer: Viewer | None) -> tuple[tuple[str, str], ...] | None:
    """What a scoped layer's rows depend on about the viewer (None for public layers): the
    row-level-security settings, without the account id unless the role's scope is its own
    (a channel's cases are those it filed)."""
    if collection.public:
        return None
    if viewer is None:
        settings = {"role": PUBLIC}
    elif isinstance(viewer, Principal):
        settings = rls_settings(viewer)
    else:  # what the scope reads of another kind of viewer is unknown: never share it
        raise TypeError(f"a scoped layer's tile needs a Principal, got {type(viewer).__name__}")
    if settings.get("role") != Role.channel:
        settings.pop("account", None)
    return tuple(sorted(settings.items()))


def tiles_around(lon: float, lat: float, z: int) -> list[tuple[int, int]]:
    """The tiles at zoom z whose envelope, grown by `MARGIN` of a tile, holds the point.

    >>> tiles_around(0.0, 0.0, 1)
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    n = 1 << z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    xs = range(max(0, math.floor(fx - MARGIN)), min(n - 1, math.floor(fx + MARGIN)) + 1)
    ys = range(max(0, math.floor(fy - MARGIN)), min(n - 1, math.floor(fy + MARGIN)) + 1)
    return [(x, y) for x in xs for y in ys]


class TileCache:
    """The tiles of one process, shared by its threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._by_tile: dict[int, dict[tuple[int, int], set[Key]]] = {}  # case layers: z -> x, y
        self.bytes = 0
        self.generation = 0  # bumped by every invalidation
        self.feed_live = False  # the case event feed is being read (api/tile_cache.py)
        self.feed_position: int | None = None  # WAL position before the last poll read events
        self.counts = {"hit": 0, "miss": 0, "bypass": 0, "uncached": 0, "expired": 0}

    # --- reads and writes -------------------------------------------------------------------

    def get(self, key: Key, now: datetime, *, count_miss: bool = True) -> Entry | None:
        """The entry of `key` unless it expired; `count_miss`: False when the caller will ask
        again through `serve` (a lookup before the session), which counts the miss then."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires is not None and now >= entry.expires:
                self._remove(key)
                self.counts["expired"] += 1
                entry = None
            if entry is None:
                if count_miss:
                    self.counts["miss"] += 1
                return None
            self._entries.move_to_end(key)
            self.counts["hit"] += 1
            return entry

    def holds_case_tile(self, layer: str, z: int, x: int, y: int) -> bool:
        """Some viewer's tile z/x/y of case layer `layer` is held (whoever's scope it is): a
        caller's is worth looking for before their scope is known."""
        with self._lock:
            return any(k.layer == layer for k in self._by_tile.get(z, {}).get((x, y), ()))

    def put(self, key: Key, entry: Entry, generation: int) -> bool:
        """Keep `entry` unless something was invalidated since `generation` was read (or the
        feed its layer needs is not read, or it alone outgrows the cache)."""
        size = len(entry.data) + OVERHEAD
        with self._lock:
            if generation != self.generation or size > self.max_bytes:
                return False
            if key.by_events and not self.feed_live:
                return False
            self._remove(key)
            self._entries[key] = entry
            self.bytes += size
            if key.by_events:
                self._by_tile.setdefault(key.z, {}).setdefault((key.x, key.y), set()).add(key)
            while self.bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))
            return True

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.bytes -= len(entry.data) + OVERHEAD
        if key.by_events:
            at = self._by_tile.get(key.z, {})
            held = at.get((key.x, key.y), set())
            held.discard(key)
            if not held:
                at.pop((key.x, key.y), None)

    # --- invalidation -----------------------------------------------------------------------

    def evict_points(self, points: Iterable[tuple[float, float]]) -> int:
        """Drop the case layers' tiles around each point at every zoom held; returns how many."""
        points = list(points)
        if not points:
            return 0
        dropped = 0
        with self._lock:
            self.generation += 1
            for lon, lat in points:
                for z, at in self._by_tile.items():
                    for xy in tiles_around(lon, lat, z):
                        for key in list(at.get(xy, ())):
                            self._remove(key)
                            dropped += 1
        return dropped

    def drop_releases(self) -> None:
        """A release was activated: drop the boundary layers' tiles."""
        with self._lock:
            self.generation += 1
            for key in [k for k in self._entries if not k.by_events]:
                self._remove(key)

    def set_feed(self, live: bool, position: int | None = None) -> None:
        """The feed read its events up to WAL `position` (live), or failed (not live: the case
        layers' tiles go, since events may be missed until it reads again)."""
        with self._lock:
            if live != self.feed_live:
                self.generation += 1
                if not live:
                    for key in [k for k in self._entries if k.by_events]:
                        self._remove(key)
            self.feed_live, self.feed_position = live, position if live else None

    def note(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {**self.counts, "entries": len(self._entries), "bytes": self.bytes}


@dataclass(frozen=True)
class Served:
    data: bytes
    etag: str | None
    cache: str  # hit | miss | bypass | uncached
    public: bool  # the layer's tiles are the same for everyone


def _key(
    collection: Collection, release: int | None, viewer: Viewer | None, z: int, x: int, y: int
) -> Key:
    return Key(collection.id, release, scope_key(collection, viewer), z, x, y)


def lookup(
    cache: TileCache,
    collection_id: str,
    z: int,
    x: int,
    y: int,
    *,
    viewer: Viewer | None,
    release: int | None,
    now: datetime,
    fresh: bool = False,
) -> Served | None:
    """The cached tile `serve` would answer with, found without a session; None when it would
    not answer from the cache (nothing counted: `serve` counts the miss).

    `release`: the active boundary release, for a boundary layer (None: not known without the
    database, so nothing is served here). `viewer`: the caller, resolved (a scoped layer's key
    is their scope; NotFound for a viewer who may not see the layer, as `serve`)."""
    collection = registry.get(collection_id, viewer)
    mvt.TileAddress(z, x, y)  # InvalidInput, as `serve`
    by = collection.cached_by
    if by is None or (by == "release" and release is None):
        return None
    if by == "case_events" and (not cache.feed_live or fresh):
        return None
    entry = cache.get(_key(collection, release, viewer, z, x, y), now, count_miss=False)
    if entry is None:
        return None
    return Served(entry.data, entry.etag, "hit", collection.public)


def serve(
    cache: TileCache | None,
    session: Session,
    collection_id: str,
    z: int,
    x: int,
    y: int,
    *,
    viewer: Viewer | None,
    now: datetime,
    fresh: bool = False,
    replica: bool = False,
) -> Served:
    """Tile z/x/y of a collection for `viewer`, from `cache` when it holds it.

    `fresh`: the caller wrote something newer than the feed has read, so a case layer's tile is
    made anew for them (and kept, since it holds their write). `replica`: `session` reads a
    replica, whose case rows may be older than the events the feed read, so a case layer's tile
    made there is not kept.
    """
    collection = registry.get(collection_id, viewer)
    mvt.TileAddress(z, x, y)  # InvalidInput before any lookup
    by = collection.cached_by if cache is not None else None
    if cache is None or by is None:
        data = mvt.tile(session, collection_id, z, x, y, viewer=viewer)
        if cache is not None:
            cache.note("uncached")
        return Served(data, etag(data), "uncached", collection.public)
    release = ACTIVE_RELEASE.resolve(session, None) if by == "release" else None
    key = _key(collection, release, viewer, z, x, y)
    usable = by == "release" or (cache.feed_live and not fresh)
    held = cache.get(key, now) if usable else None
    if held is not None:
        return Served(held.data, held.etag, "hit", collection.public)
    if not usable:
        cache.note("bypass")
    generation = cache.generation
    rendered = mvt.render(session, collection_id, z, x, y, viewer=viewer)
    entry = Entry(rendered.data, etag(rendered.data), rendered.changes_at)
    if rendered.release == release and (by == "release" or not replica):
        cache.put(key, entry, generation)
    return Served(entry.data, entry.etag, "miss" if usable else "bypass", collection.public)
