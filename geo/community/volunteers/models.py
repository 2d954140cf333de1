"""Tables of participation: volunteer teams (志愿服务队) and their members, activities with
sign-ups and participations, governance backbones (治理骨干) linked to their cells.

Every row belongs to a community (`community_code`, `street_code` = its first 9 digits): staff of
that community or street keep them (filter in the query, the same rule in RLS, migration
0013people). Backbones also carry their cell, so a grid worker sees those of their cells.

The sign-up cap is PostgreSQL's: `volunteer_activity.signed_up` is a counter moved by a
conditional UPDATE that locks the row (`signed_up < capacity`), checked again by
`signed_up BETWEEN 0 AND capacity`, so the last place goes to exactly one caller.
A member's phone is encrypted, hashed and masked like a resident's.
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
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base
from geo.core.clock import sql_now
from geo.privacy.crypto import register_encrypted, register_hashed

TS = DateTime(timezone=True)


class MemberKind(StrEnum):
    seasonal = "seasonal"  # 候鸟居民
    resident = "resident"  # 本地居民
    party_member = "party_member"  # 党员
    staff = "staff"  # 社区工作人员


MEMBER_LABELS = {
    MemberKind.seasonal: "候鸟居民",
    MemberKind.resident: "本地居民",
    MemberKind.party_member: "党员",
    MemberKind.staff: "社区工作人员",
}


class ActivityKind(StrEnum):
    activity = "activity"  # 志愿活动
    community_work = "community_work"  # 社区事务 (participations in community works)


class SignupStatus(StrEnum):
    signed_up = "signed_up"  # 已报名
    cancelled = "cancelled"  # 已取消
    attended = "attended"  # 已参与
    absent = "absent"  # 未到


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in enum) + ")"


def _place() -> CheckConstraint:
    return CheckConstraint(
        "community_code ~ '^[0-9]{12}$' AND left(community_code, 9) = street_code",
        name="community_codes",
    )


class Team(Base):
    """志愿服务队: a named team of a community, with what it does (skills) and its members."""

    __tablename__ = "volunteer_team"
    __table_args__ = (
        _place(),
        UniqueConstraint("community_code", "name", name="uq_volunteer_team_name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(50))
    focus: Mapped[str | None] = mapped_column(String(200), nullable=True)
    skills: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Member(Base):
    """A member of a team: a resident (linked by id when they are one), skills, and the months
    they are here (`months`, 1-12: a seasonal resident's season; every month for locals)."""

    __tablename__ = "volunteer_member"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("kind", MemberKind), name="kind_known"),
        CheckConstraint(
            "cardinality(months) BETWEEN 1 AND 12 AND months <@ ARRAY[1,2,3,4,5,6,7,8,9,10,11,12]"
            "::smallint[]",
            name="months_known",
        ),
        CheckConstraint("cell_code IS NULL OR left(cell_code, 12) = community_code", name="cell"),
        UniqueConstraint("team_id", "resident_id", name="uq_volunteer_member_resident"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_team.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    cell_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    skills: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    months: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    joined_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Activity(Base):
    """一次活动: a team's (or the community's) activity or community work, with its places."""

    __tablename__ = "volunteer_activity"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("kind", ActivityKind), name="kind_known"),
        CheckConstraint("capacity BETWEEN 1 AND 1000", name="capacity_range"),
        CheckConstraint("signed_up BETWEEN 0 AND capacity", name="signed_up_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_volunteer_activity_place", "community_code", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteer_team.id"), nullable=True, index=True
    )
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    place: Mapped[str | None] = mapped_column(String(100), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime] = mapped_column(TS)
    capacity: Mapped[int] = mapped_column(Integer)
    signed_up: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Signup(Base):
    """A sign-up for an activity: a member or a resident (by id) or a name; attended or absent
    afterwards (the participation). One live sign-up per member or resident and activity."""

    __tablename__ = "activity_signup"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("status", SignupStatus), name="status_known"),
        Index(
            "uq_activity_signup_member",
            "activity_id",
            "member_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled' AND member_id IS NOT NULL"),
        ),
        Index(
            "uq_activity_signup_resident",
            "activity_id",
            "resident_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled' AND resident_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("volunteer_activity.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteer_member.id"), nullable=True, index=True
    )
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Backbone(Base):
    """治理骨干: a resident who helps govern their cell (楼栋长, 单元长, 党员中心户 ...)."""

    __tablename__ = "governance_backbone"
    __table_args__ = (
        _place(),
        CheckConstraint("left(cell_code, 12) = community_code", name="cell_in_community"),
        Index("ix_governance_backbone_cell", "cell_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(50))
    duty: Mapped[str] = mapped_column(String(50))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_member.id"), nullable=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), nullable=True
    )
    since: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


PHONE_CONTEXT = "volunteer_member.phone"


def register() -> None:
    """Called by geo.models.load_models(): a member's phone is encrypted personal data."""
    register_encrypted(Member.phone_enc, PHONE_CONTEXT)
    register_hashed(Member.phone_hash, Member.phone_enc, "phone")  # rehashed on key rotation


TEAMS = cast(Table, Team.__table__)
MEMBERS = cast(Table, Member.__table__)
ACTIVITIES = cast(Table, Activity.__table__)
SIGNUPS = cast(Table, Signup.__table__)
BACKBONES = cast(Table, Backbone.__table__)
