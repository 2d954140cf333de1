"""Reading participation in the caller's scope: teams with their members, activities with
sign-ups and places left, governance backbones per cell. Session in, never commits.

Scope is the row's community for community staff and its street for street staff; backbones
also show to the grid worker of their cell (the same rule in RLS, migration 0013people). A
member's phone leaves only masked; reading the members (names, masked phones) is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, scope_filter
from geo.audit import service as audit
from geo.community.volunteers.models import (
    ACTIVITIES,
    BACKBONES,
    MEMBER_LABELS,
    MEMBERS,
    SIGNUPS,
    TEAMS,
    MemberKind,
    SignupStatus,
)
from geo.core.errors import Forbidden, NotFound

t, mb, a, su, bb = TEAMS.c, MEMBERS.c, ACTIVITIES.c, SIGNUPS.c, BACKBONES.c
STAFF = frozenset({Role.community_staff.value, Role.street_staff.value, "system"})


def staff_only(me: Principal) -> None:
    if me.role not in STAFF:
        raise Forbidden("only community and street staff keep volunteer teams and activities")


def scope(me: Principal, table: Table) -> ColumnElement[bool]:
    """Rows of `table` in the caller's scope (its cell too, where the table has one)."""
    cell = table.c.cell_code if table is BACKBONES else None
    return scope_filter(me, cell=cell, community=table.c.community_code, street=table.c.street_code)


def _member_row(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["kind_label"] = MEMBER_LABELS[MemberKind(out["kind"])]
    out["months"] = [int(m) for m in out["months"]]
    return out


_MEMBER_COLS = (
    mb.id,
    mb.team_id,
    mb.name,
    mb.kind,
    mb.resident_id,
    mb.cell_code,
    mb.skills,
    mb.months,
    mb.phone_masked.label("phone"),
    mb.joined_on,
)


def _team_select() -> Any:
    members = select(func.count()).where(mb.team_id == t.id).correlate(TEAMS).scalar_subquery()
    seasonal = (
        select(func.count())
        .where(mb.team_id == t.id, mb.kind == MemberKind.seasonal.value)
        .correlate(TEAMS)
        .scalar_subquery()
    )
    return select(
        t.id,
        t.community_code,
        t.name,
        t.focus,
        t.skills,
        members.label("members"),
        seasonal.label("seasonal_members"),
    )


def get_team(session: Session, me: Principal, team_id: int) -> dict[str, Any]:
    """A team with its members (audited: names and masked phones are personal data)."""
    staff_only(me)
    row = session.execute(_team_select().where(t.id == team_id, scope(me, TEAMS))).first()
    if row is None:
        raise NotFound(f"no volunteer team {team_id}")
    out = dict(row._mapping)
    members = [
        _member_row(x)
        for x in session.execute(select(*_MEMBER_COLS).where(mb.team_id == team_id).order_by(mb.id))
    ]
    out["members_list"] = members
    if members:
        audit.record(
            session,
            me,
            "volunteer_member.list",
            object_type="volunteer_member",
            object_ids=[x["id"] for x in members],
            fields=["name", "phone_masked"],
        )
    return out


def list_teams(
    session: Session, me: Principal, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    staff_only(me)
    where = scope(me, TEAMS)
    total = session.scalar(select(func.count()).select_from(TEAMS).where(where)) or 0
    rows = session.execute(
        _team_select().where(where).order_by(t.community_code, t.name).limit(limit).offset(offset)
    )
    return {"total": total, "teams": [dict(x._mapping) for x in rows]}


def get_member(session: Session, me: Principal, member_id: int) -> dict[str, Any]:
    staff_only(me)
    row = session.execute(
        select(*_MEMBER_COLS).where(mb.id == member_id, scope(me, MEMBERS))
    ).first()
    if row is None:
        raise NotFound(f"no volunteer member {member_id}")
    audit.record(
        session,
        me,
        "volunteer_member.read",
        object_type="volunteer_member",
        object_ids=[member_id],
        fields=["name", "phone_masked"],
    )
    return _member_row(row)


def _activity_select() -> Any:
    attended = (
        select(func.count())
        .where(su.activity_id == a.id, su.status == SignupStatus.attended.value)
        .correlate(ACTIVITIES)
        .scalar_subquery()
    )
    return select(
        a.id,
        a.team_id,
        a.community_code,
        a.kind,
        a.title,
        a.place,
        a.starts_at,
        a.ends_at,
        a.capacity,
        a.signed_up,
        (a.capacity - a.signed_up).label("places_left"),
        attended.label("attended"),
    )


def get_activity(session: Session, me: Principal, activity_id: int) -> dict[str, Any]:
    """An activity with its sign-ups (names: audited as a read of the people signed up)."""
    staff_only(me)
    row = session.execute(
        _activity_select().where(a.id == activity_id, scope(me, ACTIVITIES))
    ).first()
    if row is None:
        raise NotFound(f"no activity {activity_id}")
    out = dict(row._mapping)
    signups = [
        dict(x._mapping)
        for x in session.execute(
            select(
                su.id,
                su.activity_id,
                su.member_id,
                su.resident_id,
                su.name,
                su.status,
                su.created_at,
            )
            .where(su.activity_id == activity_id)
            .order_by(su.id)
        )
    ]
    out["signups"] = signups
    if signups:
        audit.record(
            session,
            me,
            "activity_signup.list",
            object_type="activity_signup",
            object_ids=[x["id"] for x in signups],
        )
    return out


def list_activities(
    session: Session,
    me: Principal,
    *,
    kind: str | None = None,
    team_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    staff_only(me)
    where = [scope(me, ACTIVITIES)]
    if kind:
        where.append(a.kind == kind)
    if team_id:
        where.append(a.team_id == team_id)
    total = session.scalar(select(func.count()).select_from(ACTIVITIES).where(*where)) or 0
    rows = session.execute(
        _activity_select()
        .where(*where)
        .order_by(a.starts_at.desc(), a.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return {"total": total, "activities": [dict(x._mapping) for x in rows]}


_BACKBONE_COLS = (
    bb.id,
    bb.cell_code,
    bb.community_code,
    bb.name,
    bb.duty,
    bb.member_id,
    bb.resident_id,
    bb.since,
)


def get_backbone(session: Session, me: Principal, backbone_id: int) -> dict[str, Any]:
    row = session.execute(
        select(*_BACKBONE_COLS).where(bb.id == backbone_id, scope(me, BACKBONES))
    ).first()
    if row is None:
        raise NotFound(f"no governance backbone {backbone_id}")
    return dict(row._mapping)


def list_backbones(
    session: Session, me: Principal, *, cell: str | None = None, limit: int = 200, offset: int = 0
) -> dict[str, Any]:
    """Backbones in scope (a grid worker: of their cells), with how many each cell has."""
    where = [scope(me, BACKBONES)]
    if cell:
        where.append(bb.cell_code == cell)
    per_cell: dict[str, int] = dict(
        session.execute(
            select(bb.cell_code, func.count()).where(*where).group_by(bb.cell_code)
        ).all()
    )
    rows = session.execute(
        select(*_BACKBONE_COLS)
        .where(*where)
        .order_by(bb.cell_code, bb.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return {
        "total": sum(per_cell.values()),
        "per_cell": {k: int(v) for k, v in per_cell.items()},
        "backbones": [dict(x._mapping) for x in rows],
    }
