"""免费健康体检 on the grid worker's phone (/m/health): who is due an invitation, the appointments
of the caller's cells by step, and the check centres' free places. Session in, never commits.

Reads only; every change is `geo.bookings.health` (invite, book, cancel, attend, miss), so the
rules are the API's: eligible = 65+ this season with a stay of this season not departed, in the
caller's scope (elsewhere: NotFound); the last place of a day goes to one caller (409 with free
alternatives); attended or missed from the day on, by the roles the workflow allows.
Participation only: no result, no note about health.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.audit import service as audit
from geo.bookings import health
from geo.bookings.models import APPOINTMENTS
from geo.bookings.workflow import Status
from geo.residents.health_checks import MIN_AGE
from geo.residents.models import HealthCheck, Resident, Stay
from geo.residents.service import rows_in_scope

AHEAD_DAYS = 14  # the centres' days offered for booking, from tomorrow
BOOKABLE = frozenset({Status.invited.value, Status.cancelled.value, Status.missed.value})
SHOWN = 200  # rows of each list; the counts are whole
a = APPOINTMENTS.c


def due(session: Session, me: Principal, *, season: int, today: date) -> list[dict[str, Any]]:
    """Residents of the caller's scope who may be invited now: 65+ this season, a stay of this
    season not departed, no appointment this season, and not recorded as done or declined (the
    manual record of geo/residents/health_checks.py). The read of names is audited."""
    rows = session.execute(
        select(
            Resident.id,
            Resident.name,
            Resident.birth_year,
            Stay.cell_code,
            Stay.address,
        )
        .join(Stay, and_(Stay.resident_id == Resident.id, Stay.season == season))
        .outerjoin(APPOINTMENTS, and_(a.resident_id == Resident.id, a.season == season))
        .outerjoin(
            HealthCheck, and_(HealthCheck.resident_id == Resident.id, HealthCheck.season == season)
        )
        .where(
            Resident.status == "active",
            Resident.birth_year.is_not(None),
            season - Resident.birth_year >= MIN_AGE,
            Stay.cell_code.is_not(None),
            or_(Stay.departed_on.is_(None), Stay.departed_on >= today),
            rows_in_scope(me, Stay),
            a.id.is_(None),
            or_(HealthCheck.status.is_(None), HealthCheck.status.not_in(("done", "declined"))),
        )
        .order_by(Stay.cell_code, Resident.birth_year, Resident.id)
        .limit(SHOWN)
    ).all()
    items: dict[int, dict[str, Any]] = {}
    for r in rows:  # two stays of one season (moved within the cells): the resident once
        items.setdefault(
            r.id,
            {
                "id": r.id,
                "name": r.name,
                "age": season - r.birth_year,
                "cell_code": r.cell_code,
                "address": r.address,
            },
        )
    if items:
        audit.record(
            session, me, "health_check.due_list", object_type="resident", object_ids=list(items)
        )
    return list(items.values())


def day_of(session: Session, me: Principal, *, season: int, today: date) -> dict[str, Any]:
    """Everything the phone's health-check page shows: due invitations, the season's
    appointments of the caller's scope by step, and each centre's free places per day from
    tomorrow (the caller's street first)."""
    listed = health.list_appointments(session, me, season=season, limit=SHOWN)
    by_step: dict[str, list[dict[str, Any]]] = {"to_book": [], "booked": [], "done": []}
    for item in listed["appointments"]:
        if item["status"] in BOOKABLE:
            by_step["to_book"].append(item)
        elif item["status"] == Status.booked.value:
            item["may_record"] = item["day"] is not None and item["day"] <= today
            by_step["booked"].append(item)
        else:
            by_step["done"].append(item)
    return {
        "season": season,
        "today": today,
        "due": due(session, me, season=season, today=today),
        **by_step,
        "total": listed["total"],
        "centres": free_places(session, me, today=today),
    }


def free_places(session: Session, me: Principal, *, today: date) -> list[dict[str, Any]]:
    """Check centres with their days that have places left, tomorrow to AHEAD_DAYS on; the
    centres of the caller's street (or of their cells' streets) first."""
    found = health.centres(
        session, since=today + timedelta(days=1), until=today + timedelta(days=AHEAD_DAYS)
    )
    mine = {c[:9] for c in me.cells} | ({me.street} if me.street else set())
    if me.community:
        mine.add(me.community[:9])
    for centre in found:
        centre["days"] = [d for d in centre["days"] if d["free"] > 0]
    found.sort(key=lambda c: (c["street_code"] not in mine, c["code"]))
    return [c for c in found if c["days"]]
