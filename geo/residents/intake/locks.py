"""What the intake serialises on, and no more.

Two intakes must not decide about the same person at once (two reports about one new person
would found two archives), nor rewrite the same archive at once (each would recompute it from the
reports it sees, and the later write would drop the other's report). Everything else (checking,
placing, geocoding, writing other people's reports) needs no queue.

- `take_exclusive`: one queue for everything (review decisions, merges and splits relink
  archives by id, and imports of more than one chunk lock too much to name it key by key).
- `take_keyed`: a request's intake takes the same lock *shared*, then one lock per key its
  reports could link or collide under (blocking keys, older-key hashes, its channel's external
  ids), all in one sorted pass; so two intakes that share no key never wait for each other, and
  ordered passes cannot deadlock. A linkage candidate is only ever found under a shared blocking
  key, so the decisions are those of some serial order.
- `lock_archives`: before writing, the archives the reports link to (a second sorted pass, after
  every key lock, so it cannot close a cycle with the first).

Measured in bench/peak_day.py (bench/RESULTS.md): with one queue, the intake's share of its
requests' time grew with the load until the requests waited seconds behind each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core import lock_waits

LOCK_KEY = 0x686F6E6E69616F  # pg_advisory_xact_lock key of the intake ("honniao")
ARCHIVE_CLASS = 0x6172  # pg_advisory_xact_lock(int4, int4) namespace of archive ids ("ar")

# Sorted in the subquery and fenced by OFFSET 0, so the locks are taken in key order.
_IN_ORDER = (
    "SELECT count(pg_advisory_xact_lock({args})) FROM"
    " (SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k OFFSET 0) AS ordered"
)


def take_exclusive(session: Session) -> None:
    """The whole intake to itself (waits for every intake in flight, keyed ones included)."""
    with lock_waits.waiting("intake"):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


def take_keyed(session: Session, keys: Iterable[Hashable]) -> None:
    """The intake shared, then each key (tuples of str/int/None) exclusively, in one pass."""
    ids = sorted({_key_id(k) for k in keys})
    with lock_waits.waiting("intake"):
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": LOCK_KEY})
        if ids:
            session.execute(text(_IN_ORDER.format(args="k")), {"keys": ids})


def lock_archives(session: Session, resident_ids: Iterable[int]) -> None:
    """Each archive about to be rewritten, in id order."""
    ids = sorted(set(resident_ids))
    if ids:
        with lock_waits.waiting("intake"):
            sql = _IN_ORDER.format(args=f"{ARCHIVE_CLASS}, k::int")
            session.execute(text(sql), {"keys": ids})


def _key_id(key: Hashable) -> int:
    """A stable signed 64-bit id of a key (Python's hash() differs between processes)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8, person=b"hn-intake").digest()
    return int.from_bytes(digest, "big", signed=True)
