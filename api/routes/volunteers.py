"""Participation (issue 13): volunteer teams (志愿服务队) and their members, activities with
sign-ups (the cap held by PostgreSQL: the last place goes to one caller, the others get 409) and
participations, governance backbones (治理骨干) of cells. Community staff keep their community's,
street staff their street's; grid workers read the backbones of their cells; 404 outside."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.cases.schemas import RevealPhone
from geo.community.volunteers import queries, service
from geo.community.volunteers.models import ActivityKind
from geo.community.volunteers.schemas import (
    ActivityCreate,
    ActivityList,
    ActivityRead,
    BackboneCreate,
    BackboneList,
    BackboneRead,
    MemberCreate,
    MemberRead,
    PhoneRead,
    SignupCreate,
    SignupStep,
    TeamCreate,
    TeamList,
    TeamRead,
)

router = APIRouter(prefix="/api/v1/volunteers", tags=["volunteers and participation"])
STAFF = (Role.community_staff, Role.street_staff)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Cell = Annotated[str | None, Query(max_length=15, pattern=r"^[0-9]{15}$")]
Obj = dict[str, object]


@router.post(
    "/teams",
    status_code=201,
    summary="A volunteer team of a community in scope, with its skills",
    **returns(TeamRead),
    **access(*STAFF, scope="cell"),
)
def create_team(session: SessionDep, me: CurrentUser, body: TeamCreate) -> Obj:
    return queries.get_team(session, me, service.create_team(session, me, body))


@router.get(
    "/teams",
    summary="Volunteer teams in scope with member counts (seasonal residents among them)",
    **returns(TeamList),
    **access(*STAFF, scope="cell"),
)
def list_teams(session: SessionDep, me: CurrentUser, limit: Limit = 100, offset: Offset = 0) -> Obj:
    return queries.list_teams(session, me, limit=limit, offset=offset)


@router.get(
    "/teams/{team_id}",
    summary="One team with its members (names, skills, months here, masked phones; audited)",
    **returns(TeamRead),
    **access(*STAFF, scope="cell"),
)
def get_team(session: SessionDep, me: CurrentUser, team_id: Id) -> Obj:
    return queries.get_team(session, me, team_id)


@router.post(
    "/teams/{team_id}/members",
    status_code=201,
    summary="Add a member: a resident (by id) or anyone by name; skills, months here, phone",
    **returns(MemberRead),
    **access(*STAFF, scope="cell"),
)
def add_member(session: SessionDep, me: CurrentUser, team_id: Id, body: MemberCreate) -> Obj:
    return queries.get_member(session, me, service.add_member(session, me, team_id, body))


@router.get(
    "/members/{member_id}",
    summary="One member (phone masked; audited)",
    **returns(MemberRead),
    **access(*STAFF, scope="cell"),
)
def get_member(session: SessionDep, me: CurrentUser, member_id: Id) -> Obj:
    return queries.get_member(session, me, member_id)


@router.post(
    "/members/{member_id}/reveal-phone",
    summary="A member's full phone, with a purpose and reason; audited",
    **returns(PhoneRead),
    **access(*STAFF, scope="cell"),
)
def reveal_phone(session: SessionDep, me: CurrentUser, member_id: Id, body: RevealPhone) -> Obj:
    return service.reveal_phone(session, me, member_id, purpose=body.purpose, reason=body.reason)


@router.post(
    "/activities",
    status_code=201,
    summary="An activity (or community work) of a community in scope, with its places",
    **returns(ActivityRead),
    **access(*STAFF, scope="cell"),
)
def create_activity(session: SessionDep, me: CurrentUser, body: ActivityCreate) -> Obj:
    return queries.get_activity(session, me, service.create_activity(session, me, body))


@router.get(
    "/activities",
    summary="Activities in scope, newest first, with places left and participations",
    **returns(ActivityList),
    **access(*STAFF, scope="cell"),
)
def list_activities(
    session: SessionDep,
    me: CurrentUser,
    kind: ActivityKind | None = None,
    team_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Obj:
    return queries.list_activities(
        session, me, kind=kind, team_id=team_id, limit=limit, offset=offset
    )


@router.get(
    "/activities/{activity_id}",
    summary="One activity with its sign-ups (audited)",
    **returns(ActivityRead),
    **access(*STAFF, scope="cell"),
)
def get_activity(session: SessionDep, me: CurrentUser, activity_id: Id) -> Obj:
    return queries.get_activity(session, me, activity_id)


@router.post(
    "/activities/{activity_id}/signups",
    status_code=201,
    summary="Sign a member, a resident or a name up; full or started: 409",
    **returns(ActivityRead),
    **access(*STAFF, scope="cell"),
)
def sign_up(session: SessionDep, me: CurrentUser, activity_id: Id, body: SignupCreate) -> Obj:
    service.sign_up(session, me, activity_id, body)
    return queries.get_activity(session, me, activity_id)


@router.post(
    "/signups/{signup_id}/transitions",
    summary="cancel (before the start, the place is given back), attend or absent (from the"
    " start); 409 lists what may be done",
    **returns(ActivityRead),
    **access(*STAFF, scope="cell"),
)
def step_signup(session: SessionDep, me: CurrentUser, signup_id: Id, body: SignupStep) -> Obj:
    activity_id = service.step_signup(session, me, signup_id, body)
    return queries.get_activity(session, me, activity_id)


@router.post(
    "/backbones",
    status_code=201,
    summary="A governance backbone (治理骨干) of a cell in scope",
    **returns(BackboneRead),
    **access(*STAFF, scope="cell"),
)
def add_backbone(session: SessionDep, me: CurrentUser, body: BackboneCreate) -> Obj:
    return queries.get_backbone(session, me, service.add_backbone(session, me, body))


@router.get(
    "/backbones",
    summary="Governance backbones in scope (a grid worker: of their cells), counted per cell",
    **returns(BackboneList),
    **access(Role.grid_worker, *STAFF, scope="cell"),
)
def list_backbones(
    session: SessionDep,
    me: CurrentUser,
    cell: Cell = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> Obj:
    return queries.list_backbones(session, me, cell=cell, limit=limit, offset=offset)
