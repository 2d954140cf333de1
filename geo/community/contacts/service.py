"""Designated contacts (专人对接) and regular contact (常态互动): assigning a household's
contact, the cell's grid worker as the default for every household without one, logging a
visit, call or message. Session in, never commits; every change writes an audit row.

Community and street staff assign (the community assigns party members and volunteers, 党员联
人头); grid workers and staff log contacts in their scope. A note is short (200 characters) and
not a medical record: a note naming an illness, a medicine, a diagnosis or a treatment is
refused (`MEDICAL_WORDS`), so health stays in the concern log's 看病就医 entries and in cases,
where it is protected as such. The list is a net for the obvious, not a classifier.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, literal, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from geo.access.principal import Principal, in_scope
from geo.audit import service as audit
from geo.community.contacts import queries
from geo.community.contacts.models import ASSIGNMENTS, CONTACT_LOG, NOTE_MAX, ContactKind
from geo.community.contacts.schemas import AssignmentCreate, ContactCreate
from geo.community.volunteers.models import MEMBERS, MemberKind
from geo.community.volunteers.queries import scope as volunteer_scope
from geo.core import clock
from geo.core.clock import db_now
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.residents.models import Stay
from geo.spatial.places.models import GridWorker, GridWorkerCell

asg, cl, mb = ASSIGNMENTS.c, CONTACT_LOG.c, MEMBERS.c
OLDEST = timedelta(days=90)  # a contact is logged within this long of the day it was made
MEDICAL_WORDS = (
    "病",
    "药",
    "诊",
    "医院",
    "住院",
    "手术",
    "血压",
    "血糖",
    "血脂",
    "癌",
    "肿瘤",
    "糖尿",
    "中风",
    "脑梗",
    "心梗",
    "透析",
    "化疗",
    "处方",
    "症状",
    "体检结果",
    "抑郁",
    "痴呆",
    "失智",
    "diagnos",
    "medic",
    "cancer",
    "diabet",
    "hospital",
)


def check_note(note: str | None) -> str | None:
    """The note, stripped; refused when too long or when it names something medical.

    >>> check_note("  聊了家常，想参加书法班 ")
    '聊了家常，想参加书法班'
    >>> check_note("最近血压偏高")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.core.errors.InvalidInput: note: no medical content here ('血压'): ...
    """
    text_ = (note or "").strip()
    if not text_:
        return None
    if len(text_) > NOTE_MAX:
        raise InvalidInput(f"note: at most {NOTE_MAX} characters")
    lowered = text_.lower()
    word = next((w for w in MEDICAL_WORDS if w in lowered), None)
    if word is not None:
        raise InvalidInput(
            f"note: no medical content here ({word!r}): record health in the concern log"
            " (看病就医) or a case"
        )
    return text_


def _staff(me: Principal) -> None:
    if me.role not in queries.STAFF:
        raise Forbidden("only community and street staff assign designated contacts")


def _present_stay(session: Session, me: Principal, resident_id: int, on: date) -> Any:
    p = queries.present(me, on).where(Stay.resident_id == resident_id).subquery("p")
    row = session.execute(select(p)).first()
    if row is None:
        raise NotFound(f"no resident {resident_id} present in your scope")
    return row


def _end_live(session: Session, cell: str, key: str, at: datetime) -> list[int]:
    return list(
        session.scalars(
            update(ASSIGNMENTS)
            .where(asg.cell_code == cell, asg.household_key == key, asg.ended_at.is_(None))
            .values(ended_at=at)
            .returning(asg.id)
        )
    )


def assign(
    session: Session, me: Principal, data: AssignmentCreate, *, now: datetime | None = None
) -> int:
    """Make a grid worker of the cell, or a member whose cell it is, the designated contact of
    the resident's household (ending the one before); returns the assignment's id."""
    _staff(me)
    at = now or db_now(session)
    stay = _present_stay(session, me, data.resident_id, clock.city_date(at))
    cell = stay.cell_code
    if data.grid_worker_id is not None:
        name = session.scalar(
            select(GridWorker.name)
            .join(GridWorkerCell, GridWorkerCell.worker_id == GridWorker.id)
            .where(GridWorker.id == data.grid_worker_id, GridWorkerCell.cell_code == cell)
        )
        if name is None:
            raise InvalidInput(f"grid worker {data.grid_worker_id} does not work in cell {cell}")
        kind = ContactKind.grid_worker
    else:
        member = session.execute(
            select(mb.name, mb.kind, mb.cell_code).where(
                mb.id == data.member_id, volunteer_scope(me, MEMBERS)
            )
        ).first()
        if member is None:
            raise NotFound(f"no volunteer member {data.member_id}")
        if member.cell_code != cell:
            raise InvalidInput(
                f"member {data.member_id} serves in cell {member.cell_code or '(none)'}, not in"
                f" {cell}: a household's contact is of its own grid"
            )
        name = member.name
        kind = (
            ContactKind.party_member
            if member.kind == MemberKind.party_member.value
            else ContactKind.volunteer
        )
    ended = _end_live(session, cell, stay.household_key, at)
    assignment_id: int = session.scalar(
        insert(ASSIGNMENTS)
        .values(
            cell_code=cell,
            community_code=cell[:12],
            street_code=cell[:9],
            household_key=stay.household_key,
            address=stay.address,
            contact_kind=kind.value,
            grid_worker_id=data.grid_worker_id,
            member_id=data.member_id,
            contact_name=name,
            assigned_by=me.name[:100],
            assigned_at=at,
        )
        .returning(asg.id)
    )
    audit.record(
        session,
        me,
        "contact_assignment.assign",
        object_type="contact_assignment",
        object_ids=[assignment_id, *ended],
        detail={"cell": cell, "kind": kind.value, "ended": ended},
    )
    return assignment_id


def assign_defaults(
    session: Session, me: Principal, cell: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """The cell's grid worker as the designated contact of every household present in the cell
    that has none (one INSERT ... SELECT); returns how many were assigned."""
    _staff(me)
    if not in_scope(me, cell_code=cell):
        raise NotFound(f"no cell {cell} in your scope")
    worker = session.execute(
        select(GridWorker.id, GridWorker.name)
        .join(GridWorkerCell, GridWorkerCell.worker_id == GridWorker.id)
        .where(GridWorkerCell.cell_code == cell)
        .order_by(GridWorker.id)
        .limit(1)
    ).first()
    if worker is None:
        raise InvalidInput(f"cell {cell} has no grid worker to assign")
    at = now or db_now(session)
    p = queries.present(me, clock.city_date(at)).subquery("p")
    households = (
        select(
            p.c.cell_code,
            p.c.community_code,
            p.c.street_code,
            p.c.household_key,
            p.c.address,
            literal(ContactKind.grid_worker.value),
            literal(worker.id),
            literal(worker.name),
            literal(me.name[:100]),
            literal(at),
        )
        .where(p.c.cell_code == cell)
        .where(
            ~select(asg.id)
            .where(
                and_(
                    asg.cell_code == p.c.cell_code,
                    asg.household_key == p.c.household_key,
                    asg.ended_at.is_(None),
                )
            )
            .exists()
        )
        .ext(distinct_on(p.c.household_key))
        .order_by(p.c.household_key, p.c.resident_id)
    )
    ids = list(
        session.scalars(
            insert(ASSIGNMENTS)
            .from_select(
                [
                    "cell_code",
                    "community_code",
                    "street_code",
                    "household_key",
                    "address",
                    "contact_kind",
                    "grid_worker_id",
                    "contact_name",
                    "assigned_by",
                    "assigned_at",
                ],
                households,
            )
            .returning(asg.id)
        )
    )
    if ids:
        audit.record(
            session,
            me,
            "contact_assignment.assign_default",
            object_type="contact_assignment",
            object_ids=ids,
            detail={"cell": cell, "grid_worker_id": worker.id, "assigned": len(ids)},
        )
    return {"cell_code": cell, "grid_worker_id": worker.id, "assigned": len(ids)}


def log_contact(
    session: Session, me: Principal, data: ContactCreate, *, now: datetime | None = None
) -> list[int]:
    """Log a visit, call or message to a resident present in scope (or to every resident present
    in their household); returns the rows' ids."""
    queries.readers_only(me)
    at = now or db_now(session)
    today = clock.city_date(at)
    on = data.contacted_on or today
    if on > today:
        raise InvalidInput(f"contacted_on {on} is after today ({today} in Yichun)")
    if on < today - OLDEST:
        raise InvalidInput(f"contacted_on {on}: contacts are logged within {OLDEST.days} days")
    note = check_note(data.note)
    stay = _present_stay(session, me, data.resident_id, today)
    residents = [stay.resident_id]
    if data.whole_household:
        p = queries.present(me, today).subquery("p")
        residents = list(
            session.scalars(
                select(p.c.resident_id)
                .where(p.c.cell_code == stay.cell_code, p.c.household_key == stay.household_key)
                .order_by(p.c.resident_id)
            )
        )
    assignment = session.scalar(
        select(asg.id).where(
            asg.cell_code == stay.cell_code,
            asg.household_key == stay.household_key,
            asg.ended_at.is_(None),
        )
    )
    by_name = (data.by_name or "").strip() or me.name[:50]
    ids = list(
        session.scalars(
            insert(CONTACT_LOG).returning(cl.id, sort_by_parameter_order=True),
            [
                {
                    "resident_id": rid,
                    "cell_code": stay.cell_code,
                    "community_code": stay.cell_code[:12],
                    "street_code": stay.cell_code[:9],
                    "household_key": stay.household_key,
                    "assignment_id": assignment,
                    "channel": data.channel.value,
                    "contacted_on": on,
                    "by_name": by_name,
                    "note": note,
                    "created_by": me.name[:100],
                    "created_by_role": me.role,
                    "created_at": at,
                }
                for rid in residents
            ],
        )
    )
    if not ids:  # pragma: no cover - the resident itself is present
        raise Conflict("nobody present to log a contact for")
    audit.record(
        session,
        me,
        "contact_log.create",
        object_type="resident",
        object_ids=residents,
        detail={"channel": data.channel.value, "on": on.isoformat(), "rows": len(ids)},
    )
    return ids
