"""The open-cases feed's bodies kept in memory, one store per API process, keyed by their ETag.

The ETag (geo/cases/feed.py) is a hash over (id, version, clock state) of every open case in a
scope, so two requests with the same ETag would be sent the same body. A dispatcher room's maps
poll the same feed: the first reader after a change builds the body (~2-3x its bare SQL at
10,000 cases), every other reader until the next change pays only for the ETag (~0.3x) and a
copy from here. Bounded by bytes, least recently used out first; a body older than the newest
ETag is simply never asked for again and ages out.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache


class FeedBodies:
    """{ETag: body} of one process, shared by its threads."""

    def __init__(self, max_bytes: int) -> None:
        self._bodies: LRUCache[str, bytes] = LRUCache(maxsize=max_bytes, getsizeof=len)
        self._lock = threading.Lock()
        self.counts = {"hit": 0, "miss": 0}

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(etag)
            self.counts["miss" if body is None else "hit"] += 1
            return body

    def put(self, etag: str, body: bytes) -> None:
        if len(body) > self._bodies.maxsize:
            return  # larger than the whole store: LRUCache would raise
        with self._lock:
            self._bodies[etag] = body
