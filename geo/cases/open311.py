"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over cases: the shapes, not HTTP.

- A service is a category (`service_code` = category code); its one attribute is nothing the
  caller must answer, so `metadata` is false.
- A service request is a case, identified by its unguessable `public_id` (never the internal id).
- `status` is ``open`` or ``closed`` (closed = 办结 or cancelled); our detail is in
  `status_notes` (status, tier, clock, duplicate link), in Chinese with the English term.
- lat/long are WGS84; datetimes are ISO 8601 in Yichun local time (+08:00).
- Anonymous callers follow requests by id only (the id is the credential): a listing without
  `service_request_id` lists the requests in the caller's scope, and the public has none, so it
  is refused with `REQUESTS_POLICY` (also in discovery.json and the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, text
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal
from geo.cases import clock
from geo.cases.models import Case, CaseCategory, CaseDepartment, CaseSummons
from geo.cases.scope import allow_public_ids, case_filter, sees_cases
from geo.cases.workflow import FINISHED, STATUS_LABELS, TIER_LABELS, CancelReason, Status, Tier
from geo.core import clock as city_clock
from geo.core.errors import InvalidInput, NotFound

MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
c = Case.__table__.c
cat = CaseCategory.__table__.c


# Which requests are public, and in what detail: said in discovery.json, the README, and to an
# anonymous caller who asks for a list.
REQUESTS_POLICY = (
    "Service requests hold personal data, so no list of them is public. A reporter follows"
    " their own requests with the service_request_id returned when filing (unguessable: holding"
    " it is the proof): GET requests/{id}.json, or requests.json?service_request_id=ID1,ID2."
    " That view shows status, status notes, service, description, address, location and dates,"
    " never the reporter's name or phone. Channel systems list the requests they filed with"
    " their api_key; staff list the cases of their scope with a bearer token."
    " 诉求含个人信息，不公开列表：上报人凭上报时返回的编号查询自己的诉求。"
)


def local_iso(value: datetime | None) -> str | None:
    return city_clock.as_city(value).isoformat() if value is not None else None


def services(session: Session) -> list[dict[str, Any]]:
    """services.json: one service per active category."""
    rows = session.execute(
        select(cat.code, cat.name_zh, cat.name_en, cat.description_zh)
        .where(cat.active)
        .order_by(cat.sort_order)
    )
    return [
        {
            "service_code": r.code,
            "service_name": f"{r.name_zh} {r.name_en}",
            "description": r.description_zh,
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join([r.name_zh, r.name_en.lower(), r.code]),
            "group": "候鸟服务 seasonal residents",
        }
        for r in rows
    ]


def service_definition(session: Session, code: str) -> dict[str, Any]:
    """services/{code}.json. Our services need no extra attributes."""
    if session.get(CaseCategory, code) is None:
        raise NotFound(f"no service {code!r}")
    return {"service_code": code, "attributes": []}


def _columns() -> list[Any]:
    return [
        c.id,
        c.public_id,
        c.status,
        c.tier,
        c.description,
        c.address,
        c.category_code,
        cat.name_zh,
        cat.name_en,
        c.reported_at,
        c.updated_at,
        c.due_at,
        c.duplicate_of,
        c.cancel_reason,
        clock.clock_state().label("clock_state"),
        func.ST_X(c.geom).label("lon"),
        func.ST_Y(c.geom).label("lat"),
    ]


def _select() -> Select[*tuple[Any, ...]]:
    return select(*_columns()).join(CaseCategory, cat.code == c.category_code)


def _departments(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    s, d = CaseSummons.__table__.c, CaseDepartment.__table__.c
    rows = session.execute(
        select(s.case_id, d.name_zh)
        .join(CaseDepartment, d.code == s.department_code)
        .where(s.case_id.in_(ids))
        .order_by(s.id)
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r.case_id, []).append(r.name_zh)
    return out


_PRIMARY = text("SELECT public_id, status, tier, clock_state FROM case_public_status(:id)")


def _notes(session: Session, r: Any) -> str:
    status = Status(r.status)
    if r.duplicate_of is not None:
        # The primary may lie outside what the caller may read (a public follower holds only
        # their own id): its public status comes from an owner-defined function that returns
        # nothing personal, so both reporters follow the one case that is being handled.
        primary = session.execute(_PRIMARY, {"id": r.duplicate_of}).first()
        if primary is not None:
            return (
                f"与 {primary.public_id} 重复 (duplicate of {primary.public_id}); "
                f"{primary.public_id}: {_status_notes(primary)}"
            )
    if status == Status.cancelled:
        reason = (
            "无效 invalid" if r.cancel_reason == CancelReason.invalid.value else "重复 duplicate"
        )
        return f"{STATUS_LABELS[status]} (cancelled: {reason})"
    return _status_notes(r)


def _status_notes(r: Any) -> str:
    status, tier = Status(r.status), Tier(r.tier)
    notes = f"{STATUS_LABELS[status]} ({status.value}); {TIER_LABELS[tier]} ({tier.value} tier)"
    if status not in FINISHED:
        notes += f"; {clock.CLOCK_LABELS.get(r.clock_state, '')} ({r.clock_state})"
    return notes


def request_view(session: Session, r: Any, departments: Sequence[str] = ()) -> dict[str, Any]:
    """One case as an Open311 service request."""
    agency = TIER_LABELS[Tier(r.tier)]
    if departments:
        agency += " / " + "、".join(departments)
    return {
        "service_request_id": r.public_id,
        "status": "closed" if Status(r.status) in FINISHED else "open",
        "status_notes": _notes(session, r),
        "service_name": f"{r.name_zh} {r.name_en}",
        "service_code": r.category_code,
        "description": r.description,
        "agency_responsible": agency,
        "service_notice": "48小时内办结 (handled within 48 hours)",
        "requested_datetime": local_iso(r.reported_at),
        "updated_datetime": local_iso(r.updated_at),
        "expected_datetime": local_iso(r.due_at),
        "address": r.address,
        "address_id": None,
        "zipcode": None,
        "lat": round(float(r.lat), 7),
        "long": round(float(r.lon), 7),
        "media_url": None,
    }


def public_view(session: Session, case_id: int) -> dict[str, Any]:
    """What a public filer gets back about their own new case (no personal data)."""
    r = session.execute(_select().where(c.id == case_id)).one()
    return request_view(session, r)


def get_request(session: Session, public_id: str) -> dict[str, Any]:
    """requests/{id}.json: anyone holding the id may follow the request."""
    allow_public_ids(session, [public_id])
    r = session.execute(_select().where(c.public_id == public_id)).first()
    if r is None:
        raise NotFound(f"no service request {public_id!r}")
    return request_view(session, r, _departments(session, [r.id]).get(r.id, ()))


def list_requests(
    session: Session,
    principal: Principal,
    *,
    ids: Sequence[str] = (),
    service_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """requests.json. With ids: those requests (anyone). Without: the caller's scope, newest
    first, within `start`..`end` (default the last 90 days), at most 1000."""
    conditions: list[ColumnElement[bool]] = []
    if ids:
        if len(ids) > MAX_REQUESTS:
            raise InvalidInput(f"at most {MAX_REQUESTS} service_request_id values")
        conditions.append(c.public_id.in_(list(ids)))
        if principal.role == PUBLIC:
            allow_public_ids(session, ids)
        else:
            conditions.append(case_filter(principal))
    elif principal.role == PUBLIC:
        raise InvalidInput(f"service_request_id is required without an api_key: {REQUESTS_POLICY}")
    elif not sees_cases(principal):
        return []
    else:
        conditions.append(case_filter(principal))
        if start is None and end is None:
            start = city_clock.now() - DEFAULT_WINDOW
    if service_code:
        conditions.append(c.category_code.in_(service_code.split(",")))
    if start is not None:
        conditions.append(c.reported_at >= start)
    if end is not None:
        conditions.append(c.reported_at <= end)
    if status:
        wanted = set(status.split(","))
        if not wanted <= {"open", "closed"}:
            raise InvalidInput("status must be open, closed or open,closed")
        finished = [s.value for s in FINISHED]
        if wanted == {"open"}:
            conditions.append(c.status.notin_(finished))
        elif wanted == {"closed"}:
            conditions.append(c.status.in_(finished))
    rows = session.execute(
        _select().where(and_(*conditions)).order_by(c.reported_at.desc()).limit(MAX_REQUESTS)
    ).all()
    departments = _departments(session, [r.id for r in rows])
    return [request_view(session, r, departments.get(r.id, ())) for r in rows]
