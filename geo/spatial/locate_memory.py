"""Point -> grid cell from memory, for the API's hot path (`GET /api/v1/locate`).

Answers exactly as geo/spatial/locate.py does (same cells, same shared-edge rule: the batch
path's `CellIndex`, which a property test holds to the SQL), without a database round trip:
per release, the index and each cell's hierarchy and grid workers are read once and kept.

Invalidation: every activation of a boundary release sends `NOTIFY houniao_boundaries` in its
own transaction (geo/spatial/boundaries/releases.py), delivered when it commits; a `Listener`
thread in each API process LISTENs on its own connection and drops the whole cache when one
arrives. The cache answers only while its listener is connected (a notification missed while
disconnected cannot be told from none): otherwise, and for anything it does not hold, callers
fall back to `locate()` in SQL. A locate in another process right after an activation commits
may still answer from the old release for the milliseconds the notification takes.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from geo.core import logs
from geo.core.errors import OutsideCoverage
from geo.spatial.batch import CellIndex
from geo.spatial.boundaries.releases import ACTIVE_RELEASE, CHANNEL, resolve_release
from geo.spatial.crs import Crs, point_to_wgs84
from geo.spatial.locate import LOOKS_SWAPPED, OUTSIDE_COVERAGE, Location

LOGGER = "houniao.locate"

# Every cell's grid workers, as LOCATE_SQL lists them (ordered by worker id).
WORKERS_SQL = text(
    """
    SELECT wc.cell_code,
           json_agg(json_build_object('name', w.name, 'work_phone', w.work_phone,
                                      'wechat_id', w.wechat_id) ORDER BY w.id)
    FROM grid_worker_cell wc JOIN grid_worker w ON w.id = wc.worker_id
    GROUP BY wc.cell_code
    """
)


@dataclass(frozen=True)
class _Release:
    rid: int
    index: CellIndex
    details: list[dict[str, Any]]  # per index position: Location's fields but lon, lat, release


class LocateCache:
    """Per-release indexes and cell details, shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # one reader at a time: a cold start's requests wait
        self._releases: dict[int, _Release] = {}
        self._active: int | None = None
        self.generation = 0  # bumped by every invalidation
        self.live = False  # set by the listener while it is connected and listening

    def invalidate(self) -> None:
        with self._lock:
            self._releases.clear()
            self._active = None
            self.generation += 1

    def set_live(self, live: bool) -> None:
        with self._lock:
            self.live = live
            self._releases.clear()  # whatever was read before may have missed a notification
            self._active = None
            self.generation += 1

    def lookup(
        self, lon: float, lat: float, crs: Crs = Crs.wgs84, release: int | None = None
    ) -> Location | None:
        """The answer from memory, or None when the cache cannot give it (not live, release
        not loaded): then call `load` and ask again, or use `locate()`. Raises as `locate()`
        does for bad input and for points outside every cell of a cached release."""
        wlon, wlat = point_to_wgs84(lon, lat, crs)  # InvalidInput first, as locate() does
        if not self.live:
            return None
        rid = self._active if release is None else release
        held = self._releases.get(rid) if rid is not None else None
        if held is None:
            return None
        i = held.index.assign_one(wlon, wlat)
        if i < 0:
            raise OutsideCoverage(_outside_message(held.index, lon, lat, crs))
        return Location(lon=wlon, lat=wlat, release=held.rid, **held.details[i])

    def load(self, session: Session, release: int | None = None) -> None:
        """Read a release (default: the active one) into memory; raises NotFound as
        `resolve_release` does. Kept only if no invalidation happened meanwhile."""
        with self._loading:
            generation = self.generation
            rid = resolve_release(session, release)
            if rid in self._releases and (release is not None or self._active == rid):
                return  # another request loaded it while this one waited
            held = self._releases.get(rid) or _read(session, rid)
            with self._lock:
                if generation != self.generation:
                    return
                self._releases[rid] = held
                if release is None:
                    self._active = rid


def _read(session: Session, rid: int) -> _Release:
    index = CellIndex.from_session(session, rid)
    frame = index.attributes
    assert frame is not None  # from_session always sets it
    workers: dict[str, list[dict[str, str]]] = {c: w for c, w in session.execute(WORKERS_SQL)}
    details = [
        {**row, "grid_workers": workers.get(row["cell_code"], [])}
        for row in frame.to_dict("records")
    ]
    logs.event("locate.cache_loaded", logger=LOGGER, release_id=rid, cells=len(details))
    return _Release(rid=rid, index=index, details=details)


def _outside_message(index: CellIndex, lon: float, lat: float, crs: Crs) -> str:
    """locate()'s message, the swap test answered from the same index."""
    message = f"the point ({lon}, {lat}) in {crs.value} lies {OUTSIDE_COVERAGE}."
    if -90 <= lon <= 90 and -180 <= lat <= 180:
        slon, slat = point_to_wgs84(lat, lon, crs)
        if index.assign_one(slon, slat) >= 0:
            message += " " + LOOKS_SWAPPED
    return message


class Listener:
    """LISTENs for activations on its own connection and invalidates `cache`; reconnects."""

    def __init__(
        self,
        cache: LocateCache,
        url: str,
        retry_seconds: float = 1.0,
        on_activation: Callable[[], None] | None = None,  # e.g. the tile cache's
    ) -> None:
        self.cache = cache
        self._on_activation = on_activation
        self._url = make_url(url)
        self._conninfo = self._url.set(drivername="postgresql").render_as_string(False)
        self._retry = retry_seconds
        self._stop = threading.Event()
        # stop() writes here to wake the thread at once, not at its next poll: an app's shutdown
        # (every test client's too) would otherwise wait up to the poll interval.
        self._wake_r, self._wake_w = socket.socketpair()
        self.listening = threading.Event()
        self.notifications = 0
        self._thread = threading.Thread(target=self._run, name="locate-listener", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        self.cache.set_live(False)
        if not self._thread.is_alive():
            self._wake_r.close()
            self._wake_w.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.cache.set_live(True)
                    ACTIVE_RELEASE.hear(self._url, live=True)
                    self.listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0):  # what has arrived, without waiting
                            self.cache.invalidate()
                            ACTIVE_RELEASE.forget(self._url)
                            if self._on_activation is not None:
                                self._on_activation()
                            self.notifications += 1
                        select.select([conn.fileno(), self._wake_r.fileno()], [], [], 5.0)
            except psycopg.Error as exc:
                logs.event(
                    "locate.listener_disconnected",
                    logger=LOGGER,
                    level=logging.WARNING,
                    error=type(exc).__name__,
                )
            finally:
                self.listening.clear()
                self.cache.set_live(False)
                ACTIVE_RELEASE.hear(self._url, live=False)
            if not self._stop.is_set():
                select.select([self._wake_r], [], [], self._retry)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `predicate` every 10 ms until it holds or `timeout` passes (tests, benches)."""
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        event.wait(0.01)
    return predicate()
