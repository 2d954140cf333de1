"""Changes to archives after the intake: merge, split, confirmed departures and grid workers'
edits (review decisions: `geo.residents.archive.review`). Each moves or adds reports and rewrites
the archives from all their reports (`store.ArchiveWriter.refresh`), writes the archive history
(`resident_event`, append-only) and an audit row.

These run with the intake's lock and as the system (an archive's reports lie in several cells,
and rewriting it reads them all), after checking here that the caller's scope holds the objects
it names: a resident or report outside it is NotFound.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Channel, Principal
from geo.audit import service as audit
from geo.core import clock
from geo.core.errors import InvalidInput, NotFound
from geo.residents.archive.store import LINKED, ArchiveWriter, archive_rows
from geo.residents.intake import pipeline as intake
from geo.residents.intake import records
from geo.residents.intake.linkage import Outcome
from geo.residents.intake.reports import Item, Located, Submission, report_row
from geo.residents.models import (
    HealthCheck,
    IntakeReport,
    Resident,
    ResidentEvent,
    Stay,
)
from geo.residents.service import rows_in_scope

R = IntakeReport
_HC_ORDER = {"declined": 0, "invited": 1, "booked": 2, "done": 3}


def _event(
    session: Session,
    me: Principal,
    kind: str,
    resident_id: int,
    *,
    other: int | None = None,
    report_ids: Sequence[int] = (),
    note: str | None = None,
) -> None:
    _events(session, me, [(kind, resident_id, other, report_ids, note)])


def _events(
    session: Session,
    me: Principal,
    items: Sequence[tuple[str, int, int | None, Sequence[int], str | None]],
) -> None:
    """Append history rows (kind, resident, other resident, reports, note), each in its
    resident's current scope."""
    if not items:
        return
    scopes = {
        r.id: r
        for r in session.execute(
            select(
                Resident.id, Resident.cell_code, Resident.community_code, Resident.street_code
            ).where(Resident.id.in_({i[1] for i in items}))
        )
    }
    now = datetime.now(UTC)
    session.execute(
        insert(ResidentEvent),
        [
            {
                "at": now,
                "kind": kind,
                "resident_id": rid,
                "other_resident_id": other,
                "report_ids": list(reports),
                "actor_name": me.name[:100],
                "actor_role": str(me.role),
                "note": note,
                "cell_code": scopes[rid].cell_code,
                "community_code": scopes[rid].community_code,
                "street_code": scopes[rid].street_code,
            }
            for kind, rid, other, reports, note in items
        ],
    )


def _resident(session: Session, me: Principal, resident_id: int) -> Resident:
    row = session.scalar(
        select(Resident).where(
            Resident.id == resident_id, Resident.status == "active", rows_in_scope(me, Resident)
        )
    )
    if row is None:
        raise NotFound(f"no resident {resident_id}")
    return row


def _rows_of_reports(session: Session, report_ids: Sequence[int]) -> list[dict[str, Any]]:
    from sqlalchemy import func

    from geo.residents.archive.store import ARCHIVE_COLUMNS

    stmt = select(
        *ARCHIVE_COLUMNS, func.ST_X(R.geom).label("lon"), func.ST_Y(R.geom).label("lat")
    ).where(R.id.in_(list(report_ids)))
    return [dict(r) for r in session.execute(stmt).mappings()]


def _move(
    session: Session, report_ids: Sequence[int], to: int, decision: str, me: Principal
) -> None:
    """Point reports at an archive that `refresh` was just told about."""
    session.execute(
        update(R)
        .where(R.id.in_(list(report_ids)))
        .values(
            resident_id=to,
            decision=decision,
            decided_by=me.name[:100],
            decided_at=datetime.now(UTC),
            candidates=None,
        )
    )


# --- merge and split ----------------------------------------------------------------------


def merge(
    session: Session, me: Principal, survivor_id: int, other_id: int, *, note: str | None = None
) -> dict[str, Any]:
    """Merge archive `other_id` into `survivor_id`: its reports, concern-log entries, health
    checks and cases move over; it stays as a `merged` row pointing at the survivor."""
    if survivor_id == other_id:
        raise InvalidInput("cannot merge an archive into itself")
    intake.take_lock(session)
    survivor = _resident(session, me, survivor_id)
    other = _resident(session, me, other_id)
    moved = list(
        session.scalars(select(R.id).where(R.resident_id == other.id, R.decision.in_(LINKED)))
    )
    rows = archive_rows(session, [other.id])[other.id]
    for r in rows:
        r["resident_id"] = survivor.id
    ArchiveWriter(session).refresh([survivor.id], {survivor.id: rows})
    session.execute(update(R).where(R.id.in_(moved)).values(resident_id=survivor.id))
    _move_dependents(session, other.id, survivor.id)
    session.execute(delete(Stay).where(Stay.resident_id == other.id))
    session.execute(
        update(Resident)
        .where(Resident.id == other.id)
        .values(status="merged", merged_into_id=survivor.id, updated_at=datetime.now(UTC))
    )
    _event(session, me, "merged", survivor.id, other=other.id, report_ids=moved, note=note)
    _event(session, me, "merged_into", other.id, other=survivor.id, report_ids=moved, note=note)
    audit.record(
        session,
        me,
        "resident.merge",
        object_type="resident",
        object_ids=[survivor.id, other.id],
        detail={"reports": len(moved)},
    )
    return {"resident_id": survivor.id, "merged": other.id, "reports_moved": moved}


def _move_dependents(session: Session, source: int, target: int) -> None:
    from geo.cases.models import Case
    from geo.residents.models import ConcernEntry

    session.execute(
        update(ConcernEntry).where(ConcernEntry.resident_id == source).values(resident_id=target)
    )
    session.execute(update(Case).where(Case.resident_id == source).values(resident_id=target))
    mine = {
        h.season: h
        for h in session.scalars(select(HealthCheck).where(HealthCheck.resident_id == target))
    }
    for h in session.scalars(select(HealthCheck).where(HealthCheck.resident_id == source)).all():
        keep = mine.get(h.season)
        if keep is None:
            session.execute(
                update(HealthCheck).where(HealthCheck.id == h.id).values(resident_id=target)
            )
            continue
        if _HC_ORDER[h.status] > _HC_ORDER[keep.status]:
            session.execute(
                update(HealthCheck)
                .where(HealthCheck.id == keep.id)
                .values(
                    status=h.status,
                    invited_on=h.invited_on,
                    booked_for=h.booked_for,
                    done_on=h.done_on,
                )
            )
        session.execute(delete(HealthCheck).where(HealthCheck.id == h.id))


def split(
    session: Session,
    me: Principal,
    resident_id: int,
    report_ids: Sequence[int],
    *,
    note: str | None = None,
) -> dict[str, Any]:
    """Move `report_ids` out of an archive into a new one (a wrong link or merge undone). Both
    archives must keep at least one report with a location."""
    intake.take_lock(session)
    source = _resident(session, me, resident_id)
    own = set(
        session.scalars(select(R.id).where(R.resident_id == source.id, R.decision.in_(LINKED)))
    )
    wanted = set(report_ids)
    if not wanted <= own:
        raise InvalidInput(f"reports {sorted(wanted - own)} are not linked to resident {source.id}")
    if wanted == own:
        raise InvalidInput("a split must leave at least one report in the archive")
    rows = archive_rows(session, [source.id])[source.id]
    leaving = [r for r in rows if r["id"] in wanted]
    staying = [r for r in rows if r["id"] not in wanted]
    for part, label in ((leaving, "the split-off"), (staying, "the remaining")):
        if not any(r["lon"] is not None for r in part):
            raise InvalidInput(f"{label} reports must include one with a location")
    writer = ArchiveWriter(session)
    new_id = writer.new_resident_id()
    for r in leaving:
        r["resident_id"] = new_id
    writer.refresh([new_id], {new_id: leaving})
    session.execute(update(R).where(R.id.in_(sorted(wanted))).values(resident_id=new_id))
    writer.refresh([source.id])
    _event(session, me, "split", source.id, other=new_id, report_ids=sorted(wanted), note=note)
    _event(session, me, "split_from", new_id, other=source.id, report_ids=sorted(wanted), note=note)
    audit.record(
        session,
        me,
        "resident.split",
        object_type="resident",
        object_ids=[source.id, new_id],
        detail={"reports": len(wanted)},
    )
    return {"resident_id": source.id, "new_resident_id": new_id, "reports_moved": sorted(wanted)}


# --- reports written by a grid worker directly into an archive ------------------------------


def _direct(
    session: Session,
    me: Principal,
    resident: Resident,
    fields: dict[str, Any],
    *,
    season: int,
    scope: dict[str, Any],
    why: str,
) -> dict[str, Any]:
    """A grid worker's report about a known resident (an edit, a confirmed departure)."""
    now = datetime.now(UTC)
    n = records.normalize(
        fields, default_crs=None, received_at=now, today=clock.today(), identify=False
    )
    if n.problems:
        raise InvalidInput("; ".join(n.problems))
    n.season = season
    sub = Submission(
        channel=Channel.grid_worker,
        submitted_by_name=me.name[:100],
        submitted_by=me.account_id,
        source="staff",
    )
    loc = Located(
        cell_code=scope["cell_code"],
        community_code=scope["community_code"],
        street_code=scope["street_code"],
    )
    decision = Outcome("linked", resident.id, None, ((why, 0.0),))
    row = report_row(sub, None, now, Item(fields), n, loc, decision)
    row["decided_by"] = me.name[:100]
    return row


def edit(
    session: Session, me: Principal, resident_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """A grid worker corrects or adds facts: stored as their own report, so provenance shows
    who said what when, and nothing earlier is overwritten."""
    fields = {k: v for k, v in changes.items() if v is not None}
    if not fields:
        raise InvalidInput("nothing to change")
    intake.take_lock(session)
    r = _resident(session, me, resident_id)
    scope = {
        "cell_code": r.cell_code,
        "community_code": r.community_code,
        "street_code": r.street_code,
    }
    row = _direct(
        session,
        me,
        r,
        fields,
        season=clock.current_season(),
        scope=scope,
        why="edited_by_grid_worker",
    )
    (report_id,) = ArchiveWriter(session).write([row])
    _event(session, me, "edited", r.id, report_ids=[report_id], note=", ".join(sorted(fields)))
    audit.record(
        session,
        me,
        "resident.edit",
        object_type="resident",
        object_ids=[r.id],
        fields=sorted(fields),
    )
    return {"resident_id": r.id, "report_id": report_id}


def departures_due(
    session: Session, me: Principal, *, on: date | None = None
) -> list[dict[str, Any]]:
    """Stays in the caller's scope past their expected departure with no report since: for the
    grid worker to confirm (or to report the person still here)."""
    from geo.residents.service import stay_state

    on = on or clock.today()
    state = stay_state(on)
    rows = session.execute(
        select(Stay, Resident.name, Resident.phone_masked)
        .join(Resident, Resident.id == Stay.resident_id)
        .where(state == "departure_due", rows_in_scope(me, Stay), Resident.status == "active")
        .order_by(Stay.expected_departure, Stay.id)
    ).all()
    return [
        {
            "stay_id": s.id,
            "resident_id": s.resident_id,
            "name": name,
            "phone": phone,
            "season": s.season,
            "cell_code": s.cell_code,
            "address": s.address,
            "arrived_on": s.arrived_on,
            "expected_departure": s.expected_departure,
            "last_reported_on": s.last_reported_on,
        }
        for s, name, phone in rows
    ]


def confirm_departures(
    session: Session,
    me: Principal,
    departures: Sequence[tuple[int, date]],
    *,
    note: str | None = None,
) -> list[int]:
    """Close stays: each confirmation is the grid worker's report of the departure date."""
    intake.take_lock(session)
    ids = [stay_id for stay_id, _ in departures]
    stays = {
        s.id: s
        for s in session.scalars(select(Stay).where(Stay.id.in_(ids), rows_in_scope(me, Stay)))
    }
    residents = {
        r.id: r
        for r in session.scalars(
            select(Resident).where(
                Resident.id.in_({s.resident_id for s in stays.values()}),
                Resident.status == "active",
            )
        )
    }
    rows = []
    today = clock.today()
    for stay_id, day in departures:
        s = stays.get(stay_id)
        if s is None or s.resident_id not in residents:
            raise NotFound(f"no stay {stay_id}")
        if day < s.arrived_on or day > today:
            raise InvalidInput(f"departure {day} must lie between arrival {s.arrived_on} and today")
        fields = {"departed_on": day, "note": note}
        scope = {
            "cell_code": s.cell_code,
            "community_code": s.community_code,
            "street_code": s.street_code,
        }
        row = _direct(
            session,
            me,
            residents[s.resident_id],
            fields,
            season=s.season,
            scope=scope,
            why="departure_confirmed",
        )
        rows.append(row)
    report_ids = ArchiveWriter(session).write(rows)
    _events(
        session,
        me,
        [
            ("departure_confirmed", row["resident_id"], None, [report_id], note)
            for row, report_id in zip(rows, report_ids, strict=True)
        ],
    )
    audit.record(session, me, "stay.departure", object_type="stay", object_ids=ids)
    return report_ids
