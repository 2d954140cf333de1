"""The review queue: reports the linkage left undecided, and the decisions on them.

A report waits in the queue of its best candidate archive's scope, or where it was placed
(`geo.residents.intake.routing`). A reviewer sees, and may link to, only archives in their own
scope; deciding puts the report back where it was placed. Decisions run with the intake's lock and
as the system, after checking the caller's scope holds the report
(`geo.residents.archive.operations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.audit import service as audit
from geo.core.errors import Conflict, InvalidInput, NotFound
from geo.residents.archive.operations import _events, _move, _rows_of_reports
from geo.residents.archive.store import ArchiveWriter
from geo.residents.intake import pipeline as intake
from geo.residents.intake import routing
from geo.residents.intake.routing import Scope
from geo.residents.models import IntakeReport, Resident
from geo.residents.service import rows_in_scope

R = IntakeReport


def review_queue(session: Session, me: Principal, *, limit: int = 100) -> list[dict[str, Any]]:
    """Reports waiting in the caller's queue (`routing`), oldest first; each with those of its
    candidate archives the caller's scope holds. The id, score and per-field reasons of an
    archive outside it never show; nor do the report's own score and reasons unless its best
    candidate is shown."""
    from geo.residents.service import report_summary

    reports = session.scalars(
        select(R)
        .where(R.decision == "review", rows_in_scope(me, R))
        .order_by(R.received_at, R.id)
        .limit(limit)
    ).all()
    ids = {c["resident_id"] for x in reports for c in (x.candidates or [])}
    visible = {
        r.id: r
        for r in session.scalars(
            select(Resident).where(
                Resident.id.in_(ids), Resident.status == "active", rows_in_scope(me, Resident)
            )
        )
    }
    out = []
    for x in reports:
        item = report_summary(x)
        candidates = x.candidates or []
        if not candidates or candidates[0]["resident_id"] not in visible:
            item["score"] = item["reasons"] = None
        item["candidates"] = [
            {
                **c,
                "resident": {
                    "id": r.id,
                    "name": r.name,
                    "sex": r.sex,
                    "birth_year": r.birth_year,
                    "phone": r.phone_masked,
                    "id_number": r.id_number_masked,
                    "cell_code": r.cell_code,
                },
            }
            for c in candidates
            if (r := visible.get(c["resident_id"])) is not None
        ]
        out.append(item)
    return out


def resolve_review(
    session: Session,
    me: Principal,
    report_id: int,
    *,
    action: str,
    resident_id: int | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The grid worker's decision on a report in their queue: link it to an archive in their
    scope (one of its candidates, or any other), found a new archive, or reject it.

    A report that waits for an archive's own grid worker may have been placed elsewhere: a
    link then moves the archive there (their decision); `new` hands the report back to the
    queue where it was placed, for that cell to found the archive (nobody founds one outside
    their scope)."""
    return resolve_reviews(session, me, [(report_id, action, resident_id)], note=note)[0]


def resolve_reviews(
    session: Session,
    me: Principal,
    decisions: Sequence[tuple[int, str, int | None]],
    *,
    note: str | None = None,
) -> list[dict[str, Any]]:
    """Several review decisions (report id, link | new | reject, resident id) at once."""
    intake.take_lock(session)
    ids = [d[0] for d in decisions]
    reports = {
        x.id: x
        for x in session.scalars(
            select(R).where(R.id.in_(ids), rows_in_scope(me, R)).with_for_update()
        )
    }
    writer = ArchiveWriter(session)
    rows = {r["id"]: r for r in _rows_of_reports(session, ids)}
    results: list[dict[str, Any]] = []
    moves: list[tuple[int, int, str, str]] = []
    pending: dict[int, list[dict[str, Any]]] = {}
    placed = {i: routing.placement(x.geocode) for i, x in reports.items()}
    for report_id, action, resident_id in decisions:
        x = reports.get(report_id)
        if x is None:
            raise NotFound(f"no report {report_id} in review")
        if x.decision != "review":
            raise Conflict(f"report {report_id} is not in review (it is {x.decision})")
        if action == "reject":
            reason = f"rejected on review by {me.name}" + (f": {note}" if note else "")
            session.execute(
                update(R)
                .where(R.id == x.id)
                .values(
                    decision="rejected",
                    reject_reason=reason,
                    decided_by=me.name[:100],
                    decided_at=datetime.now(UTC),
                    candidates=None,
                )
            )
            results.append({"report_id": x.id, "decision": "rejected"})
            continue
        if action == "link":
            rid = _link_target(session, me, resident_id)
            decision, kind = "linked", "review_linked"
        elif action == "new" and not routing.holds(me, placed[x.id]):
            _hand_back(session, me, x.id, placed[x.id])
            results.append({"report_id": x.id, "decision": "review", "returned_to": placed[x.id]})
            continue
        elif action == "new":
            rid, decision, kind = writer.new_resident_id(), "new", "review_new"
        else:
            raise InvalidInput("action must be link, new or reject")
        row = {**rows[x.id], **(placed[x.id] or {}), "resident_id": rid}
        pending.setdefault(rid, []).append(row)
        moves.append((x.id, rid, decision, kind))
        results.append({"report_id": x.id, "decision": decision, "resident_id": rid})
    writer.refresh(pending, pending)
    for decision in ("linked", "new"):
        for rid in {m[1] for m in moves if m[2] == decision}:
            _move(
                session,
                [m[0] for m in moves if m[1] == rid and m[2] == decision],
                rid,
                decision,
                me,
            )
    _place_back(session, [(reports[m[0]], placed[m[0]]) for m in moves])
    _events(
        session, me, [(kind, rid, None, [report_id], note) for report_id, rid, _, kind in moves]
    )
    audit.record(
        session,
        me,
        "resident.review",
        object_type="intake_report",
        object_ids=ids,
        detail={
            "actions": sorted({d[1] for d in decisions}),
            "residents": sorted({m[1] for m in moves}),
        },
    )
    return results


def _link_target(session: Session, me: Principal, resident_id: int | None) -> int:
    """An archive in the caller's scope: a candidate elsewhere is not theirs to move."""
    if resident_id is None:
        raise InvalidInput("action=link needs resident_id")
    visible = select(Resident.id).where(
        Resident.id == resident_id, Resident.status == "active", rows_in_scope(me, Resident)
    )
    if session.scalar(visible) is None:
        raise NotFound(f"no resident {resident_id} in your scope")
    return resident_id


def _hand_back(session: Session, me: Principal, report_id: int, place: Scope | None) -> None:
    """Not the caller's person, and placed outside their scope: back to the queue of the place
    it was reported at, with no candidates."""
    if place is None:
        raise Conflict(f"report {report_id} has no place to found an archive at: reject it")
    session.execute(
        update(R)
        .where(R.id == report_id)
        .values(
            **place,
            candidates=None,
            score=None,
            reasons=None,
            decided_by=me.name[:100],
            decided_at=datetime.now(UTC),
        )
    )


def _place_back(session: Session, decided: Sequence[tuple[IntakeReport, Scope | None]]) -> None:
    """A decided report is seen where it was placed again (in review, it was in the queue of
    the archive's own cell)."""
    for x, place in decided:
        if place is not None and place != {k: getattr(x, k) for k in routing.SCOPE_COLUMNS}:
            session.execute(update(R).where(R.id == x.id).values(**place))
