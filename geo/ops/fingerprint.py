"""A database's fingerprint, to compare a restored copy with its source: rows per table, and per
personal-data column a checksum of its ciphertexts, the key ids they use, and whether every one
still decrypts with the configured keys.

Two databases with equal fingerprints hold the same rows per table and the same encrypted
personal data, byte for byte, readable with today's keys.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, literal, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from geo.access.principal import as_system
from geo.privacy import crypto


def encrypted_columns() -> list[crypto.EncryptedColumn]:
    """Every encrypted personal-data column (registered by `geo.models.load_models`)."""
    return crypto.registered()


@dataclass
class ColumnPrint:
    rows: int  # non-null values
    sha256: str  # of "pk:ciphertext" lines in primary-key order
    key_ids: dict[str, int]  # key id -> values encrypted under it
    not_encrypted: int  # values that are not a houniao ciphertext (plaintext at rest)
    undecryptable: int  # ciphertexts that no configured key opens (or that fail to authenticate)


@dataclass
class Fingerprint:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows
    personal: dict[str, ColumnPrint] = field(default_factory=dict)  # "table.column" -> print

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "personal": {k: vars(v) for k, v in self.personal.items()}}


def table_rows(session: Session) -> dict[str, int]:
    """Exact row counts of every table in the public schema."""
    names = session.scalars(
        text(
            "SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') ORDER BY relname"
        )
    ).all()
    # Names come from the catalogue, quoted by quote_ident: no caller's value reaches the SQL.
    return {
        n.strip('"'): int(session.scalar(text(f"SELECT count(*) FROM {n}")) or 0) for n in names
    }


def column_print(session: Session, enc: crypto.EncryptedColumn) -> ColumnPrint:
    (pk,) = enc.column.class_.__mapper__.primary_key
    lines = func.string_agg(func.concat(pk, ":", enc.column), aggregate_order_by(literal("\n"), pk))
    rows, digest = session.execute(
        select(
            func.count(enc.column),
            func.encode(func.sha256(func.convert_to(lines, "UTF8")), "hex"),
        ).where(enc.column.is_not(None))
    ).one()
    keys: Counter[str] = Counter()
    plain = broken = 0
    for token in session.scalars(select(enc.column).where(enc.column.is_not(None))).yield_per(1000):
        try:
            keys[crypto.key_id(token)] += 1
        except crypto.DecryptionError:
            plain += 1
            continue
        try:
            crypto.decrypt(token, context=enc.context)
        except crypto.DecryptionError:
            broken += 1
    return ColumnPrint(int(rows), digest or "", dict(keys), plain, broken)


def fingerprint(session: Session) -> Fingerprint:
    """Every row counts: run as the system (row-level security applies to the owner too)."""
    as_system(session, "ops:fingerprint")
    return Fingerprint(
        rows=table_rows(session),
        personal={enc.label: column_print(session, enc) for enc in encrypted_columns()},
    )
