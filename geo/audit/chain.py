"""The hash chain: canonical JSON of a row's fields, hashed together with the previous row's hash.

``row_hash = sha256(prev_hash + "\\n" + canonical_json(fields without row_hash))``; the first
row's prev_hash is 64 zeros. Canonical JSON: sorted keys, no spaces, UTF-8, timestamps in UTC
with microseconds, and detail values limited to what JSONB returns unchanged (no floats).

    >>> from datetime import datetime, timezone
    >>> row = {"seq": 1, "at": datetime(2026, 6, 1, tzinfo=timezone.utc), "action": "auth.login"}
    >>> canonical(row)
    b'{"action":"auth.login","at":"2026-06-01T00:00:00.000000Z","seq":1}'
    >>> len(row_hash(GENESIS, row))
    64
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from geo.privacy.masking import redact_text

GENESIS = "0" * 64
# Transaction-level advisory lock that serialises appends (b"hnaudit1" as a signed bigint).
LOCK_KEY = int.from_bytes(b"hnaudit1", "big", signed=True)

HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "actor_role",
    "action",
    "object_type",
    "object_ids",
    "fields",
    "purpose",
    "outcome",
    "client_addr",
    "detail",
    "prev_hash",
)


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(
        _plain(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "row_hash"}
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(body)).hexdigest()


def clean_detail(value: Any) -> Any:
    """Detail as JSON that survives a JSONB round trip unchanged, with ID and phone numbers
    in free text masked (the log records that something was seen, never the value)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): clean_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [clean_detail(v) for v in items]
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return redact_text(str(value))  # floats, decimals, UUIDs: as text
