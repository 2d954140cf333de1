"""Encryption at rest (AES-256-GCM) with rotating keys, and keyed lookup hashes (HMAC-SHA256).

A ciphertext is one text value ``v1:<key id>:<base64url(nonce | ciphertext | tag)>``: the key id
sits beside the ciphertext, so keys rotate without a flag day. New writes use the active key
(HOUNIAO_ENCRYPTION_KEY_ID); every key still in HOUNIAO_ENCRYPTION_KEYS decrypts; `houniao privacy
rotate-keys` re-encrypts old values under the active key in committed batches while the API serves
(`rekey_in_batches`), after which the old key can be removed (`count_by_key` shows none left).

The `context` (e.g. "resident.id_number") is bound in as associated data: a ciphertext copied into
another column, or another kind of field, does not decrypt.

Lookup hashes find and deduplicate without decrypting: ``lookup_hash(value, kind="id_number")``
is stable for the life of HOUNIAO_HMAC_KEY (which therefore does not rotate; changing it means
recomputing every hash from the decrypted values).

    >>> ring = Keyring({"k1": bytes(32)}, active="k1")
    >>> token = encrypt("13812345678", context="resident.phone", keyring=ring)
    >>> token.startswith("v1:k1:")
    True
    >>> decrypt(token, context="resident.phone", keyring=ring)
    '13812345678'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from geo.core.config import security_settings
from geo.core.security_config import decode_key

VERSION = "v1"
_NONCE = 12


class DecryptionError(RuntimeError):
    """A ciphertext is malformed, tampered with, from another context, or its key is gone.

    A server-side fault (never the user's input), so not a DomainError: it surfaces as a 500.
    """


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"active key {self.active!r} is not in the keyring")
        for kid, key in self.keys.items():
            if len(key) != 32 or ":" in kid:
                raise ValueError(f"key {kid!r}: need 32 bytes and an id without ':'")

    @classmethod
    def from_settings(cls) -> Keyring:
        s = security_settings()
        keys = {kid: decode_key(kid, v) for kid, v in s.encryption_keys.items()}
        return cls(keys, s.encryption_key_id)


_default: Keyring | None = None


def default_keyring() -> Keyring:
    global _default
    if _default is None:
        _default = Keyring.from_settings()
    return _default


def _aad(context: str) -> bytes:
    if not context:
        raise ValueError("an encryption context is required, e.g. 'resident.phone'")
    return f"houniao:{context}".encode()


def encrypt(plaintext: str, *, context: str, keyring: Keyring | None = None) -> str:
    """Encrypt under the active key; a fresh random nonce every time."""
    ring = keyring or default_keyring()
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext.encode(), _aad(context))
    body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{VERSION}:{ring.active}:{body}"


def key_id(token: str) -> str:
    """The id of the key a ciphertext was written with."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != VERSION:
        raise DecryptionError("not a houniao ciphertext (expected v1:<key id>:<data>)")
    return parts[1]


def decrypt(token: str, *, context: str, keyring: Keyring | None = None) -> str:
    ring = keyring or default_keyring()
    kid = key_id(token)
    key = ring.keys.get(kid)
    if key is None:
        raise DecryptionError(f"encryption key {kid!r} is no longer configured")
    body = token.split(":", 2)[2]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionError("ciphertext is not valid base64") from None
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(context)).decode()
    except InvalidTag:
        raise DecryptionError(
            f"ciphertext does not authenticate under context {context!r} (tampered or misplaced)"
        ) from None


def needs_rekey(token: str, keyring: Keyring | None = None) -> bool:
    return key_id(token) != (keyring or default_keyring()).active


def rekey(token: str, *, context: str, keyring: Keyring | None = None) -> str:
    """The same plaintext under the active key (unchanged if it already is)."""
    ring = keyring or default_keyring()
    if not needs_rekey(token, ring):
        return token
    return encrypt(decrypt(token, context=context, keyring=ring), context=context, keyring=ring)


def lookup_hash(value: str, *, kind: str, key: str | None = None) -> str:
    """Hex HMAC-SHA256 of a normalised value, for exact lookup and deduplication.

    Pass the value already normalised by its validator (`ids.validate_id_number`,
    `ids.validate_mobile`), so that spellings of one number hash alike.
    """
    secret = (key or security_settings().hmac_key).encode()
    return hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


# --- registry of encrypted columns, for key rotation --------------------------------------------


@dataclass(frozen=True)
class EncryptedColumn:
    column: InstrumentedAttribute[Any]
    context: str

    @property
    def label(self) -> str:
        return f"{self.column.class_.__tablename__}.{self.column.key}"


ENCRYPTED: list[EncryptedColumn] = []


def register_encrypted(column: InstrumentedAttribute[Any], context: str) -> None:
    """Declare an encrypted column (next to its model) so `rotate-keys` re-encrypts it."""
    if not any(e.column is column for e in ENCRYPTED):
        ENCRYPTED.append(EncryptedColumn(column, context))


def registered() -> list[EncryptedColumn]:
    """Every encrypted column. The models declare them in `geo.models.load_models()`, which each
    entry point runs; before that this refuses, since a column missed here would keep its old key
    and be lost when the key is retired."""
    from geo.models import require_loaded

    require_loaded("the encrypted-column registry")
    return list(ENCRYPTED)


def rekey_columns(
    session: Session, *, dry_run: bool = False, keyring: Keyring | None = None
) -> dict[str, int]:
    """Re-encrypt every registered column's values that use an old key; counts per column.

    The caller owns the transaction (and, on scoped tables, calls `as_system` first).
    """
    ring = keyring or default_keyring()
    counts: dict[str, int] = {}
    current = f"{VERSION}:{ring.active}:%"
    for enc in registered():
        model = enc.column.class_
        (pk,) = model.__mapper__.primary_key
        rows = session.execute(
            select(pk, enc.column).where(enc.column.is_not(None), enc.column.not_like(current))
        ).all()
        counts[enc.label] = len(rows)
        if dry_run:
            continue
        for pk_value, token in rows:
            session.execute(
                update(model)
                .where(pk == pk_value)
                .values({enc.column.key: rekey(token, context=enc.context, keyring=ring)})
            )
    return counts


DEFAULT_BATCH = 500


def rekey_in_batches(
    session: Session,
    *,
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    keyring: Keyring | None = None,
    begin: Callable[[Session], None] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Re-encrypt old-key values under the active key, committing every `batch_size` rows.

    For a live site: each batch is one short transaction, so the API keeps serving and no lock
    is held for long. Resumable: values already under the active key are never selected, so a
    run cut short is simply run again. A value the application changed meanwhile is left to its
    writer (the UPDATE requires the ciphertext read), and the next run picks it up if it is still
    old. `begin(session)` is called at the start of every transaction (e.g. `as_system`);
    `progress(column, done)` after every batch. Returns the values re-encrypted per column (with
    `dry_run`: the values to re-encrypt, nothing changed).
    """
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    ring = keyring or default_keyring()
    current = f"{VERSION}:{ring.active}:%"
    counts: dict[str, int] = {}
    for enc in registered():
        model = enc.column.class_
        (pk,) = model.__mapper__.primary_key
        old = (enc.column.is_not(None), enc.column.not_like(current))
        if begin:
            begin(session)
        if dry_run:
            counts[enc.label] = session.scalar(select(func.count()).where(*old)) or 0
            continue
        done, last = 0, None
        while True:
            query = select(pk, enc.column).where(*old).order_by(pk).limit(batch_size)
            if last is not None:
                query = query.where(pk > last)
            rows = session.execute(query).all()
            if not rows:
                session.commit()
                break
            for pk_value, token in rows:
                result = session.execute(
                    update(model)
                    .where(pk == pk_value, enc.column == token)
                    .values({enc.column.key: rekey(token, context=enc.context, keyring=ring)})
                    .execution_options(synchronize_session=False)
                )
                done += result.rowcount  # type: ignore[attr-defined]
            last = rows[-1][0]
            session.commit()
            if begin:
                begin(session)
            if progress:
                progress(enc.label, done)
        counts[enc.label] = done
    return counts


def count_by_key(session: Session) -> dict[str, dict[str, int]]:
    """Per encrypted column: how many values each key id holds (what a retired key would
    strand)."""
    out: dict[str, dict[str, int]] = {}
    for enc in registered():
        kid = func.split_part(enc.column, ":", 2)
        rows = session.execute(
            select(kid, func.count()).where(enc.column.is_not(None)).group_by(kid)
        ).all()
        out[enc.label] = {str(k): int(n) for k, n in rows}
    return out
