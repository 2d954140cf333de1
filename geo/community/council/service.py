"""The residents' council: meetings with attendance and minutes, suggestions through the one
table of steps (geo/community/council/workflow.py). Session in, never commits.

Staff act in their scope (community staff their community, street staff their street; 404
outside, and RLS again). Every change of a suggestion locks the row, checks the step (409 with
what may be done), appends an event (dated by the one clock, with its owner) and an audit row.
The suggester follows it by its unguessable public id (no account), seeing status, dated steps,
the reason if not adopted and the public reply; never names or internal notes.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal, apply_rls, in_scope, scope_filter
from geo.audit import service as audit
from geo.community.council.models import (
    ATTENDANCE,
    ATTENDEE_KINDS,
    MEETINGS,
    SUGGESTION_EVENTS,
    SUGGESTIONS,
)
from geo.community.council.schemas import MeetingCreate, SuggestionCreate, SuggestionStep
from geo.community.council.workflow import STATUS_LABELS, STEPS, Status, step
from geo.core.clock import db_now
from geo.core.errors import Forbidden, InvalidInput, NotFound

m, a, s, ev = MEETINGS.c, ATTENDANCE.c, SUGGESTIONS.c, SUGGESTION_EVENTS.c
STAFF = frozenset({"community_staff", "street_staff", "system"})
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _scope(me: Principal, table: Any) -> Any:
    return scope_filter(me, community=table.c.community_code, street=table.c.street_code)


def _check(me: Principal, community: str) -> None:
    if me.role not in STAFF:
        raise Forbidden("only community and street staff keep the council's records")
    if not in_scope(me, community_code=community):
        raise NotFound(f"no community {community} in your scope")


def create_meeting(
    session: Session, me: Principal, data: MeetingCreate, *, now: datetime | None = None
) -> int:
    """Record a meeting with its attendees and minutes; returns its id."""
    _check(me, data.community)
    bad = sorted({x.kind for x in data.attendees} - set(ATTENDEE_KINDS))
    if bad:
        raise InvalidInput(f"attendee kind {bad[0]!r}: one of {', '.join(ATTENDEE_KINDS)}")
    at = now or db_now(session)
    meeting_id: int = session.scalar(
        insert(MEETINGS)
        .values(
            community_code=data.community,
            street_code=data.community[:9],
            held_on=data.held_on,
            topic=data.topic,
            place=data.place or None,
            minutes=data.minutes or None,
            created_by=me.name[:100],
            created_at=at,
        )
        .returning(m.id)
    )
    if data.attendees:
        session.execute(
            insert(ATTENDANCE),
            [
                {
                    "meeting_id": meeting_id,
                    "community_code": data.community,
                    "street_code": data.community[:9],
                    "name": x.name,
                    "kind": x.kind,
                }
                for x in data.attendees
            ],
        )
    audit.record(
        session,
        me,
        "council_meeting.create",
        object_type="council_meeting",
        object_ids=[meeting_id],
        detail={"attendance": len(data.attendees)},
    )
    return meeting_id


def _meeting_select() -> Any:
    attendance = (
        select(func.count()).where(a.meeting_id == m.id).correlate(MEETINGS).scalar_subquery()
    )
    suggestions = (
        select(func.count()).where(s.meeting_id == m.id).correlate(MEETINGS).scalar_subquery()
    )
    return select(
        m.id,
        m.community_code,
        m.held_on,
        m.topic,
        m.place,
        m.minutes,
        attendance.label("attendance"),
        suggestions.label("suggestions"),
    )


def get_meeting(session: Session, me: Principal, meeting_id: int) -> dict[str, Any]:
    row = session.execute(_meeting_select().where(m.id == meeting_id, _scope(me, MEETINGS))).first()
    if row is None:
        raise NotFound(f"no council meeting {meeting_id}")
    out = dict(row._mapping)
    out["attendees"] = [
        dict(x._mapping)
        for x in session.execute(
            select(a.name, a.kind).where(a.meeting_id == meeting_id).order_by(a.id)
        )
    ]
    return out


def list_meetings(
    session: Session, me: Principal, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    where = _scope(me, MEETINGS)
    total = session.scalar(select(func.count()).select_from(MEETINGS).where(where)) or 0
    rows = session.execute(
        _meeting_select()
        .where(where)
        .order_by(m.held_on.desc(), m.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return {"total": total, "meetings": [dict(x._mapping) for x in rows]}


def _log(
    session: Session,
    me: Principal,
    row: Any,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status,
    owner: str,
    note: str | None,
    data: dict[str, Any],
) -> None:
    session.execute(
        insert(SUGGESTION_EVENTS).values(
            suggestion_id=row.id,
            community_code=row.community_code,
            street_code=row.community_code[:9],
            at=at,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            owner=owner,
            actor=me.name[:100],
            actor_role=me.role,
            note=note,
            data={k: v for k, v in data.items() if v is not None},
        )
    )
    audit.record(
        session,
        me,
        f"council_suggestion.{action}",
        object_type="council_suggestion",
        object_ids=[row.id],
        detail={"from": from_status.value if from_status else None, "to": to_status.value},
    )


def create_suggestion(
    session: Session, me: Principal, data: SuggestionCreate, *, now: datetime | None = None
) -> int:
    """Receive a suggestion (status received, with its first owner); returns its id."""
    _check(me, data.community)
    if data.meeting_id is not None:
        held = session.scalar(
            select(m.community_code).where(m.id == data.meeting_id, _scope(me, MEETINGS))
        )
        if held != data.community:
            raise InvalidInput(f"meeting {data.meeting_id} is not a meeting of {data.community}")
    at = now or db_now(session)
    public_id = "JY" + "".join(secrets.choice(_ALPHABET) for _ in range(10))
    suggestion_id: int = session.scalar(
        insert(SUGGESTIONS)
        .values(
            public_id=public_id,
            community_code=data.community,
            street_code=data.community[:9],
            meeting_id=data.meeting_id,
            title=data.title,
            body=data.body,
            suggester_name=data.suggester_name or None,
            status=Status.received.value,
            owner=data.owner,
            received_at=at,
            created_by=me.name[:100],
            updated_at=at,
        )
        .returning(s.id)
    )
    row = session.execute(select(s.id, s.community_code).where(s.id == suggestion_id)).one()
    _log(session, me, row, at, "receive", None, Status.received, data.owner, None, {})
    return suggestion_id


def transition(
    session: Session,
    me: Principal,
    suggestion_id: int,
    body: SuggestionStep,
    *,
    now: datetime | None = None,
) -> None:
    """One step of the pipeline, with the owner from here on; reject needs a reason."""
    if me.role not in STAFF:
        raise Forbidden("only community and street staff move suggestions")
    row = session.execute(
        select(s.id, s.status, s.community_code)
        .where(s.id == suggestion_id, _scope(me, SUGGESTIONS))
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no suggestion {suggestion_id}")
    st = step(body.action, Status(row.status))
    reason = (body.reason or "").strip() or None
    if st.needs_reason and (reason is None or len(reason) < 2):
        raise InvalidInput(
            f"{st.action} needs a reason (2 to 500 characters), shown to the suggester"
        )
    if not st.needs_reason and reason is not None:
        raise InvalidInput(f"{st.action} does not take a reason")
    at = now or db_now(session)
    values: dict[str, Any] = {"status": st.to_status.value, "owner": body.owner}
    if reason:
        values["reason"] = reason
    if body.reply:
        values["public_reply"] = body.reply
    session.execute(
        update(SUGGESTIONS)
        .where(s.id == row.id)
        .values(**values, version=s.version + 1, updated_at=at)
    )
    _log(
        session,
        me,
        row,
        at,
        st.action,
        Status(row.status),
        st.to_status,
        body.owner,
        body.note,
        {"reason": reason, "reply": bool(body.reply) or None},
    )


def _steps(session: Session, suggestion_id: int, *, public: bool) -> list[dict[str, Any]]:
    cols = [ev.at, ev.action, ev.from_status, ev.to_status, ev.owner]
    if not public:
        cols += [ev.note, ev.actor]
    rows = session.execute(select(*cols).where(ev.suggestion_id == suggestion_id).order_by(ev.id))
    return [dict(x._mapping) for x in rows]


def _view(session: Session, row: Any) -> dict[str, Any]:
    status = Status(row.status)
    out = dict(row._mapping)
    out["status_label"] = STATUS_LABELS[status]
    out["allowed_actions"] = [x.action for x in STEPS if x.from_status == status]
    out["steps"] = _steps(session, row.id, public=False)
    return out


_COLS = (
    s.id,
    s.public_id,
    s.community_code,
    s.meeting_id,
    s.title,
    s.body,
    s.suggester_name,
    s.status,
    s.owner,
    s.reason,
    s.public_reply,
    s.received_at,
    s.version,
)


def get_suggestion(session: Session, me: Principal, suggestion_id: int) -> dict[str, Any]:
    row = session.execute(
        select(*_COLS).where(s.id == suggestion_id, _scope(me, SUGGESTIONS))
    ).first()
    if row is None:
        raise NotFound(f"no suggestion {suggestion_id}")
    return _view(session, row)


def list_suggestions(
    session: Session,
    me: Principal,
    *,
    status: Status | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    where = [_scope(me, SUGGESTIONS)]
    counts: dict[str, int] = dict(
        session.execute(select(s.status, func.count()).where(*where).group_by(s.status)).all()
    )
    if status:
        where.append(s.status == status.value)
    total = session.scalar(select(func.count()).select_from(SUGGESTIONS).where(*where)) or 0
    rows = session.execute(
        select(*_COLS)
        .where(*where)
        .order_by(s.received_at.desc(), s.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return {
        "total": total,
        "counts": {k: int(v) for k, v in counts.items()},
        "suggestions": [_view(session, x) for x in rows],
    }


def public_view(session: Session, public_id: str) -> dict[str, Any]:
    """A suggestion as its suggester reads it by the public id (no names, no notes)."""
    # Whoever the caller is, here they are the holder of the id: RLS shows the public exactly
    # the suggestion whose id its transaction names (`houniao.council_public_id`).
    apply_rls(session, Principal.anonymous())
    session.execute(select(func.set_config("houniao.council_public_id", public_id, True)))
    row = session.execute(
        select(s.id, s.public_id, s.title, s.status, s.reason, s.public_reply, s.received_at).where(
            s.public_id == public_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no suggestion {public_id!r}")
    out = dict(row._mapping)
    out["status_label"] = STATUS_LABELS[Status(row.status)]
    out["steps"] = _steps(session, row.id, public=True)
    del out["id"]
    return out
