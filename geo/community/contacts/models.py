"""Tables of designated contacts: who looks after each household of a cell (the grid worker, or
a party member or volunteer of the grid), and the append-only log of contacts made.

A household is the residents whose stays in one cell share an address, by the SQL function
`contact_household_key(address, resident_id)` (migration 0013people): the address lower-cased
without spaces and punctuation; a stay without an address is a household of its own
(`resident:<id>`). One live assignment per household (`ended_at IS NULL`, a partial unique
index); a new assignment ends the old one. Scope columns on both tables: grid workers their
cells, community and street staff theirs (the query filters, and RLS).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base
from geo.core.clock import sql_now

TS = DateTime(timezone=True)
NOTE_MAX = 200  # a short note; no medical content (geo/community/contacts/notes.py)


class ContactKind(StrEnum):
    grid_worker = "grid_worker"  # 网格员
    party_member = "party_member"  # 党员 (党员联人头)
    volunteer = "volunteer"  # 志愿者


CONTACT_LABELS = {
    ContactKind.grid_worker: "网格员",
    ContactKind.party_member: "党员",
    ContactKind.volunteer: "志愿者",
}


class Channel(StrEnum):
    visit = "visit"  # 走访
    call = "call"  # 电话
    message = "message"  # 微信/短信


CHANNEL_LABELS = {Channel.visit: "走访", Channel.call: "电话", Channel.message: "消息"}


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in enum) + ")"


def _place() -> CheckConstraint:
    return CheckConstraint(
        "cell_code ~ '^[0-9]{15}$' AND left(cell_code, 12) = community_code"
        " AND left(cell_code, 9) = street_code",
        name="cell_codes",
    )


class Assignment(Base):
    """专人对接: a household of a cell and its designated contact, from `assigned_at` until
    `ended_at` (replaced by another assignment)."""

    __tablename__ = "contact_assignment"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("contact_kind", ContactKind), name="kind_known"),
        CheckConstraint(
            "(contact_kind = 'grid_worker') = (grid_worker_id IS NOT NULL)"
            " AND (contact_kind = 'grid_worker') = (member_id IS NULL)",
            name="contact_named_once",
        ),
        Index(
            "uq_contact_assignment_live",
            "cell_code",
            "household_key",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_contact_assignment_contact", "contact_kind", "grid_worker_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    household_key: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact_kind: Mapped[str] = mapped_column(String(20))
    grid_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), nullable=True
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_member.id"), nullable=True)
    contact_name: Mapped[str] = mapped_column(String(50))
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    ended_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class ContactLog(Base):
    """常态互动: one visit, call or message to a resident, on a (city) date, with a short note.
    Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "contact_log"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("channel", Channel), name="channel_known"),
        CheckConstraint(f"note IS NULL OR char_length(note) <= {NOTE_MAX}", name="note_short"),
        Index("ix_contact_log_resident", "resident_id", "contacted_on"),
        Index("ix_contact_log_cell", "cell_code", "contacted_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    cell_code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    household_key: Mapped[str] = mapped_column(String(300))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_assignment.id"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    contacted_on: Mapped[date] = mapped_column(Date)
    by_name: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_role: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


ASSIGNMENTS = cast(Table, Assignment.__table__)
CONTACT_LOG = cast(Table, ContactLog.__table__)
