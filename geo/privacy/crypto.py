"""Encryption at rest (AES-256-GCM) with rotating keys, and keyed lookup hashes (HMAC-SHA256).

A ciphertext is one text value ``v1:<key id>:<base64url(nonce | ciphertext | tag)>``: the key id
sits beside the ciphertext, so keys rotate without a flag day. New writes use the active key
(HOUNIAO_ENCRYPTION_KEY_ID); every key still in HOUNIAO_ENCRYPTION_KEYS decrypts; `houniao privacy
rotate-keys` re-encrypts old values under the active key in committed batches while the API serves
(`rekey_in_batches`), after which the old key can be removed (`count_by_key` shows none left).

The `context` (e.g. "resident.id_number") is bound in as associated data: a ciphertext copied into
another column, or another kind of field, does not decrypt.

Lookup hashes find and deduplicate without decrypting: ``lookup_hash(value, kind="id_number")``
is the HMAC-SHA256 under the current HMAC key (HOUNIAO_HMAC_KEY_ID), stored with its key id in
front (``k2:<hex>``; bare hex for key id "1", the single HOUNIAO_HMAC_KEY of before key ids).
HMAC keys rotate like the encryption keys, except that a hash cannot be converted: during a
rotation lookups compare with the value's hash under every configured key (`lookup_hashes`),
stored hashes read for comparison are brought to the current key (`current_hash`), and `houniao
privacy rehash` recomputes the stored ones from the decrypted values in committed batches
(`rehash_in_batches`), after which the old HMAC key can be removed (`count_hashes_by_key`).

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, case, func, literal, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from geo.core.config import LEGACY_HMAC_KEY_ID, security_settings
from geo.core.security_config import decode_key

VERSION = "v1"
_NONCE = 12
HASH_WIDTH = 64  # characters of every lookup-hash column


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


def encrypt_many(
    plaintexts: list[str], *, context: str, keyring: Keyring | None = None
) -> list[str]:
    """`encrypt` of each value (a fresh nonce each), with the cipher and associated data made
    once: for bulk writers (the synthetic generator's millions of rows)."""
    ring = keyring or default_keyring()
    cipher, aad = AESGCM(ring.keys[ring.active]), _aad(context)
    head = f"{VERSION}:{ring.active}:"
    out = []
    for plaintext in plaintexts:
        nonce = os.urandom(_NONCE)
        body = base64.urlsafe_b64encode(nonce + cipher.encrypt(nonce, plaintext.encode(), aad))
        out.append(head + body.decode().rstrip("="))
    return out


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


def _hmac_hex(secret: str, value: str, kind: str) -> str:
    return hmac.new(secret.encode(), f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


def _with_id(kid: str, digest: str) -> str:
    """A stored lookup hash: bare hex under key id "1" (as before key ids), else
    ``<key id>:<hex>`` cut to 64 characters (at least 220 bits of the HMAC with an 8-character id),
    so every hash column keeps its width."""
    if kid == LEGACY_HMAC_KEY_ID:
        return digest
    return f"{kid}:{digest}"[:HASH_WIDTH]


def lookup_hash(value: str, *, kind: str, key: str | None = None) -> str:
    """Keyed hash of a normalised value under the current HMAC key, for exact lookup and
    deduplication (with `key`: the bare hex under that key).

    Pass the value already normalised by its validator (`ids.validate_id_number`,
    `ids.validate_mobile`), so that spellings of one number hash alike.
    """
    if key is not None:
        return _hmac_hex(key, value, kind)
    s = security_settings()
    kid = s.hmac_active_id
    return _with_id(kid, _hmac_hex(s.hmac_keyring[kid], value, kind))


def lookup_hash_many(values: list[str], *, kind: str) -> list[str]:
    """`lookup_hash` of each value under the current HMAC key, the key read once."""
    s = security_settings()
    kid = s.hmac_active_id
    secret = s.hmac_keyring[kid]
    return [_with_id(kid, _hmac_hex(secret, v, kind)) for v in values]


def lookup_hashes(value: str, *, kind: str) -> list[str]:
    """The value's hash under every configured HMAC key, the current one first: what a lookup
    compares stored hashes with while `houniao privacy rehash` has not finished."""
    s = security_settings()
    active = s.hmac_active_id
    order = [active] + sorted(k for k in s.hmac_keyring if k != active)
    return [_with_id(kid, _hmac_hex(s.hmac_keyring[kid], value, kind)) for kid in order]


def hash_key_id(stored: str) -> str:
    """The id of the HMAC key a stored lookup hash was made with."""
    kid, sep, _ = stored.partition(":")
    return kid if sep else LEGACY_HMAC_KEY_ID


def is_current_hash(stored: str) -> bool:
    return hash_key_id(stored) == security_settings().hmac_active_id


def current_hash(stored: str, *, kind: str, ciphertext: str | None, context: str) -> str:
    """A stored hash as the current key makes it: itself, or (made with an older key, during a
    rotation) recomputed from the decrypted value beside it."""
    if is_current_hash(stored) or ciphertext is None:
        return stored
    return lookup_hash(decrypt(ciphertext, context=context), kind=kind)


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


# --- registry of lookup-hash columns, for HMAC key rotation -------------------------------------


@dataclass(frozen=True)
class HashedColumn:
    column: InstrumentedAttribute[Any]  # the lookup hash
    source: InstrumentedAttribute[Any]  # the ciphertext of the value it hashes (same row)
    kind: str  # the lookup-hash kind ("phone", "id_number")

    @property
    def label(self) -> str:
        return f"{self.column.class_.__tablename__}.{self.column.key}"

    @property
    def context(self) -> str:
        for enc in ENCRYPTED:
            if enc.column is self.source:
                return enc.context
        raise LookupError(f"{self.label}: its source column is not registered as encrypted")


HASHED: list[HashedColumn] = []


def register_hashed(
    column: InstrumentedAttribute[Any], source: InstrumentedAttribute[Any], kind: str
) -> None:
    """Declare a lookup-hash column and the encrypted column it hashes (next to its model, after
    `register_encrypted(source, ...)`), so `rehash` recomputes it under a new HMAC key."""
    if not any(h.column is column for h in HASHED):
        HASHED.append(HashedColumn(column, source, kind))


def hashed_columns() -> list[HashedColumn]:
    """Every lookup-hash column (after `geo.models.load_models()`, like `registered()`: a column
    missed here would keep hashes no lookup finds once the old HMAC key is removed)."""
    from geo.models import require_loaded

    require_loaded("the lookup-hash registry")
    return list(HASHED)


def hash_key_expr(column: InstrumentedAttribute[Any]) -> Any:
    """SQL: the HMAC key id of a stored hash (see `hash_key_id`)."""
    return case(
        (column.contains(":"), func.split_part(column, ":", 1)), else_=literal(LEGACY_HMAC_KEY_ID)
    )


def _not_current(column: InstrumentedAttribute[Any], active: str) -> Any:
    if active == LEGACY_HMAC_KEY_ID:
        return column.contains(":")
    return ~column.startswith(f"{active}:", autoescape=True)


REHASH_PASSES = 5  # rows a writer held locked are taken on a later pass


def rehash_in_batches(
    session: Session,
    *,
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    begin: Callable[[Session], None] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Recompute, under the current HMAC key, every stored lookup hash made with an older one,
    from the decrypted value beside it, committing every `batch_size` rows; per column, the
    hashes rehashed by the key id they had (with `dry_run`: to rehash, nothing changed).

    For a live site, like `rekey_in_batches`: short transactions, resumable (hashes under the
    current key are never selected). Rows are taken FOR UPDATE SKIP LOCKED: the rehash never
    waits on a writer's row lock (so it cannot deadlock with the intake rewriting an archive),
    and a row skipped is taken on a later pass. Nothing needs the intake's lock: every lookup
    during the rotation compares under all configured keys.
    """
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    active = security_settings().hmac_active_id
    out: dict[str, dict[str, int]] = {}
    for h in hashed_columns():
        table = h.column.class_.__table__
        (pk,) = h.column.class_.__mapper__.primary_key
        old = (h.column.is_not(None), h.source.is_not(None), _not_current(h.column, active))
        kid = hash_key_expr(h.column)
        if begin:
            begin(session)
        if dry_run:
            rows = session.execute(select(kid, func.count()).where(*old).group_by(kid)).all()
            out[h.label] = {str(k): int(n) for k, n in rows}
            continue
        done: dict[str, int] = {}
        for _ in range(REHASH_PASSES):
            last = None
            while True:
                query = (
                    select(pk, h.column, h.source)
                    .where(*old)
                    .order_by(pk)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
                if last is not None:
                    query = query.where(pk > last)
                rows = session.execute(query).all()
                if not rows:
                    break
                params = []
                for pk_value, stored, token in rows:
                    plain = decrypt(token, context=h.context)
                    params.append({"_pk": pk_value, "_hash": lookup_hash(plain, kind=h.kind)})
                    done[hash_key_id(stored)] = done.get(hash_key_id(stored), 0) + 1
                session.execute(
                    update(table)
                    .where(table.c[pk.key] == bindparam("_pk"))
                    .values({h.column.key: bindparam("_hash")}),
                    params,
                )
                last = rows[-1][0]
                session.commit()
                if begin:
                    begin(session)
                if progress:
                    progress(h.label, sum(done.values()))
            session.commit()
            if begin:
                begin(session)
            if not session.scalar(select(func.count()).where(*old)):
                break
            time.sleep(0.2)  # a writer holds some: let it commit
        out[h.label] = done
    return out


def count_hashes_by_key(session: Session) -> dict[str, dict[str, int]]:
    """Per lookup-hash column: how many hashes each HMAC key id made (what removing a key would
    leave no lookup able to find)."""
    out: dict[str, dict[str, int]] = {}
    for h in hashed_columns():
        kid = hash_key_expr(h.column)
        rows = session.execute(
            select(kid, func.count()).where(h.column.is_not(None)).group_by(kid)
        ).all()
        out[h.label] = {str(k): int(n) for k, n in rows}
    return out
