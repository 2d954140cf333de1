"""API keys for channel accounts (the six reporting channels' systems), sent as `X-API-Key`.

A key reads ``hn_<8 hex prefix>_<43 random characters>``. It is shown once, when made; the
database keeps its prefix (to find the row) and its SHA-256 digest (to prove it). Rotation makes a
new key and retires the old ones, at once or after a grace period for the channel to switch.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.accounts.models import Account, ApiKey
from geo.accounts.tokens import digest, principal_for, rowcount
from geo.core.errors import InvalidInput, Unauthorized

_FORMAT = re.compile(r"^hn_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
_TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is updated at most this often


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _active(now: datetime) -> ColumnElement[bool]:
    return (ApiKey.revoked_at.is_(None)) & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)


def create_key(session: Session, account: Account, *, now: datetime | None = None) -> str:
    """A new key for a channel account; the plaintext is returned once and never stored."""
    if account.role != Role.channel:
        raise InvalidInput(f"only channel accounts use API keys; {account.name} is {account.role}")
    prefix = secrets.token_hex(4)
    key = f"hn_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(account_id=account.id, prefix=prefix, key_hash=digest(key), created_at=_now(now))
    )
    session.flush()
    return key


def rotate(
    session: Session,
    account: Account,
    *,
    grace: timedelta = timedelta(0),
    now: datetime | None = None,
) -> str:
    """A new key; the account's other keys stop working now, or after `grace`."""
    current = _now(now)
    old = update(ApiKey).where(ApiKey.account_id == account.id, _active(current))
    if grace > timedelta(0):
        session.execute(old.values(expires_at=current + grace))
    else:
        session.execute(old.values(revoked_at=current))
    return create_key(session, account, now=current)


def revoke_all(session: Session, account: Account, *, now: datetime | None = None) -> int:
    current = _now(now)
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.account_id == account.id, _active(current))
        .values(revoked_at=current)
    )
    return rowcount(result)


def active_keys(
    session: Session, account: Account, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    current = _now(now)
    rows = session.scalars(
        select(ApiKey)
        .where(ApiKey.account_id == account.id, _active(current))
        .order_by(ApiKey.created_at)
    )
    return [
        {
            "prefix": k.prefix,
            "created_at": k.created_at,
            "expires_at": k.expires_at,
            "last_used_at": k.last_used_at,
        }
        for k in rows
    ]


def principal_from_api_key(
    session: Session, key: str, *, now: datetime | None = None, client_addr: str | None = None
) -> Principal:
    """The channel principal of a valid key; Unauthorized otherwise (one message for all)."""
    current = _now(now)
    match = _FORMAT.match(key.strip())
    if not match:
        raise Unauthorized("invalid API key", headers={"WWW-Authenticate": "ApiKey"})
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.prefix == match.group(1))
    ).first()
    expected = row.ApiKey.key_hash if row else digest("")
    valid = hmac.compare_digest(expected, digest(key.strip()))
    if (
        row is None
        or not valid
        or row.ApiKey.revoked_at is not None
        or (row.ApiKey.expires_at is not None and row.ApiKey.expires_at <= current)
        or not row.Account.is_active
        or row.Account.role != Role.channel
    ):
        raise Unauthorized("invalid API key", headers={"WWW-Authenticate": "ApiKey"})
    if row.ApiKey.last_used_at is None or row.ApiKey.last_used_at < current - _TOUCH_EVERY:
        row.ApiKey.last_used_at = current
    return principal_for(row.Account, client_addr=client_addr, via="api_key")
