"""Participation: teams and members, activities, sign-ups (the cap in PostgreSQL), governance
backbones. Session in, never commits; every change writes an audit row.

Staff act in their scope (community staff their community, street staff their street; 404
outside, and RLS again). A sign-up takes a place by a conditional UPDATE of the activity's
counter (`signed_up < capacity`), which locks the row until commit: of any number of callers
racing for the last place exactly one gets it, the others a Conflict (409) saying it is full.
A cancellation gives the place back; attended/absent record the participation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal, in_scope
from geo.audit import service as audit
from geo.community.volunteers import queries
from geo.community.volunteers.models import (
    ACTIVITIES,
    BACKBONES,
    MEMBERS,
    PHONE_CONTEXT,
    SIGNUPS,
    TEAMS,
    SignupStatus,
)
from geo.community.volunteers.schemas import (
    SIGNUP_ACTIONS,
    ActivityCreate,
    BackboneCreate,
    MemberCreate,
    SignupCreate,
    SignupStep,
    TeamCreate,
)
from geo.core.clock import city_date, db_now
from geo.core.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from geo.privacy import crypto, ids, masking
from geo.privacy.reveal import reveal
from geo.residents.models import Resident
from geo.residents.service import rows_in_scope
from geo.spatial.boundaries.models import GridCell

t, mb, a, su, bb = TEAMS.c, MEMBERS.c, ACTIVITIES.c, SIGNUPS.c, BACKBONES.c
S = SignupStatus
# (action, from) -> to: the one table of sign-up steps.
SIGNUP_STEPS: dict[tuple[str, S], S] = {
    ("cancel", S.signed_up): S.cancelled,
    ("attend", S.signed_up): S.attended,
    ("absent", S.signed_up): S.absent,
    ("attend", S.absent): S.attended,  # marked absent by mistake
}
LONGEST = timedelta(days=14)  # an activity lasts at most this long


def _check_community(me: Principal, community: str) -> None:
    queries.staff_only(me)
    if not in_scope(me, community_code=community):
        raise NotFound(f"no community {community} in your scope")


def _resident(session: Session, me: Principal, resident_id: int) -> Any:
    """The resident's id, name and cell, if in the caller's scope (else NotFound)."""
    row = session.execute(
        select(Resident.id, Resident.name, Resident.cell_code, Resident.community_code).where(
            Resident.id == resident_id,
            Resident.status == "active",
            rows_in_scope(me, Resident),
        )
    ).first()
    if row is None:
        raise NotFound(f"no resident {resident_id} in your scope")
    return row


def _cell(session: Session, cell: str, community: str | None = None) -> None:
    if community is not None and cell[:12] != community:
        raise InvalidInput(f"cell {cell} is not a cell of community {community}")
    if not session.scalar(select(exists().where(GridCell.code == cell))):
        raise InvalidInput(f"no grid cell {cell}")


def create_team(session: Session, me: Principal, data: TeamCreate) -> int:
    _check_community(me, data.community)
    taken = session.scalar(
        select(exists().where(t.community_code == data.community, t.name == data.name))
    )
    if taken:
        raise Conflict(f"community {data.community} already has a team named {data.name!r}")
    team_id: int = session.scalar(
        insert(TEAMS)
        .values(
            community_code=data.community,
            street_code=data.community[:9],
            name=data.name,
            focus=data.focus or None,
            skills=data.skills,
            created_by=me.name[:100],
        )
        .returning(t.id)
    )
    audit.record(
        session, me, "volunteer_team.create", object_type="volunteer_team", object_ids=[team_id]
    )
    return team_id


def _protect(phone: str | None) -> dict[str, str | None]:
    if phone is None or not phone.strip():
        return {"phone_masked": None, "phone_enc": None, "phone_hash": None}
    try:
        digits = ids.validate_mobile(phone)
    except InvalidInput as exc:
        raise InvalidInput(f"phone: {exc.detail}") from None
    return {
        "phone_masked": masking.mask_phone(digits),
        "phone_enc": crypto.encrypt(digits, context=PHONE_CONTEXT),
        "phone_hash": crypto.lookup_hash(digits, kind="phone"),
    }


def add_member(
    session: Session,
    me: Principal,
    team_id: int,
    data: MemberCreate,
    *,
    now: datetime | None = None,
) -> int:
    """A member of a team in scope; a resident is linked by id (their archive in scope)."""
    queries.staff_only(me)
    team = session.execute(
        select(t.id, t.community_code).where(t.id == team_id, queries.scope(me, TEAMS))
    ).first()
    if team is None:
        raise NotFound(f"no volunteer team {team_id}")
    cell = data.cell
    if data.resident_id is not None:
        person = _resident(session, me, data.resident_id)
        dup = session.scalar(
            select(exists().where(mb.team_id == team_id, mb.resident_id == data.resident_id))
        )
        if dup:
            raise Conflict(f"resident {data.resident_id} is already a member of team {team_id}")
        cell = cell or (person.cell_code if person.community_code == team.community_code else None)
    if cell is not None:
        _cell(session, cell, team.community_code)
    at = now or db_now(session)
    member_id: int = session.scalar(
        insert(MEMBERS)
        .values(
            team_id=team_id,
            community_code=team.community_code,
            street_code=team.community_code[:9],
            cell_code=cell,
            resident_id=data.resident_id,
            name=data.name,
            kind=data.kind.value,
            skills=data.skills,
            months=data.months,
            joined_on=city_date(at),
            created_by=me.name[:100],
            **_protect(data.phone),
        )
        .returning(mb.id)
    )
    audit.record(
        session,
        me,
        "volunteer_member.create",
        object_type="volunteer_member",
        object_ids=[member_id],
        detail={"team_id": team_id, "kind": data.kind.value, "resident": data.resident_id},
    )
    return member_id


def reveal_phone(
    session: Session, me: Principal, member_id: int, *, purpose: str, reason: str
) -> dict[str, Any]:
    """A member's full phone number: staff in scope, with a purpose; audited."""
    queries.staff_only(me)
    row = session.execute(
        select(mb.phone_enc).where(mb.id == member_id, queries.scope(me, MEMBERS))
    ).first()
    if row is None:
        raise NotFound(f"no volunteer member {member_id}")
    value = reveal(
        session,
        me,
        object_type="volunteer_member",
        object_id=member_id,
        field="phone",
        token=row.phone_enc,
        context=PHONE_CONTEXT,
        purpose=purpose,
        reason=reason,
        allowed_roles=queries.STAFF,
    )
    return {"id": member_id, "field": "phone", "value": value}


def create_activity(session: Session, me: Principal, data: ActivityCreate) -> int:
    _check_community(me, data.community)
    if data.ends_at <= data.starts_at:
        raise InvalidInput("ends_at must be after starts_at")
    if data.ends_at - data.starts_at > LONGEST:
        raise InvalidInput(f"an activity lasts at most {LONGEST.days} days")
    if data.team_id is not None:
        team = session.scalar(
            select(t.community_code).where(t.id == data.team_id, queries.scope(me, TEAMS))
        )
        if team != data.community:
            raise InvalidInput(f"team {data.team_id} is not a team of {data.community}")
    activity_id: int = session.scalar(
        insert(ACTIVITIES)
        .values(
            team_id=data.team_id,
            community_code=data.community,
            street_code=data.community[:9],
            kind=data.kind.value,
            title=data.title,
            place=data.place or None,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            capacity=data.capacity,
            created_by=me.name[:100],
        )
        .returning(a.id)
    )
    audit.record(
        session,
        me,
        "volunteer_activity.create",
        object_type="volunteer_activity",
        object_ids=[activity_id],
        detail={"capacity": data.capacity, "kind": data.kind.value},
    )
    return activity_id


def sign_up(
    session: Session,
    me: Principal,
    activity_id: int,
    data: SignupCreate,
    *,
    now: datetime | None = None,
) -> int:
    """Take one place of an activity for a member, a resident or a name; returns the sign-up's
    id. Full, started or a second live sign-up of the same person: Conflict (409)."""
    queries.staff_only(me)
    row = session.execute(
        select(a.id, a.community_code, a.starts_at, a.title).where(
            a.id == activity_id, queries.scope(me, ACTIVITIES)
        )
    ).first()
    if row is None:
        raise NotFound(f"no activity {activity_id}")
    at = now or db_now(session)
    if row.starts_at <= at:
        raise Conflict(f"{row.title} has started: sign-ups are closed")
    name, member_id, resident_id = data.name, data.member_id, data.resident_id
    if member_id is not None:
        member = session.execute(
            select(mb.name, mb.resident_id).where(mb.id == member_id, queries.scope(me, MEMBERS))
        ).first()
        if member is None:
            raise NotFound(f"no volunteer member {member_id}")
        name = name or member.name
    if resident_id is not None:
        person = _resident(session, me, resident_id)
        name = name or person.name or f"居民{resident_id}"
    if member_id is not None or resident_id is not None:
        same = su.member_id == member_id if member_id is not None else su.resident_id == resident_id
        live = session.scalar(
            select(
                exists().where(su.activity_id == activity_id, su.status != S.cancelled.value, same)
            )
        )
        if live:
            raise Conflict("already signed up for this activity")
    taken = session.execute(
        update(ACTIVITIES)
        .where(a.id == activity_id, a.signed_up < a.capacity)
        .values(signed_up=a.signed_up + 1)
        .returning(a.signed_up, a.capacity)
    ).first()
    if taken is None:
        raise Conflict(f"{row.title} is full: no place left", activity_id=activity_id)
    signup_id: int = session.scalar(
        insert(SIGNUPS)
        .values(
            activity_id=activity_id,
            community_code=row.community_code,
            street_code=row.community_code[:9],
            member_id=member_id,
            resident_id=resident_id,
            name=name,
            status=S.signed_up.value,
            created_by=me.name[:100],
            created_at=at,
            updated_at=at,
        )
        .returning(su.id)
    )
    audit.record(
        session,
        me,
        "activity_signup.create",
        object_type="activity_signup",
        object_ids=[signup_id],
        detail={"activity_id": activity_id, "signed_up": taken.signed_up},
    )
    return signup_id


def step_signup(
    session: Session,
    me: Principal,
    signup_id: int,
    body: SignupStep,
    *,
    now: datetime | None = None,
) -> int:
    """cancel (before the start; the place is given back), attend or absent (from the start
    on). Anything else: InvalidTransition (409) listing what may be done. Returns the activity."""
    queries.staff_only(me)
    row = session.execute(
        select(su.id, su.status, su.activity_id, a.starts_at)
        .join(ACTIVITIES, a.id == su.activity_id)
        .where(su.id == signup_id, queries.scope(me, SIGNUPS))
        .with_for_update(of=SIGNUPS)
    ).first()
    if row is None:
        raise NotFound(f"no sign-up {signup_id}")
    if body.action not in SIGNUP_ACTIONS:
        raise InvalidInput(f"action: one of {', '.join(SIGNUP_ACTIONS)}")
    status = S(row.status)
    to = SIGNUP_STEPS.get((body.action, status))
    if to is None:
        allowed = [act for (act, frm) in SIGNUP_STEPS if frm == status]
        raise InvalidTransition(
            f"{body.action!r} is not possible on a sign-up that is {status.value!r}; you may: "
            + (", ".join(allowed) or "nothing (it has ended)"),
            status=status.value,
            allowed=allowed,
        )
    at = now or db_now(session)
    started = row.starts_at <= at
    if body.action == "cancel" and started:
        raise Conflict("the activity has started: record attend or absent instead")
    if body.action in ("attend", "absent") and not started:
        raise Conflict("attendance is recorded from the activity's start on")
    if to == S.cancelled:
        session.execute(
            update(ACTIVITIES).where(a.id == row.activity_id).values(signed_up=a.signed_up - 1)
        )
    session.execute(
        update(SIGNUPS).where(su.id == signup_id).values(status=to.value, updated_at=at)
    )
    audit.record(
        session,
        me,
        f"activity_signup.{body.action}",
        object_type="activity_signup",
        object_ids=[signup_id],
        detail={"from": status.value, "to": to.value, "activity_id": row.activity_id},
    )
    return int(row.activity_id)


def add_backbone(
    session: Session, me: Principal, data: BackboneCreate, *, now: datetime | None = None
) -> int:
    """A governance backbone of a cell in scope (linked to a member or resident in scope)."""
    queries.staff_only(me)
    if not in_scope(me, cell_code=data.cell):
        raise NotFound(f"no cell {data.cell} in your scope")
    _cell(session, data.cell)
    if data.member_id is not None:
        found = session.scalar(
            select(exists().where(mb.id == data.member_id, queries.scope(me, MEMBERS)))
        )
        if not found:
            raise NotFound(f"no volunteer member {data.member_id}")
    if data.resident_id is not None:
        _resident(session, me, data.resident_id)
    at = now or db_now(session)
    backbone_id: int = session.scalar(
        insert(BACKBONES)
        .values(
            cell_code=data.cell,
            community_code=data.cell[:12],
            street_code=data.cell[:9],
            name=data.name,
            duty=data.duty,
            member_id=data.member_id,
            resident_id=data.resident_id,
            since=city_date(at),
            created_by=me.name[:100],
        )
        .returning(bb.id)
    )
    audit.record(
        session,
        me,
        "governance_backbone.create",
        object_type="governance_backbone",
        object_ids=[backbone_id],
        detail={"cell": data.cell},
    )
    return backbone_id
