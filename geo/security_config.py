"""Validation of `SecuritySettings` (geo/config.py): sound keys, no dev defaults in production.

Kept apart from geo/config.py so that the settings class stays a plain list of fields.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.config import SecuritySettings

ENVIRONMENTS = ("development", "test", "production")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DEV_MARK = "dev-only"


def decode_key(key_id: str, value: str) -> bytes:
    """The 32 raw bytes of an AES-256 key given as base64; ValueError with the key id otherwise."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"encryption key {key_id!r} is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"encryption key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}")
    return raw


def validate_security_settings(s: SecuritySettings) -> None:
    """Raise ValueError on a setting that would weaken the deployment."""
    if s.env not in ENVIRONMENTS:
        raise ValueError(f"HOUNIAO_ENV must be one of {ENVIRONMENTS}, got {s.env!r}")
    if not s.encryption_keys:
        raise ValueError("HOUNIAO_ENCRYPTION_KEYS is empty: give at least one key id -> key")
    keys = {kid: decode_key(kid, v) for kid, v in s.encryption_keys.items()}
    if s.encryption_key_id not in s.encryption_keys:
        raise ValueError(
            f"HOUNIAO_ENCRYPTION_KEY_ID {s.encryption_key_id!r} is not among the key ids"
            f" {sorted(s.encryption_keys)}"
        )
    for kid in keys:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", kid):
            raise ValueError(f"encryption key id {kid!r}: use 1-16 letters, digits, _ or -")
    if s.db_role and not _ROLE_NAME.match(s.db_role):
        raise ValueError(f"HOUNIAO_DB_ROLE {s.db_role!r} is not a plain lower-case role name")
    for name in ("access_token_minutes", "refresh_token_days", "session_days",
                 "lockout_threshold", "lockout_window_minutes", "lockout_minutes",
                 "retention_seasons"):
        if getattr(s, name) < 1:
            raise ValueError(f"HOUNIAO_{name.upper()} must be at least 1")
    if s.env != "production":
        return
    # Production: refuse every built-in default and anything short enough to guess.
    problems = []
    if _DEV_MARK in s.secret_key or len(s.secret_key) < 32:
        problems.append("HOUNIAO_SECRET_KEY (set 32+ random characters)")
    if _DEV_MARK in s.hmac_key or len(s.hmac_key) < 32:
        problems.append("HOUNIAO_HMAC_KEY (set 32+ random characters)")
    if s.hmac_key == s.secret_key:
        problems.append("HOUNIAO_HMAC_KEY must differ from HOUNIAO_SECRET_KEY")
    if any(_DEV_MARK.encode() in raw for raw in keys.values()) or "dev1" in keys:
        problems.append("HOUNIAO_ENCRYPTION_KEYS (the development key must not be used)")
    if not s.db_role:
        problems.append("HOUNIAO_DB_ROLE (the API must not run as the table owner)")
    if s.access_token_minutes > 60:
        problems.append("HOUNIAO_ACCESS_TOKEN_MINUTES (at most 60 in production)")
    if problems:
        raise ValueError("refusing to start in production with: " + "; ".join(problems))
