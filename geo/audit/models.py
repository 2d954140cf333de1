"""The audit log table. Append-only: the application role may only INSERT and SELECT (SELECT is
limited to admins by row-level security), a trigger refuses UPDATE, DELETE and TRUNCATE for
everyone, and each row carries the hash of the previous one (see geo/audit/chain.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base

OUTCOMES = ("ok", "denied", "failed", "error")


class AuditEvent(Base):
    """One audited action: who, role, when, action, object, fields revealed, purpose, outcome,
    client address. No foreign keys: the log outlives the accounts and objects it names."""

    __tablename__ = "audit_event"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")", name="outcome_known"
        ),
        CheckConstraint(
            "prev_hash ~ '^[0-9a-f]{64}$' AND row_hash ~ '^[0-9a-f]{64}$'", name="hashes_hex"
        ),
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_actor_name", "actor_name", "seq"),
        Index("ix_audit_event_action", "action", "seq"),
        Index("ix_audit_event_object_ids", "object_ids", postgresql_using="gin"),
        # Non-admin callers may insert but not read back: no RETURNING, ever.
        {"implicit_returning": False},
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))  # names of fields revealed, never values
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(10))
    client_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
