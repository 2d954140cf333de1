"""Cases (诉求): the catalogue, the case, its append-only event log, summons, idempotency keys.

The deadlines of a case (`response_due_at`, `grid_due_at`, `community_due_at`, `due_at`) are set by
the database (trigger `cases_set_deadlines`, see the 0003cases migration) from the catalogue row of
its category and grade at `reported_at`; later edits of the catalogue do not move running clocks,
and a reopen keeps them. The clock state is computed by the SQL function `case_clock(...)`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    FetchedValue,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Interval,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.cases.workflow import FINISHED, CancelReason, Grade, Status, Tier
from geo.core.base import Base
from geo.core.clock import sql_now
from geo.privacy.crypto import register_encrypted, register_hashed


class ReporterKind(StrEnum):
    resident = "resident"  # a seasonal resident, recorded by staff (phone call, visit)
    public = "public"  # anyone, through the public form or Open311
    channel = "channel"  # one of the six reporting channels (六联同治)
    grid_worker = "grid_worker"  # the grid worker's own report (民情记录本)
    staff = "staff"  # dispatcher, community or street staff


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


STATUS_ENUM = _enum(Status, "case_status")
TIER_ENUM = _enum(Tier, "case_tier")
GRADE_ENUM = _enum(Grade, "case_grade")
TS = DateTime(timezone=True)
# The partial-index predicate of "open" cases (not closed, not cancelled).
OPEN_SQL = "status NOT IN (" + ", ".join(f"'{s.value}'" for s in sorted(FINISHED)) + ")"


class CaseCategory(Base):
    """类别: a managed catalogue entry. Seeded by the migration with nine categories."""

    __tablename__ = "case_category"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(30))
    name_en: Mapped[str] = mapped_column(String(50))
    description_zh: Mapped[str] = mapped_column(Text)
    default_grade: Mapped[Grade] = mapped_column(GRADE_ENUM)
    # A new case within this distance of an open case of the same category, reported within
    # this window, is offered as a possible duplicate.
    duplicate_radius_m: Mapped[int] = mapped_column(Integer)
    duplicate_window: Mapped[timedelta] = mapped_column(Interval)
    sort_order: Mapped[int] = mapped_column(SmallInteger)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class CaseTimeLimit(Base):
    """时限: per category and grade, each limit counted from `reported_at`.

    The grid tier must finish (or the case escalates) by `grid_limit`, the community by
    `community_limit`; `total_limit` (at most 48 h) is the case's due time.
    """

    __tablename__ = "case_time_limit"
    __table_args__ = (
        CheckConstraint(
            "response_limit <= grid_limit AND grid_limit <= community_limit"
            " AND community_limit <= total_limit AND total_limit <= interval '48 hours'",
            name="ordered_within_48h",
        ),
    )

    category_code: Mapped[str] = mapped_column(
        ForeignKey("case_category.code", ondelete="CASCADE"), primary_key=True
    )
    grade: Mapped[Grade] = mapped_column(GRADE_ENUM, primary_key=True)
    response_limit: Mapped[timedelta] = mapped_column(Interval)
    grid_limit: Mapped[timedelta] = mapped_column(Interval)
    community_limit: Mapped[timedelta] = mapped_column(Interval)
    total_limit: Mapped[timedelta] = mapped_column(Interval)


class CaseDepartment(Base):
    """职能部门 a street may summon (吹哨); each must acknowledge (报到) and report back in time."""

    __tablename__ = "case_department"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    short_zh: Mapped[str] = mapped_column(String(20))  # 卫健委: what department accounts name
    name_en: Mapped[str] = mapped_column(String(100))
    ack_limit: Mapped[timedelta] = mapped_column(Interval)
    report_limit: Mapped[timedelta] = mapped_column(Interval)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Case(Base):
    """One case. Location codes are stable boundary codes, fixed when the case is placed."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("cell_code ~ '^[0-9]{15}$'", name="cell_code_digits"),
        CheckConstraint(
            "left(cell_code, 12) = community_code AND left(community_code, 9) = street_code"
            " AND left(street_code, 6) = district_code",
            name="code_hierarchy",
        ),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)",
            name="cancel_reason_iff_cancelled",
        ),
        CheckConstraint(
            "duplicate_of IS NULL OR cancel_reason = 'duplicate'", name="duplicate_is_cancelled"
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        # The dispatcher's map and the escalation job read open cases by status and tier.
        Index("ix_cases_open_status", "status", "tier", "due_at", postgresql_where=text(OPEN_SQL)),
        # Duplicate detection: open cases within metres, through the geography GiST index.
        Index(
            "ix_cases_open_geog",
            text("(geography(geom))"),
            postgresql_using="gist",
            postgresql_where=text(OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Unguessable id for the public and Open311 (service_request_id); never sequential.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("case_category.code"))
    grade: Mapped[Grade] = mapped_column(GRADE_ENUM)
    status: Mapped[Status] = mapped_column(STATUS_ENUM)
    tier: Mapped[Tier] = mapped_column(TIER_ENUM)
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
    cell_code: Mapped[str] = mapped_column(String(15), index=True)
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    district_code: Mapped[str] = mapped_column(String(6))
    release_id: Mapped[int] = mapped_column(Integer)  # boundary release used to place it

    reporter_kind: Mapped[ReporterKind] = mapped_column(_enum(ReporterKind, "case_reporter_kind"))
    channel: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    # Personal data: the phone is stored encrypted (AES-GCM, key id beside the ciphertext) with a
    # keyed hash for lookup, and masked for display; see geo/cases/reporter.py.
    reporter_phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reporter_phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    reporter_phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # residents (issue 4)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_role: Mapped[str] = mapped_column(String(30))
    # The submitting account: a channel reads back its own submissions by this (RLS owner_col).
    created_by_account: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True, index=True
    )

    assigned_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="SET NULL"), nullable=True
    )
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    cancel_reason: Mapped[CancelReason | None] = mapped_column(
        _enum(CancelReason, "case_cancel_reason"), nullable=True
    )

    reported_at: Mapped[datetime] = mapped_column(TS, index=True)
    response_due_at: Mapped[datetime] = mapped_column(TS, server_default=FetchedValue())
    grid_due_at: Mapped[datetime] = mapped_column(TS, server_default=FetchedValue())
    community_due_at: Mapped[datetime] = mapped_column(TS, server_default=FetchedValue())
    due_at: Mapped[datetime] = mapped_column(TS, server_default=FetchedValue())
    responded_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)  # first dispatch
    started_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)  # feedback given
    confirmed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    reopen_count: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    solved: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # callback: 解决了吗
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  # 1-5
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class CaseEvent(Base):
    """Append-only timeline of a case: a trigger refuses UPDATE, DELETE and TRUNCATE.

    The id is the change-feed cursor (SSE `id:`, `Last-Event-ID`).
    """

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[Status | None] = mapped_column(STATUS_ENUM, nullable=True)
    to_status: Mapped[Status | None] = mapped_column(STATUS_ENUM, nullable=True)
    from_tier: Mapped[Tier | None] = mapped_column(TIER_ENUM, nullable=True)
    to_tier: Mapped[Tier | None] = mapped_column(TIER_ENUM, nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # reason, rating, departments, linked case, attachments' metadata (name, type, size, sha256).
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class CaseSummons(Base):
    """吹哨报到: a department summoned by the street on one case, its 报到 and its report back."""

    __tablename__ = "case_summons"
    __table_args__ = (
        # A department has at most one open summons per case (it may be summoned again later).
        Index(
            "uq_case_summons_open",
            "case_id",
            "department_code",
            unique=True,
            postgresql_where=text("reported_at IS NULL"),
        ),
        # The department's scope: "cases summoned to me".
        Index("ix_case_summons_department", "department_code", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("case_department.code"))
    summoned_by: Mapped[str] = mapped_column(String(100))
    summoned_at: Mapped[datetime] = mapped_column(TS)
    ack_due_at: Mapped[datetime] = mapped_column(TS)
    report_due_at: Mapped[datetime] = mapped_column(TS)
    acknowledged_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    reported_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)


class CaseIdempotency(Base):
    """An `Idempotency-Key` of a case create: the request's hash and the first answer, replayed."""

    __tablename__ = "case_idempotency"

    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now(), index=True)


class CaseSoftLock(Base):
    """Who is working on a case in the console (a soft lock): advisory, never blocking, ending
    by itself at `expires_at`. One row per case; rows past `expires_at` count as absent and are
    swept when a lock is taken (geo/cases/softlock.py)."""

    __tablename__ = "case_soft_lock"
    __table_args__ = (
        CheckConstraint("expires_at > taken_at", name="expires_after_taken"),
        Index("ix_case_soft_lock_holder", "holder_account"),
        Index("ix_case_soft_lock_expires", "expires_at"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    holder_account: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    holder_name: Mapped[str] = mapped_column(String(100))
    taken_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime] = mapped_column(TS)


class ConsoleSavedFilter(Base):
    """A console user's saved filter bar (tier, category, street, clock) under a name of theirs;
    private to the account (row-level security by `account_id`)."""

    __tablename__ = "console_saved_filter"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_console_saved_filter_name"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 40", name="name_length"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    query: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


def register() -> None:
    """Declare the encrypted column (called by `geo.models.load_models`)."""
    register_encrypted(Case.reporter_phone_enc, "case.reporter_phone")
    register_hashed(Case.reporter_phone_hash, Case.reporter_phone_enc, "phone")


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# Typed handles for Core statements (insert/update without the ORM's bulk path).
CASES = _table(Case)
EVENTS = _table(CaseEvent)
SUMMONS = _table(CaseSummons)
SOFT_LOCKS = _table(CaseSoftLock)
SAVED_FILTERS = _table(ConsoleSavedFilter)
