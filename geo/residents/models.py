"""Tables of the residents domain: resident (the archive), stay (one season), intake_report (what
one channel said, kept as received), intake_batch, resident_event (append-only history of merges,
splits, reviews and edits), concern_entry (民情记录本) and health_check (participation only).

Scope columns (`cell_code`, `community_code`, `street_code`) sit on every table with personal
data, for the query filters (`geo.access.principal.scope_filter`) and the row-level security
policies (`enable_scoped_rls` in the 0004residents migration). A resident's scope columns are those
of its latest stay. ID and phone numbers are stored encrypted (`geo.privacy.crypto`, key id inside
the token), with a keyed hash for lookup and a masked copy for display.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.access.principal import Channel
from geo.core.base import Base
from geo.core.clock import sql_now
from geo.privacy.crypto import register_encrypted, register_hashed

TS = DateTime(timezone=True)


class Decision(StrEnum):
    new = "new"  # a new archive was created
    linked = "linked"  # linked to an existing archive
    review = "review"  # queued for the cell's grid worker to decide
    rejected = "rejected"  # not used; `reject_reason` says why (kept as received anyway)


class HousingType(StrEnum):
    own = "own"  # 自有住房
    rental = "rental"  # 租住
    short_let = "short_let"  # 短租
    hotel = "hotel"  # 宾馆酒店
    relatives = "relatives"  # 投亲靠友


HOUSING_LABELS = {
    HousingType.own: "自有住房",
    HousingType.rental: "租住",
    HousingType.short_let: "短租",
    HousingType.hotel: "宾馆酒店",
    HousingType.relatives: "投亲靠友",
}


class Precision(StrEnum):
    """How exactly a report's point says where the person lives."""

    point = "point"  # coordinates from the channel (GPS)
    building = "building"  # an address matched to a gazetteer building
    compound = "compound"  # matched to a compound's gate, or fuzzily
    community = "community"  # only the community is known (no cell)


PRECISION_M = {
    Precision.point: 30.0,
    Precision.building: 30.0,
    Precision.compound: 250.0,
    Precision.community: 1500.0,
}


class ConcernCategory(StrEnum):
    """民情记录本 categories: 衣食住行, 看病就医, 邻里纠纷, 其他."""

    food = "food"  # 食
    clothing = "clothing"  # 衣
    housing = "housing"  # 住
    transport = "transport"  # 行
    medical = "medical"  # 看病就医
    dispute = "dispute"  # 邻里纠纷
    other = "other"  # 其他


CONCERN_LABELS = {
    ConcernCategory.food: "食",
    ConcernCategory.clothing: "衣",
    ConcernCategory.housing: "住",
    ConcernCategory.transport: "行",
    ConcernCategory.medical: "看病就医",
    ConcernCategory.dispute: "邻里纠纷",
    ConcernCategory.other: "其他",
}


class ConcernStatus(StrEnum):
    open = "open"  # 待跟进
    following = "following"  # 跟进中
    resolved = "resolved"  # 已解决
    case = "case"  # 已转事件: became a case (case_id)


class HealthCheckStatus(StrEnum):
    """Participation in the free 65+ health check (免费健康体检); never any medical result."""

    invited = "invited"  # 已邀约
    booked = "booked"  # 已预约
    done = "done"  # 已体检
    declined = "declined"  # 婉拒


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


def _nullable_one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IS NULL OR {_one_of(column, values)}"


class Resident(Base):
    """动态管理档案: one seasonal resident. Values are derived from the linked reports."""

    __tablename__ = "resident"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'merged', 'purged')", name="status_known"),
        CheckConstraint("sex IS NULL OR sex IN ('M', 'F')", name="sex_known"),
        CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"
        ),
        Index("ix_resident_scope", "community_code", "cell_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), server_default=sql_text("'active'"))
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id"), nullable=True, index=True
    )
    name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    name_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # from an ID number only
    id_number_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18), nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    origin: Mapped[str | None] = mapped_column(String(50), nullable=True)
    origin_province: Mapped[str | None] = mapped_column(String(20), nullable=True)
    origin_city: Mapped[str | None] = mapped_column(String(20), nullable=True)
    occupation: Mapped[str | None] = mapped_column(String(50), nullable=True)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=sql_text("'{}'"))
    # Field -> the distinct values the reports disagree on (masked for ID and phone numbers).
    conflicts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    cell_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Stay(Base):
    """One season's residence. Presence is derived (SQL function `stay_state`), never stored."""

    __tablename__ = "stay"
    __table_args__ = (
        UniqueConstraint("resident_id", "season", name="uq_stay_resident_season"),
        CheckConstraint(_nullable_one_of("housing_type", HousingType), name="housing_known"),
        CheckConstraint(_one_of("precision", Precision), name="precision_known"),
        CheckConstraint("departed_on IS NULL OR departed_on >= arrived_on", name="departs_after"),
        CheckConstraint("household_size IS NULL OR household_size BETWEEN 1 AND 20", name="hh"),
        Index("ix_stay_scope", "community_code", "cell_code"),
        Index("ix_stay_season_cell", "season", "cell_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    season: Mapped[int] = mapped_column(SmallInteger)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
    precision: Mapped[str] = mapped_column(String(10))
    cell_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    housing_type: Mapped[str | None] = mapped_column(String(10), nullable=True)
    household_size: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    arrived_on: Mapped[date] = mapped_column(Date)
    expected_departure: Mapped[date | None] = mapped_column(Date, nullable=True)
    departed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_reported_on: Mapped[date] = mapped_column(Date)
    departure_confirmed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class IntakeBatch(Base):
    """One submission: an API call or an imported file (no personal data: counts only)."""

    __tablename__ = "intake_batch"
    __table_args__ = (
        CheckConstraint(_one_of("channel", Channel), name="channel_known"),
        CheckConstraint("source IN ('api', 'file', 'demo', 'staff')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    crs: Mapped[str] = mapped_column(String(10))
    submitted_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    submitted_by_name: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))


class IntakeReport(Base):
    """What one channel said about one person at one time.

    `payload` is the report as received with ID and phone numbers masked (by the field each
    value was read as, and in every string); `payload_enc` is the whole payload as received,
    encrypted. The scope columns say where it was placed - or, while it is in review, whose
    queue it waits in (`geo.residents.intake.routing`); `geocode` keeps the place. The normalised
    columns feed linkage and the archive.
    """

    __tablename__ = "intake_report"
    __table_args__ = (
        CheckConstraint(_one_of("channel", Channel), name="channel_known"),
        CheckConstraint(_one_of("decision", Decision), name="decision_known"),
        CheckConstraint("sex IS NULL OR sex IN ('M', 'F')", name="sex_known"),
        CheckConstraint(_nullable_one_of("precision", Precision), name="precision_known"),
        CheckConstraint(
            "(decision IN ('new', 'linked')) = (resident_id IS NOT NULL)", name="decided_resident"
        ),
        CheckConstraint("decision <> 'rejected' OR reject_reason IS NOT NULL", name="reason"),
        CheckConstraint("answer IN ('received', 'rejected')", name="answer_known"),
        # A resident's own registration holds the version of the consent text they agreed to.
        CheckConstraint(
            "(channel = 'self') = (consent_version IS NOT NULL)", name="self_consented"
        ),
        Index("ix_intake_report_resident", "resident_id"),
        Index(
            "ix_intake_report_self_client",
            "client_key",
            "received_at",
            postgresql_where=sql_text("client_key IS NOT NULL"),
        ),
        Index("ix_intake_report_id_hash", "id_number_hash"),
        Index("ix_intake_report_phone_hash", "phone_hash"),
        Index("ix_intake_report_name_key", "name_key"),
        Index("ix_intake_report_surname", "community_code", "surname_key"),
        Index("ix_intake_report_given", "community_code", "given_key"),
        Index("ix_intake_report_queue", "decision", "community_code", "cell_code"),
        Index(
            "uq_intake_report_external",
            "channel",
            "submitted_by",
            "external_id",
            unique=True,
            postgresql_where=sql_text("external_id IS NOT NULL AND decision <> 'rejected'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_batch.id"), nullable=True, index=True
    )
    row_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    submitted_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    submitted_by_name: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    received_at: Mapped[datetime] = mapped_column(TS)
    reported_at: Mapped[datetime] = mapped_column(TS)
    season: Mapped[int] = mapped_column(SmallInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    payload_enc: Mapped[str] = mapped_column(Text)

    name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    name_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    surname_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    given_key: Mapped[str | None] = mapped_column(String(60), nullable=True)
    name_partial: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    birth_exact: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # from the ID number
    age: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    id_number_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18), nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    origin: Mapped[str | None] = mapped_column(String(50), nullable=True)
    origin_province: Mapped[str | None] = mapped_column(String(20), nullable=True)
    origin_city: Mapped[str | None] = mapped_column(String(20), nullable=True)
    occupation: Mapped[str | None] = mapped_column(String(50), nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    crs: Mapped[str | None] = mapped_column(String(10), nullable=True)
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    precision: Mapped[str | None] = mapped_column(String(10), nullable=True)
    geocode: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    cell_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    community_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(9), nullable=True)
    housing_type: Mapped[str | None] = mapped_column(String(10), nullable=True)
    household_size: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    arrived_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    expected_departure: Mapped[date | None] = mapped_column(Date, nullable=True)
    departed_on: Mapped[date | None] = mapped_column(Date, nullable=True)

    decision: Mapped[str] = mapped_column(String(10))
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), nullable=True
    )
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    reasons: Mapped[list[Any] | None] = mapped_column(JSONB, nullable=True)
    candidates: Mapped[list[Any] | None] = mapped_column(JSONB, nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the submitting channel is told: 'rejected' only for what is wrong with the report
    # itself, 'received' whatever linkage found (so the answer never says who is known).
    answer: Mapped[str] = mapped_column(String(10), server_default=sql_text("'received'"))
    decided_at: Mapped[datetime] = mapped_column(TS)
    decided_by: Mapped[str] = mapped_column(String(100))
    # Self-registration (channel 'self'): the consent text's version, and a keyed hash of the
    # client's address, by which the public form is rate-limited (no account to count by).
    consent_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ResidentEvent(Base):
    """Append-only history of an archive: created, linked by review, merged, split, edited,
    departure confirmed, purged (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "resident_event"
    __table_args__ = (Index("ix_resident_event_resident", "resident_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    kind: Mapped[str] = mapped_column(String(30))
    resident_id: Mapped[int] = mapped_column(Integer)
    other_resident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    report_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=sql_text("'{}'"))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    cell_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))


class ConcernEntry(Base):
    """民情记录本: a grid worker's note on a resident or a place, with its follow-up."""

    __tablename__ = "concern_entry"
    __table_args__ = (
        CheckConstraint(_one_of("category", ConcernCategory), name="category_known"),
        CheckConstraint(_one_of("status", ConcernStatus), name="status_known"),
        CheckConstraint("(status = 'case') = (case_id IS NOT NULL)", name="case_link"),
        Index("ix_concern_entry_scope", "community_code", "cell_code", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), nullable=True, index=True
    )
    cell_code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    category: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(10), server_default=sql_text("'open'"))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), nullable=True
    )
    author_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    author_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class HealthCheck(Base):
    """One resident's participation in one season's free health check (65+)."""

    __tablename__ = "health_check"
    __table_args__ = (
        UniqueConstraint("resident_id", "season", name="uq_health_check_resident_season"),
        CheckConstraint(_one_of("status", HealthCheckStatus), name="status_known"),
        Index("ix_health_check_scope", "season", "community_code", "cell_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    season: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(10))
    invited_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    booked_for: Mapped[date | None] = mapped_column(Date, nullable=True)
    done_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    cell_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


def register() -> None:
    """What the residents domain registers (called by `geo.models.load_models`): its encrypted
    columns, the key cases.resident_id -> resident.id, and the retention purger."""
    from geo.privacy import retention
    from geo.residents import purge

    register_encrypted(Resident.id_number_enc, "resident.id_number")
    register_encrypted(Resident.phone_enc, "resident.phone")
    register_encrypted(IntakeReport.id_number_enc, "intake_report.id_number")
    register_encrypted(IntakeReport.phone_enc, "intake_report.phone")
    register_encrypted(IntakeReport.payload_enc, "intake_report.payload")
    for model in (Resident, IntakeReport):
        register_hashed(model.id_number_hash, model.id_number_enc, "id_number")
        register_hashed(model.phone_hash, model.phone_enc, "phone")
    _link_cases_to_residents()
    retention.register_purger("resident", purge.purge_residents)


def _link_cases_to_residents() -> None:
    """cases.resident_id -> resident.id. The cases table comes first (0003cases), so the key is
    created by 0004residents and declared here, where both tables are known."""
    from geo.cases.models import Case

    table: Any = Case.__table__
    if not any(
        isinstance(c, ForeignKeyConstraint) and c.column_keys == ["resident_id"]
        for c in table.constraints
    ):
        table.append_constraint(
            ForeignKeyConstraint(["resident_id"], ["resident.id"], ondelete="SET NULL")
        )
