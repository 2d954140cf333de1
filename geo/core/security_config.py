"""Validation of `SecuritySettings` (geo/core/config.py): sound keys, and development keys only
where development is named.

Fail closed: the repository's development keys are accepted only with HOUNIAO_ENV=development;
with HOUNIAO_ENV unset they are refused, and explicit keys are held to production's rules. A key
given explicitly must look random in every environment (long enough, not one repeated pattern,
not an all-zero or plain-text AES key).

Kept apart from geo/core/config.py so that the settings class stays a plain list of fields.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections import Counter
from typing import TYPE_CHECKING, AnyStr

if TYPE_CHECKING:
    from geo.core.config import SecuritySettings

ENVIRONMENTS = ("development", "production")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DEV_MARK = "dev-only"
MIN_TEXT_KEY = 32  # characters
MIN_KEY_BITS = 80  # estimated from the key's own symbol frequencies (32 random hex: ~110)
MAKE_TEXT_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
MAKE_AES_KEY = "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"


def decode_key(key_id: str, value: str) -> bytes:
    """The 32 raw bytes of an AES-256 key given as base64; ValueError with the key id otherwise."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"encryption key {key_id!r} is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"encryption key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}")
    return raw


def _periodic(value: AnyStr) -> bool:
    """True when `value` is one shorter piece repeated ('abab', 'xxxx')."""
    return len(value) > 1 and value in (value + value)[1:-1]


def estimated_bits(value: str | bytes) -> float:
    """Shannon entropy of the value's own symbol frequencies times its length (a lower bound
    for nothing, an alarm for keys typed by hand: 'x' * 40 has 0 bits)."""
    counts = Counter(value)
    n = len(value)
    return n * -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def weak_text_key(value: str) -> str | None:
    """Why a secret or HMAC key is unfit, or None."""
    if len(value) < MIN_TEXT_KEY:
        return f"too short ({len(value)} characters, need {MIN_TEXT_KEY}+)"
    if _periodic(value) or len(set(value)) < 10 or estimated_bits(value) < MIN_KEY_BITS:
        return "not random (repeated or too few different characters)"
    return None


def weak_aes_key(raw: bytes) -> str | None:
    """Why 32 AES key bytes are unfit, or None. Random bytes are almost never all printable
    text (probability 1e-14) and have about 30 different values."""
    if not any(raw):
        return "all zero"
    if _periodic(raw) or len(set(raw)) < 16:
        return "not random (repeated bytes)"
    if all(0x20 <= b < 0x7F for b in raw):
        return "plain text, not random bytes"
    return None


def _dev_keys_in_use(s: SecuritySettings) -> list[str]:
    from geo.core.config import DEV_ENCRYPTION_KEY, DEV_HMAC_KEY, DEV_SECRET_KEY

    found = []
    if s.secret_key == DEV_SECRET_KEY or _DEV_MARK in s.secret_key:
        found.append("HOUNIAO_SECRET_KEY")
    if any(k == DEV_HMAC_KEY or _DEV_MARK in k for k in s.hmac_keyring.values()):
        found.append("HOUNIAO_HMAC_KEY")
    if DEV_ENCRYPTION_KEY in s.encryption_keys.values():
        found.append("HOUNIAO_ENCRYPTION_KEYS")
    return found


def _weak_keys(s: SecuritySettings, keys: dict[str, bytes], skip: list[str]) -> list[str]:
    """Explicitly given keys that do not look random (`skip`: the development keys in use)."""
    from geo.core.config import DEV_ENCRYPTION_KEY, DEV_HMAC_KEY, DEV_SECRET_KEY

    problems = []
    named = [] if "HOUNIAO_SECRET_KEY" in skip else [("HOUNIAO_SECRET_KEY", s.secret_key)]
    for kid, value in s.hmac_keyring.items():
        if value == DEV_HMAC_KEY or _DEV_MARK in value:
            continue  # refused or allowed as a development key, not as a weak one
        alone = kid not in s.hmac_keys  # HOUNIAO_HMAC_KEY, id "1"
        named.append(("HOUNIAO_HMAC_KEY" if alone else f"HOUNIAO_HMAC_KEYS[{kid!r}]", value))
    for name, value in named:
        why = weak_text_key(value)
        if why:
            problems.append(f"{name} is {why}; make one with {MAKE_TEXT_KEY}")
    for i, value in enumerate(s.previous_secret_keys):
        why = None if value == DEV_SECRET_KEY else weak_text_key(value)
        if why:
            problems.append(f"HOUNIAO_PREVIOUS_SECRET_KEYS[{i}] is {why}")
    for kid, raw in keys.items():
        why = None if s.encryption_keys[kid] == DEV_ENCRYPTION_KEY else weak_aes_key(raw)
        if why:
            name = f"HOUNIAO_ENCRYPTION_KEYS[{kid!r}]"
            problems.append(f"{name} is {why}; make one with {MAKE_AES_KEY}")
    return problems


def trusted_proxy_networks(value: str) -> list[str]:
    """The HOUNIAO_TRUSTED_PROXIES entries (addresses or CIDR networks), validated."""
    entries = [item.strip() for item in value.split(",") if item.strip()]
    for item in entries:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(
                f"HOUNIAO_TRUSTED_PROXIES: {item!r} is not an IP address or network"
            ) from None
    return entries


def _validate_hmac_keys(s: SecuritySettings) -> None:
    """Lookup-hash key ids: short (a hash keeps 64 characters with its id), the current one
    configured, named when there are several, and id "1" not given two different keys."""
    from geo.core.config import LEGACY_HMAC_KEY_ID

    for kid in s.hmac_keys:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,8}", kid):
            raise ValueError(f"HOUNIAO_HMAC_KEYS: key id {kid!r}: use 1-8 letters, digits, _ or -")
    given = s.hmac_keys.get(LEGACY_HMAC_KEY_ID)
    if s.hmac_key and given is not None and given != s.hmac_key:
        raise ValueError(
            'HOUNIAO_HMAC_KEY is key id "1": HOUNIAO_HMAC_KEYS gives id "1" another key'
        )
    ring = sorted(s.hmac_keyring)
    if s.hmac_key_id and s.hmac_key_id not in ring:
        raise ValueError(f"HOUNIAO_HMAC_KEY_ID {s.hmac_key_id!r} is not among the key ids {ring}")
    if not s.hmac_key_id and len(ring) > 1:
        raise ValueError(f"HOUNIAO_HMAC_KEY_ID must name the current key among {ring}")


def validate_security_settings(s: SecuritySettings) -> None:
    """Raise ValueError on a setting that would weaken the deployment."""
    if s.env and s.env not in ENVIRONMENTS:
        raise ValueError(f"HOUNIAO_ENV must be one of {', '.join(ENVIRONMENTS)}, got {s.env!r}")
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
    _validate_hmac_keys(s)
    if s.db_role and not _ROLE_NAME.match(s.db_role):
        raise ValueError(f"HOUNIAO_DB_ROLE {s.db_role!r} is not a plain lower-case role name")
    for name in (
        "access_token_minutes",
        "refresh_token_days",
        "session_days",
        "lockout_threshold",
        "lockout_window_minutes",
        "lockout_first_delay_seconds",
        "lockout_minutes",
        "retention_seasons",
    ):
        if getattr(s, name) < 1:
            raise ValueError(f"HOUNIAO_{name.upper()} must be at least 1")
    trusted_proxy_networks(s.trusted_proxies)
    dev_keys = _dev_keys_in_use(s)
    weak = _weak_keys(s, keys, skip=dev_keys)
    if s.is_development:
        if weak:
            raise ValueError("refusing to start with weak keys: " + "; ".join(weak))
        return
    if not s.env and dev_keys:
        raise ValueError(
            "refusing to start: HOUNIAO_ENV is not set and the repository's development keys"
            " are in use"
            f" ({', '.join(dev_keys)}): export HOUNIAO_ENV=development on a development machine,"
            " or give real keys (HOUNIAO_SECRET_KEY, HOUNIAO_HMAC_KEY, HOUNIAO_ENCRYPTION_KEYS,"
            " HOUNIAO_ENCRYPTION_KEY_ID)"
        )
    # Production (named, or HOUNIAO_ENV unset): no built-in key, nothing guessable.
    problems = [f"{name} (the development key must not be used)" for name in dev_keys]
    problems += weak
    if s.secret_key in s.hmac_keyring.values():
        problems.append("HOUNIAO_HMAC_KEY must differ from HOUNIAO_SECRET_KEY")
    if "dev1" in keys and "HOUNIAO_ENCRYPTION_KEYS" not in dev_keys:
        problems.append("HOUNIAO_ENCRYPTION_KEYS (the development key id dev1 must not be used)")
    if not s.db_role:
        problems.append("HOUNIAO_DB_ROLE (the API must not run as the table owner)")
    if s.access_token_minutes > 60:
        problems.append("HOUNIAO_ACCESS_TOKEN_MINUTES (at most 60 in production)")
    if problems:
        where = "in production" if s.env else "(HOUNIAO_ENV unset: production rules)"
        raise ValueError(f"refusing to start {where} with: " + "; ".join(problems))
