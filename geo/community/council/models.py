"""Tables of the residents' council: meetings, who attended, suggestions and their append-only
timeline. Every row belongs to a community (`community_code`, `street_code`): its staff and its
street's keep them (filter in the query, the same rule in RLS)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.community.council.workflow import Status
from geo.core.base import Base
from geo.core.clock import sql_now

TS = DateTime(timezone=True)
ATTENDEE_KINDS = ("seasonal", "resident", "staff", "representative")


def _place() -> CheckConstraint:
    return CheckConstraint(
        "community_code ~ '^[0-9]{12}$' AND left(community_code, 9) = street_code",
        name="community_codes",
    )


class Meeting(Base):
    """一次议事会: when, where, the topic and the minutes (纪要)."""

    __tablename__ = "council_meeting"
    __table_args__ = (_place(), Index("ix_council_meeting_place", "community_code", "held_on"))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(200))
    place: Mapped[str | None] = mapped_column(String(100), nullable=True)
    minutes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Attendance(Base):
    """One attendee of a meeting (a name and what they are; no contact details)."""

    __tablename__ = "council_attendance"
    __table_args__ = (
        _place(),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in ATTENDEE_KINDS) + ")", name="kind_known"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("council_meeting.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))


class Suggestion(Base):
    """一条建议 through the pipeline; `public_id`: the suggester's unguessable key to the reply."""

    __tablename__ = "council_suggestion"
    __table_args__ = (
        _place(),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in Status) + ")", name="status_known"
        ),
        CheckConstraint(
            "(status = 'not_adopted') = (reason IS NOT NULL)", name="reason_iff_not_adopted"
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_council_suggestion_place", "community_code", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("council_meeting.id"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    suggester_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(50))  # who carries it from the current step
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(TS)
    created_by: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class SuggestionEvent(Base):
    """Append-only timeline of a suggestion (a trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "council_suggestion_event"
    __table_args__ = (
        _place(),
        Index("ix_council_suggestion_event_suggestion", "suggestion_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("council_suggestion.id"))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


MEETINGS = cast(Table, Meeting.__table__)
ATTENDANCE = cast(Table, Attendance.__table__)
SUGGESTIONS = cast(Table, Suggestion.__table__)
SUGGESTION_EVENTS = cast(Table, SuggestionEvent.__table__)
