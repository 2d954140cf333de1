"""免费健康体检: the free health check for seasonal residents aged 65 and over.

Eligible: a stay in the season and 65 or older in that year (season - birth year >= 65). Stored:
participation only (invited, booked, done, declined, and their dates) - never a medical result,
and no free text where one could be written down. Per cell and community: who is eligible this
season and how far each has got.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.audit import service as audit
from geo.core.errors import Forbidden, InvalidInput, NotFound
from geo.residents.models import HealthCheck, Resident, Stay
from geo.residents.schemas import PERSON_ROLES, HealthCheckUpdate
from geo.residents.service import rows_in_scope

MIN_AGE = 65
STATUS_LABELS = {
    None: "未邀约",
    "invited": "已邀约",
    "booked": "已预约",
    "done": "已体检",
    "declined": "婉拒",
}


def _persons(me: Principal) -> None:
    if me.role not in (*PERSON_ROLES, "system"):
        raise Forbidden(f"role {me.role} may not see health-check participation")


def _eligible(season: int) -> Any:
    return and_(Resident.birth_year.is_not(None), season - Resident.birth_year >= MIN_AGE)


def eligible(
    session: Session, me: Principal, *, season: int, cell: str | None = None
) -> dict[str, Any]:
    """Every eligible resident with a stay in the caller's scope this season, with their
    participation, and the counts per cell."""
    _persons(me)
    stmt = (
        select(
            Resident.id,
            Resident.name,
            Resident.sex,
            Resident.birth_year,
            Resident.phone_masked,
            Stay.cell_code,
            Stay.community_code,
            Stay.address,
            HealthCheck.status,
            HealthCheck.invited_on,
            HealthCheck.booked_for,
            HealthCheck.done_on,
        )
        .join(Stay, and_(Stay.resident_id == Resident.id, Stay.season == season))
        .outerjoin(
            HealthCheck, and_(HealthCheck.resident_id == Resident.id, HealthCheck.season == season)
        )
        .where(Resident.status == "active", _eligible(season), rows_in_scope(me, Stay))
        .order_by(Stay.cell_code, Resident.name, Resident.id)
    )
    if cell:
        stmt = stmt.where(Stay.cell_code == cell)
    rows = session.execute(stmt).mappings().all()
    items = [
        {**dict(r), "age": season - r["birth_year"], "status_label": STATUS_LABELS[r["status"]]}
        for r in rows
    ]
    if items:
        audit.record(
            session,
            me,
            "health_check.list",
            object_type="resident",
            object_ids=[i["id"] for i in items],
        )
    return {
        "season": season,
        "summary": summary(session, me, season=season, cell=cell),
        "items": items,
    }


def summary(
    session: Session,
    me: Principal,
    *,
    season: int,
    cell: str | None = None,
    by: str = "cell",
) -> list[dict[str, Any]]:
    """Eligible, invited, booked, done and declined per cell (or per community)."""
    _persons(me)
    key = Stay.cell_code if by == "cell" else Stay.community_code
    s = HealthCheck.status
    counted = {
        "invited": s.in_(("invited", "booked", "done")),  # invited at some point
        "booked": s.in_(("booked", "done")),
        "done": s == "done",
        "declined": s == "declined",
    }
    stmt = (
        select(
            key.label("code"),
            func.count().label("eligible"),
            *(func.count(case((cond, 1))).label(k) for k, cond in counted.items()),
        )
        .join(Stay, and_(Stay.resident_id == Resident.id, Stay.season == season))
        .outerjoin(
            HealthCheck, and_(HealthCheck.resident_id == Resident.id, HealthCheck.season == season)
        )
        .where(Resident.status == "active", _eligible(season), rows_in_scope(me, Stay))
        .group_by(key)
        .order_by(key)
    )
    if cell:
        stmt = stmt.where(Stay.cell_code == cell)
    return [dict(r) for r in session.execute(stmt.select_from(Resident)).mappings()]


def set_status(
    session: Session, me: Principal, resident_id: int, season: int, data: HealthCheckUpdate
) -> dict[str, Any]:
    """Record participation for a resident eligible this season, in the caller's scope."""
    _persons(me)
    stay = session.execute(
        select(Stay, Resident.birth_year)
        .join(Resident, Resident.id == Stay.resident_id)
        .where(
            Stay.resident_id == resident_id,
            Stay.season == season,
            rows_in_scope(me, Stay),
            Resident.status == "active",
        )
    ).first()
    if stay is None:
        raise NotFound(f"resident {resident_id} has no stay in season {season} in your scope")
    s, birth_year = stay
    if birth_year is None or season - birth_year < MIN_AGE:
        raise InvalidInput(
            f"the free health check is for residents aged {MIN_AGE}+ "
            f"(birth year {birth_year or 'unknown'})"
        )
    if data.status == "done" and data.done_on is None:
        raise InvalidInput("status done needs done_on")
    if data.status == "booked" and data.booked_for is None:
        raise InvalidInput("status booked needs booked_for")
    values = {
        "resident_id": resident_id,
        "season": season,
        "status": data.status.value,
        "invited_on": data.invited_on,
        "booked_for": data.booked_for,
        "done_on": data.done_on,
        "cell_code": s.cell_code,
        "community_code": s.community_code,
        "street_code": s.street_code,
        "updated_by": me.name[:100],
        "updated_at": datetime.now(UTC),
    }
    stmt = pg_insert(HealthCheck).values(**values)
    keep = {
        k: func.coalesce(stmt.excluded[k], getattr(HealthCheck, k))
        for k in ("invited_on", "booked_for", "done_on")
    }
    session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_health_check_resident_season",
            set_={
                "status": stmt.excluded.status,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": stmt.excluded.updated_at,
                **keep,
            },
        )
    )
    audit.record(
        session,
        me,
        "health_check.update",
        object_type="resident",
        object_ids=[resident_id],
        detail={"season": season, "status": data.status},
    )
    row = (
        session.execute(
            select(
                HealthCheck.status,
                HealthCheck.invited_on,
                HealthCheck.booked_for,
                HealthCheck.done_on,
            ).where(HealthCheck.resident_id == resident_id, HealthCheck.season == season)
        )
        .mappings()
        .one()
    )
    return {"resident_id": resident_id, "season": season, **dict(row)}
