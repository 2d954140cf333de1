"""Reads of cases, always through the caller's scope: one case, a page, the timeline, duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases import clock
from geo.cases.models import Case, CaseCategory, CaseDepartment, CaseEvent, CaseSummons
from geo.cases.scope import case_filter, is_reporter, matches_department
from geo.cases.workflow import (
    GRADE_LABELS,
    OPEN,
    STATUS_LABELS,
    TIER_LABELS,
    Grade,
    Status,
    Tier,
    allowed,
    effective_roles,
)
from geo.core.errors import InvalidInput, NotFound
from geo.spatial.geojson import GEOJSON_DECIMALS, feature

c = Case.__table__.c
cat = CaseCategory.__table__.c
s_ = CaseSummons.__table__.c
Bbox = tuple[float, float, float, float]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_columns(at: Any = None) -> list[Any]:
    """Every column a case's full representation needs, labels and clock included."""
    return [
        c.id,
        c.public_id,
        c.category_code.label("category"),
        cat.name_zh.label("category_label"),
        cat.name_en.label("category_en"),
        c.grade,
        c.status,
        c.tier,
        c.description,
        c.address,
        c.cell_code,
        c.community_code,
        c.street_code,
        c.district_code,
        c.reporter_kind,
        c.channel,
        c.created_by,
        c.created_by_account,
        c.reporter_name,
        c.reporter_phone_masked,
        c.resident_id,
        c.assigned_worker_id,
        c.duplicate_of,
        c.cancel_reason,
        c.reported_at,
        c.response_due_at,
        clock.tier_due_at().label("tier_due_at"),
        c.due_at,
        c.responded_at,
        c.dispatched_at,
        c.started_at,
        c.escalated_at,
        c.resolved_at,
        c.confirmed_at,
        c.closed_at,
        c.cancelled_at,
        c.reopen_count,
        c.solved,
        c.satisfaction,
        c.version,
        c.updated_at,
        clock.clock_state(at).label("clock_state"),
        func.ST_AsGeoJSON(c.geom, GEOJSON_DECIMALS).label("geometry"),
    ]


_TIMES = (
    "reported_at",
    "response_due_at",
    "tier_due_at",
    "due_at",
    "responded_at",
    "dispatched_at",
    "started_at",
    "escalated_at",
    "resolved_at",
    "confirmed_at",
    "closed_at",
    "cancelled_at",
    "updated_at",
)


_INTERNAL = ("created_by_account",)  # needed for the reporter role; not shown


def shape(row: Any) -> dict[str, Any]:
    """A case row as JSON-ready properties (labels in Chinese beside the codes)."""
    r = dict(row._mapping)
    out: dict[str, Any] = {k: v for k, v in r.items() if k not in _TIMES and k not in _INTERNAL}
    for k in _TIMES:
        if k in r:
            out[k] = _iso(r[k])
    labelled: tuple[tuple[str, dict[Any, str], type[StrEnum]], ...] = (
        ("status", STATUS_LABELS, Status),
        ("tier", TIER_LABELS, Tier),
        ("grade", GRADE_LABELS, Grade),
    )
    for key, labels, enum in labelled:
        if key in r:
            value = enum(r[key])
            out[key] = value.value
            out[f"{key}_label"] = labels[value]
    if "clock_state" in r:
        out["clock_label"] = clock.CLOCK_LABELS.get(r["clock_state"])
    if "reporter_kind" in r:
        out["reporter"] = {
            "kind": str(out.pop("reporter_kind")),
            "channel": out.pop("channel"),
            "name": out.pop("reporter_name"),
            "phone": out.pop("reporter_phone_masked"),  # masked: 138****5678
            "resident_id": out.pop("resident_id"),
        }
    if r.get("cancel_reason") is not None:
        out["cancel_reason"] = str(r["cancel_reason"])
    return out


def _scoped(principal: Principal, at: Any = None) -> Select[*tuple[Any, ...]]:
    return (
        select(*case_columns(at))
        .join(CaseCategory, cat.code == c.category_code)
        .where(case_filter(principal))
    )


def summons_of(session: Session, case_id: int) -> list[dict[str, Any]]:
    d = CaseDepartment.__table__.c
    rows = session.execute(
        select(
            s_.id,
            s_.department_code,
            d.name_zh.label("department_label"),
            d.short_zh.label("department_short"),
            s_.summoned_by,
            s_.summoned_at,
            s_.ack_due_at,
            s_.acknowledged_at,
            s_.report_due_at,
            s_.reported_at,
            s_.report,
        )
        .join(CaseDepartment, d.code == s_.department_code)
        .where(s_.case_id == case_id)
        .order_by(s_.id)
    ).mappings()
    out = []
    for r in rows:
        item = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in r.items()}
        item["state"] = (
            "reported"
            if r["reported_at"]
            else "acknowledged"
            if r["acknowledged_at"]
            else "summoned"
        )
        out.append(item)
    return out


def summons_column() -> Any:
    """The case's summons as a JSON array (id, department names, acknowledged/reported times),
    as a column of a `cases` query: the transition reads them with its row lock, in one trip."""
    d = CaseDepartment.__table__.c
    item = func.json_build_object(
        "id",
        s_.id,
        "department_code",
        s_.department_code,
        "department_label",
        d.name_zh,
        "department_short",
        d.short_zh,
        "acknowledged_at",
        s_.acknowledged_at,
        "reported_at",
        s_.reported_at,
    )
    return (
        select(func.coalesce(func.json_agg(aggregate_order_by(item, s_.id)), text("'[]'::json")))
        .select_from(CaseSummons)
        .join(CaseDepartment, d.code == s_.department_code)
        .where(s_.case_id == c.id)
        .scalar_subquery()
    )


def with_state(summons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each summons' state: summoned -> acknowledged (报到) -> reported (反馈)."""
    return [
        {
            **x,
            "state": "reported"
            if x.get("reported_at")
            else "acknowledged"
            if x.get("acknowledged_at")
            else "summoned",
        }
        for x in summons
    ]


def summons_state(summons: Sequence[dict[str, Any]], me: Principal) -> tuple[int, str | None]:
    """(departments not yet reported back, the caller's own open summons state or None)."""
    pending = sum(1 for s in summons if s["state"] != "reported")
    own = next(
        (s["state"] for s in summons if s["state"] != "reported" and matches_department(me, s)),
        None,
    )
    return pending, own


def allowed_actions(
    props: dict[str, Any],
    me: Principal,
    summons: Sequence[dict[str, Any]],
    created_by_account: int | None,
) -> list[dict[str, str]]:
    """What this caller may do next on this case (the same rule `transition` enforces)."""
    tier = Tier(props["tier"])
    roles = effective_roles(me.role, tier=tier, is_reporter=is_reporter(me, created_by_account))
    pending, own = summons_state(summons, me)
    return [
        {"action": t.action, "to": t.to_status.value, "label": t.label}
        for t in allowed(
            Status(props["status"]), roles, tier=tier, pending_summons=pending, own_summons=own
        )
    ]


def get_case(
    session: Session, principal: Principal, case_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """One case as a GeoJSON Feature with summons, duplicates and the caller's next actions."""
    row = session.execute(_scoped(principal, now).where(c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    props = shape(row)
    props["summons"] = summons_of(session, case_id)
    props["allowed_actions"] = allowed_actions(
        props, principal, props["summons"], row.created_by_account
    )
    props["possible_duplicates"] = (
        possible_duplicates(session, principal, case_id) if Status(props["status"]) in OPEN else []
    )
    return feature(props, id_key="id")


def list_cases(
    session: Session,
    principal: Principal,
    *,
    status: Sequence[Status] = (),
    tier: Tier | None = None,
    category: str | None = None,
    cell: str | None = None,
    bbox: Bbox | None = None,
    overdue: bool | None = None,
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the caller's cases (newest first) as Features, and how many match in all."""
    conditions: list[ColumnElement[bool]] = []
    if status:
        conditions.append(c.status.in_([s.value for s in status]))
    if tier is not None:
        conditions.append(c.tier == tier.value)
    if category:
        conditions.append(c.category_code == category)
    if cell:
        if not (len(cell) == 15 and cell.isdigit()):
            raise InvalidInput(f"cell must be a 15-digit grid code, got {cell!r}")
        conditions.append(c.cell_code == cell)
    if bbox is not None:
        conditions.append(func.ST_Intersects(c.geom, func.ST_MakeEnvelope(*bbox, 4326)))
    if overdue is not None:
        is_overdue = clock.clock_state(now) == "overdue"
        conditions.append(is_overdue if overdue else ~is_overdue)
    where = and_(case_filter(principal), *conditions)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    rows = session.execute(
        _scoped(principal, now).where(*conditions).order_by(c.id.desc()).limit(limit).offset(offset)
    ).all()
    return [feature(shape(r), id_key="id") for r in rows], total


def timeline(session: Session, principal: Principal, case_id: int) -> list[dict[str, Any]]:
    """The case's append-only event log, oldest first."""
    visible = session.scalar(select(literal(True)).where(c.id == case_id, case_filter(principal)))
    if not visible:
        raise NotFound(f"no case {case_id}")
    e = CaseEvent.__table__.c
    rows = session.execute(select(CaseEvent.__table__).where(e.case_id == case_id).order_by(e.id))
    return [
        {**{k: (_iso(v) if isinstance(v, datetime) else v) for k, v in r._mapping.items()}}
        for r in rows
    ]


def possible_duplicates(
    session: Session, principal: Principal, case_id: int, *, limit: int = 5
) -> list[dict[str, Any]]:
    """Open cases of the same category within the category's radius and window, nearest first,
    among those the caller may see."""
    me = Case.__table__.alias("me")
    other_geog = func.geography(c.geom)
    me_geog = func.geography(me.c.geom)
    rows = session.execute(
        select(
            c.id,
            c.public_id,
            c.status,
            c.reported_at,
            func.round(func.ST_Distance(other_geog, me_geog)).label("distance_m"),
        )
        .select_from(me)
        .join(CaseCategory, cat.code == me.c.category_code)
        .join(
            Case,
            and_(
                c.category_code == me.c.category_code,
                c.id != me.c.id,
                c.status.notin_([Status.closed.value, Status.cancelled.value]),
                func.ST_DWithin(other_geog, me_geog, cat.duplicate_radius_m),
                c.reported_at.between(
                    me.c.reported_at - cat.duplicate_window, me.c.reported_at + cat.duplicate_window
                ),
            ),
        )
        .where(me.c.id == case_id, case_filter(principal))
        .order_by("distance_m", c.id)
        .limit(limit)
    ).mappings()
    return [
        {
            **r,
            "status": str(r["status"]),
            "reported_at": _iso(r["reported_at"]),
            "distance_m": float(r["distance_m"]),
        }
        for r in rows
    ]
