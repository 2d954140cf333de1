"""民情记录本, the grid worker's concern log: notes on a resident or a place (衣食住行, 看病就医,
邻里纠纷, 其他), their follow-up, and the one action that turns an entry into a case.

An entry lives in a cell: its resident's current one, or the cell of the point or address given.
Grid workers write in their own cells, staff in their community or street; outside it, NotFound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.access.principal import in_scope as cell_in_scope
from geo.audit import service as audit
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.residents.models import CONCERN_LABELS, ConcernEntry, Stay
from geo.residents.schemas import PERSON_ROLES, ConcernCreate, ConcernToCase, ConcernUpdate
from geo.residents.service import get_resident_row, rows_in_scope
from geo.spatial import locate as locating
from geo.spatial.crs import parse_crs

# Concern category -> case category (geo.cases catalogue).
CASE_CATEGORY = {
    "food": "elderly_care",  # 助餐
    "clothing": "other",
    "housing": "housing",
    "transport": "transport",
    "medical": "medical",
    "dispute": "neighbour_dispute",
    "other": "other",
}
_NEXT = {"open": {"following", "resolved"}, "following": {"resolved", "open"}, "resolved": {"open"}}


def _writer(me: Principal) -> None:
    if me.role not in (*PERSON_ROLES, "system"):
        raise Forbidden(f"role {me.role} does not keep a concern log")


def _place(session: Session, me: Principal, data: ConcernCreate) -> tuple[str, float, float]:
    """(cell code, lon, lat) of the entry, from its resident, its point or its address."""
    if data.resident_id is not None:
        r = get_resident_row(session, me, data.resident_id)
        stay = session.execute(
            select(Stay.cell_code, func.ST_X(Stay.geom), func.ST_Y(Stay.geom))
            .where(Stay.resident_id == r.id, Stay.cell_code.is_not(None))
            .order_by(Stay.season.desc())
            .limit(1)
        ).first()
        if stay is None:
            raise InvalidInput(f"resident {r.id} has no stay placed in a cell; give a point")
        return stay[0], stay[1], stay[2]
    if data.lon is not None or data.lat is not None:
        if data.lon is None or data.lat is None:
            raise InvalidInput("give both lon and lat (and crs when not wgs84)")
        loc = locating.locate(session, data.lon, data.lat, parse_crs(data.crs))
        return loc.cell_code, loc.lon, loc.lat
    if data.address:
        from geo.spatial.addresses.geocode import geocode_address

        m = geocode_address(session, data.address)
        if m.cell_code is None or m.lon is None or m.lat is None:
            raise InvalidInput(f"could not place the address in a cell ({m.note}); give a point")
        return m.cell_code, m.lon, m.lat
    raise InvalidInput("say who or where: resident_id, a point (lon, lat, crs) or an address")


def create(session: Session, me: Principal, data: ConcernCreate) -> dict[str, Any]:
    _writer(me)
    cell, lon, lat = _place(session, me, data)
    if not cell_in_scope(me, cell_code=cell):
        raise NotFound(f"cell {cell} is not one of yours")
    now = datetime.now(UTC)
    entry_id: int = session.scalar(  # type: ignore[assignment]
        insert(ConcernEntry)
        .values(
            resident_id=data.resident_id,
            cell_code=cell,
            community_code=cell[:12],
            street_code=cell[:9],
            address=data.address,
            geom=func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326),
            category=data.category.value,
            text=data.text,
            follow_up=data.follow_up,
            status="following" if data.follow_up else "open",
            author_id=me.account_id,
            author_name=me.name[:100],
            created_at=now,
            updated_at=now,
        )
        .returning(ConcernEntry.id)
    )
    audit.record(session, me, "concern.create", object_type="concern_entry", object_ids=[entry_id])
    return get(session, me, entry_id)


def _row(session: Session, me: Principal, entry_id: int) -> ConcernEntry:
    _writer(me)
    row = session.scalar(
        select(ConcernEntry).where(ConcernEntry.id == entry_id, rows_in_scope(me, ConcernEntry))
    )
    if row is None:
        raise NotFound(f"no concern-log entry {entry_id}")
    return row


def _dict(e: ConcernEntry, lon: float | None = None, lat: float | None = None) -> dict[str, Any]:
    return {
        "id": e.id,
        "resident_id": e.resident_id,
        "cell_code": e.cell_code,
        "community_code": e.community_code,
        "address": e.address,
        "lon": lon,
        "lat": lat,
        "category": e.category,
        "category_label": CONCERN_LABELS.get(e.category),  # type: ignore[call-overload]
        "text": e.text,
        "follow_up": e.follow_up,
        "status": e.status,
        "case_id": e.case_id,
        "author": e.author_name,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


def get(session: Session, me: Principal, entry_id: int) -> dict[str, Any]:
    e = _row(session, me, entry_id)
    lon, lat = session.execute(
        select(func.ST_X(ConcernEntry.geom), func.ST_Y(ConcernEntry.geom)).where(
            ConcernEntry.id == e.id
        )
    ).one()
    return _dict(e, lon, lat)


def list_entries(
    session: Session,
    me: Principal,
    *,
    status: str | None = None,
    category: str | None = None,
    cell: str | None = None,
    resident_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    _writer(me)
    c = ConcernEntry
    stmt = select(c, func.ST_X(c.geom), func.ST_Y(c.geom)).where(rows_in_scope(me, c))
    if status:
        stmt = stmt.where(c.status == status)
    if category:
        stmt = stmt.where(c.category == category)
    if cell:
        stmt = stmt.where(c.cell_code == cell)
    if resident_id:
        stmt = stmt.where(c.resident_id == resident_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(
        stmt.order_by(c.created_at.desc(), c.id.desc()).limit(limit).offset(offset)
    ).all()
    return {"total": total, "items": [_dict(e, x, y) for e, x, y in rows]}


def update_entry(
    session: Session, me: Principal, entry_id: int, data: ConcernUpdate
) -> dict[str, Any]:
    e = _row(session, me, entry_id)
    if e.status == "case":
        raise Conflict(f"entry {e.id} became case {e.case_id}; follow it there")
    values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
    if data.follow_up is not None:
        values["follow_up"] = data.follow_up
    if data.status is not None and data.status != e.status:
        if data.status not in _NEXT[e.status]:
            raise Conflict(
                f"an entry {e.status} can become {', '.join(sorted(_NEXT[e.status]))}",
                allowed=sorted(_NEXT[e.status]),
            )
        values["status"] = data.status
    session.execute(update(ConcernEntry).where(ConcernEntry.id == e.id).values(**values))
    audit.record(session, me, "concern.update", object_type="concern_entry", object_ids=[e.id])
    session.expire(e)
    return get(session, me, e.id)


def to_case(session: Session, me: Principal, entry_id: int, data: ConcernToCase) -> dict[str, Any]:
    """Turn the entry into a case (geo.cases): placed at the entry, linked to its resident;
    the entry keeps the case id and its status becomes `case`."""
    from geo.cases import service as cases
    from geo.cases.schemas import CaseCreate, Reporter

    entry = get(session, me, entry_id)
    if entry["status"] == "case":
        raise Conflict(f"entry {entry_id} is already case {entry['case_id']}")
    result = cases.create_case(
        session,
        me,
        CaseCreate(
            category=data.category or CASE_CATEGORY[entry["category"]],
            description=data.description or entry["text"],
            lon=entry["lon"],
            lat=entry["lat"],
            crs="wgs84",
            address=entry["address"],
            reporter=Reporter(resident_id=entry["resident_id"]) if entry["resident_id"] else None,
        ),
    )
    case = result["case"]
    props = case.get("properties", case)
    case_id = props.get("id")
    session.execute(
        update(ConcernEntry)
        .where(ConcernEntry.id == entry_id)
        .values(status="case", case_id=case_id, updated_at=datetime.now(UTC))
    )
    audit.record(
        session,
        me,
        "concern.to_case",
        object_type="concern_entry",
        object_ids=[entry_id],
        detail={"case_id": case_id},
    )
    return {"entry": get(session, me, entry_id), "case": case}
