"""`Idempotency-Key` for writes that must happen once: filing a case, and the grid worker's
phone app's queued writes (a concern-log entry, an intake report, a departure, an entry turned
into a case). A retry replays the first answer.

In the request's own transaction:

1. take a transaction-scoped advisory lock on (caller, key) *without waiting*; if another request
   with the same key holds it, that one is in flight: IdempotencyInFlight (409);
2. look the key up: stored with the same request hash -> replay the stored status and body;
   stored with another hash -> IdempotencyKeyReused (422);
3. otherwise do the work and store key, hash and answer in the same transaction (`remember`).

The lock is released when the transaction ends, after the stored answer is committed, so a retry
either sees the request in flight or sees its committed answer; never a second case. A failed
request stores nothing, so its retry runs afresh. `file_once` runs the three steps around the
filing, `once` around any other write; keys belong to the calling account (or, without one,
to its role). Every kind shares one table (`case_idempotency`): the request hash holds the path,
so a key sent again to another path is refused as reused, never mistaken for a replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal
from geo.cases.models import CaseIdempotency
from geo.core.clock import sql_now
from geo.core.errors import Conflict, InvalidInput

KEY_MAX = 255
RETENTION = timedelta(hours=24)
_LOCK_CLASS = 5003  # advisory-lock namespace of case idempotency keys (issue 5)


class IdempotencyKeyReused(InvalidInput):
    """The same Idempotency-Key came with a different request body (422)."""


class IdempotencyInFlight(Conflict):
    """A request with this Idempotency-Key is still being processed (409); retry shortly."""


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The answer to a filing: fresh (`replayed` False) or the stored one of an earlier try."""

    status: int
    body: dict[str, Any]
    replayed: bool


def actor(me: Principal) -> str:
    """Whose keys these are: the account, or the role for callers without one (the public)."""
    return f"account:{me.account_id}" if me.account_id is not None else me.role


def once(
    session: Session,
    me: Principal,
    key: str | None,
    *,
    method: str,
    path: str,
    payload: Any,
    work: Callable[[], dict[str, Any]],
    status: int = 201,
    case_id: Callable[[dict[str, Any]], int | None] = lambda body: None,
) -> Outcome:
    """Run `work` at most once per (caller, key): a second request with the same key and body
    gets the first answer back (`replayed`), with another body a 422, while the first is still
    running a 409. Without a key the work simply runs. `work`'s answer is stored as JSON (dates
    as ISO strings), so a replay reads exactly as the stored answer does."""
    key_actor = actor(me)
    req_hash = request_hash(method, path, payload)
    if key is not None:
        if me.role == PUBLIC and len(key) < 16:
            raise InvalidInput(
                "anonymous callers need an unguessable Idempotency-Key (16+ characters, a UUID)"
            )
        replay = begin(session, actor=key_actor, key=key, req_hash=req_hash)
        if replay is not None:
            return Outcome(replay.status, replay.body, replayed=True)
    result = jsonable(work())
    if key is not None:
        remember(
            session,
            actor=key_actor,
            key=key,
            req_hash=req_hash,
            status=status,
            body=result,
            case_id=case_id(result),
        )
    return Outcome(status, result, replayed=False)


def jsonable(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as it reads once stored in JSONB: dates and times as ISO 8601 strings.

    >>> from datetime import date
    >>> jsonable({"on": date(2026, 11, 30), "n": [1]})
    {'on': '2026-11-30', 'n': [1]}
    """

    def iso(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON")

    loaded: dict[str, Any] = json.loads(json.dumps(body, default=iso, ensure_ascii=False))
    return loaded


def file_once(
    session: Session,
    me: Principal,
    key: str | None,
    *,
    method: str,
    path: str,
    payload: Any,
    work: Callable[[], dict[str, Any]],
    status: int = 201,
) -> Outcome:
    """Run `work` (filing a case: its answer holds `case`) at most once per key and request.

    Without a key the work simply runs. Anonymous callers need an unguessable key (16+
    characters), since their keys are shared by the whole public role.
    """
    return once(
        session,
        me,
        key,
        method=method,
        path=path,
        payload=payload,
        work=work,
        status=status,
        case_id=lambda body: body["case"].get("id"),
    )


def request_hash(method: str, path: str, body: Any) -> str:
    """SHA-256 of the method, path and canonical JSON body (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _lock_id(actor: str, key: str) -> int:
    digest = hashlib.blake2b(f"{actor}\0{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def begin(session: Session, *, actor: str, key: str, req_hash: str) -> Replay | None:
    """Claim `key` for this request, or return the stored answer to replay."""
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1-{KEY_MAX} printable characters")
    got = session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK_CLASS, _lock_id(actor, key))))
    if not got:
        raise IdempotencyInFlight(
            "a request with this Idempotency-Key is still in flight; retry in a moment",
            headers={"Retry-After": "1"},
        )
    row = session.execute(
        select(CaseIdempotency).where(CaseIdempotency.actor == actor, CaseIdempotency.key == key)
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.request_hash != req_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with a different request body; use a new key"
        )
    return Replay(status=row.response_status, body=row.response_body)


def remember(
    session: Session,
    *,
    actor: str,
    key: str,
    req_hash: str,
    status: int,
    body: dict[str, Any],
    case_id: int | None,
) -> None:
    """Store the answer under the key (same transaction as the work)."""
    session.execute(
        insert(CaseIdempotency).values(
            actor=actor,
            key=key,
            request_hash=req_hash,
            response_status=status,
            response_body=body,
            case_id=case_id,
        )
    )


def purge(session: Session) -> int:
    """Forget keys older than the retention period; returns how many."""
    gone = session.scalars(
        delete(CaseIdempotency)
        .where(CaseIdempotency.created_at < sql_now() - RETENTION)
        .returning(CaseIdempotency.key)
    ).all()
    return len(gone)
