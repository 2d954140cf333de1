"""The open-cases feed's Features kept in memory, one store per API process, keyed by what
decides each one's text: the case's id, version and clock state (geo/cases/feed.py).

Every change of a case bumps its version and time alone moves its clock state, so a Feature
kept under (id, version, state) is the text PostgreSQL would write again. A request reads the
scope's (id, version, state) rows - the ETag's own rows, ~0.3x the bare query at 10,000 cases -
asks PostgreSQL only for the Features this process does not hold (after one case changes: one)
and joins the rest from here. Building the whole body costs ~2-4x the bare query; a dispatcher
room's maps polling the same city mostly pay for the rows. Bounded by bytes, least recently used
out first; a Feature of an old version is never asked for again and ages out. A category's
renamed label (not in the version) shows once its cases change or leave memory: as its ETag
already has it (a 304 keeps the old label too).
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import LRUCache
from sqlalchemy.orm import Session

from geo.cases import feed
from geo.cases.feed import COLLECTION_HEAD, COLLECTION_TAIL, IndexRow


class FeedFeatures:
    """{(id, version, clock state): the Feature's UTF-8 JSON} of one process, shared by its
    threads."""

    def __init__(self, max_bytes: int) -> None:
        self._texts: LRUCache[IndexRow, bytes] = LRUCache(maxsize=max_bytes, getsizeof=len)
        self._lock = threading.Lock()
        self.counts = {"hit": 0, "miss": 0}

    def known(self, rows: list[IndexRow]) -> dict[IndexRow, bytes]:
        with self._lock:
            found = {row: text for row in rows if (text := self._texts.get(row)) is not None}
            self.counts["hit"] += len(found)
            self.counts["miss"] += len(rows) - len(found)
            return found

    def keep(self, texts: list[tuple[IndexRow, bytes]]) -> None:
        with self._lock:
            for row, text in texts:
                if len(text) <= self._texts.maxsize:  # else LRUCache raises
                    self._texts[row] = text


def open_cases(
    session: Session, principal: Any, store: FeedFeatures, *, unless_etag_in: list[str]
) -> tuple[bytes | None, str]:
    """`feed.open_cases_json_etag`'s body and ETag, its Features from `store` where it has them;
    no body (None) when the ETag is one of `unless_etag_in` (the caller's If-None-Match).

    The statements share the transaction's clock (now() is the transaction's start) but not,
    under READ COMMITTED, its snapshot: a case that changed in between comes back with another
    version, and then the whole body is built in one statement instead."""
    index = feed.open_index(session, principal)
    tag = feed.etag_of(principal, index)
    if tag in unless_etag_in:
        return None, tag
    rows = index.rows
    texts = store.known(rows)
    missing = [row for row in rows if row not in texts]
    if missing:
        fresh = feed.feature_texts(session, principal, [i for i, _, _ in missing])
        if {row for row, _ in fresh} != set(missing):
            return feed.open_cases_json_etag(session, principal)
        store.keep(fresh)
        texts.update(fresh)
    return COLLECTION_HEAD + b",".join(texts[row] for row in rows) + COLLECTION_TAIL, tag
