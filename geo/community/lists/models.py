"""Tables of the demand and resource lists (需求清单 / 资源清单) and the service plans that
matching makes of them, with their append-only event log.

Every row belongs to a community (`community_code`, `street_code` = its first 9 digits): staff
of that community or street read and change it (filter in the query, the same rule in RLS).
A resource's contact phone is stored encrypted with a keyed hash and a mask, like a requester's.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, cast

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base
from geo.core.clock import sql_now
from geo.privacy.crypto import register_encrypted, register_hashed

TS = DateTime(timezone=True)


class DemandSource(StrEnum):
    concern_log = "concern_log"  # 关切台账
    survey = "survey"  # 入户调查 / 问卷
    request_history = "request_history"  # 历史服务需求
    staff = "staff"  # 工作人员走访


class ProviderKind(StrEnum):
    community = "community"  # 社区
    volunteer = "volunteer"  # 志愿者
    merchant = "merchant"  # 商户
    department = "department"  # 职能部门


class DemandStatus(StrEnum):
    open = "open"  # 待匹配
    planned = "planned"  # 已制定服务计划
    closed = "closed"  # 已关闭 (met elsewhere, or no longer needed)


class ResourceStatus(StrEnum):
    active = "active"  # 可用
    retired = "retired"  # 已下架


class PlanStatus(StrEnum):
    active = "active"  # 执行中
    done = "done"  # 已完成
    cancelled = "cancelled"  # 已取消


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in enum) + ")"


def _place() -> CheckConstraint:
    """A community's 12-digit code and its street's 9 (a fresh constraint per table)."""
    return CheckConstraint(
        "community_code ~ '^[0-9]{12}$' AND left(community_code, 9) = street_code",
        name="community_codes",
    )


class Demand(Base):
    """需求: what residents of a community need, how many, when, where, and where we learnt it."""

    __tablename__ = "community_demand"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("status", DemandStatus), name="status_known"),
        CheckConstraint(_in("source", DemandSource), name="source_known"),
        CheckConstraint("people BETWEEN 1 AND 10000", name="people_range"),
        CheckConstraint("needed_until >= needed_from", name="window_order"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_community_demand_open", "community_code", "status", "category"),
        Index(
            "ix_community_demand_geog",
            text("(geography(geom))"),
            postgresql_using="gist",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    category: Mapped[str] = mapped_column(String(20))
    item_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    title: Mapped[str] = mapped_column(String(100))
    people: Mapped[int] = mapped_column(Integer)
    season: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(20))
    needed_from: Mapped[date] = mapped_column(Date)
    needed_until: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class Resource(Base):
    """资源: what a community, volunteers, merchants or departments can offer: how many people,
    between which dates (and at which hours, `hours`), where, whom to call, until when valid."""

    __tablename__ = "community_resource"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("status", ResourceStatus), name="status_known"),
        CheckConstraint(_in("provider_kind", ProviderKind), name="provider_known"),
        CheckConstraint("capacity BETWEEN 1 AND 10000", name="capacity_range"),
        CheckConstraint("available_until >= available_from", name="window_order"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_community_resource_active", "community_code", "status", "category"),
        Index(
            "ix_community_resource_geog",
            text("(geography(geom))"),
            postgresql_using="gist",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    provider_kind: Mapped[str] = mapped_column(String(20))
    provider_name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    item_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    title: Mapped[str] = mapped_column(String(100))
    capacity: Mapped[int] = mapped_column(Integer)
    available_from: Mapped[date] = mapped_column(Date)
    available_until: Mapped[date] = mapped_column(Date)
    hours: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 周二、周四 9:00-11:00
    valid_until: Mapped[date] = mapped_column(Date)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
    contact_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    contact_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    contact_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class ServicePlan(Base):
    """服务计划: one demand served by one resource for `people`, with an owner who sees it
    through. Scope is the demand's community (the resource may lie in a neighbouring one)."""

    __tablename__ = "service_plan"
    __table_args__ = (
        _place(),
        CheckConstraint(_in("status", PlanStatus), name="status_known"),
        CheckConstraint("people >= 1", name="people_positive"),
        # One live plan per demand: a second is refused by the database, whoever races.
        Index(
            "uq_service_plan_live_demand",
            "demand_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("community_demand.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("community_resource.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    people: Mapped[int] = mapped_column(Integer)
    distance_m: Mapped[float] = mapped_column(Float)
    owner: Mapped[str] = mapped_column(String(50))  # 责任人
    owner_account: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class ListEvent(Base):
    """Append-only log of the lists: every create, review, plan and plan step (a trigger refuses
    UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "community_list_event"
    __table_args__ = (Index("ix_community_list_event_object", "object_type", "object_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))  # demand | resource | plan
    object_id: Mapped[int] = mapped_column(BigInteger)
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


CONTACT_CONTEXT = "community_resource.contact"


def register() -> None:
    """Called by geo.models.load_models(): the contact column is encrypted personal data."""
    register_encrypted(Resource.contact_enc, CONTACT_CONTEXT)
    register_hashed(Resource.contact_hash, Resource.contact_enc, "phone")


DEMANDS = cast(Table, Demand.__table__)
RESOURCES = cast(Table, Resource.__table__)
PLANS = cast(Table, ServicePlan.__table__)
LIST_EVENTS = cast(Table, ListEvent.__table__)
