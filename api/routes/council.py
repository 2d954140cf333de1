"""候鸟议事会 (the residents' council): meetings with attendance and minutes; suggestions from
received to implemented (or not adopted, with a reason), each step dated with an owner; the
suggester reads the public reply by the unguessable id they were given (issue 13)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import CurrentUser, access, public
from api.deps import SessionDep
from geo.access.principal import Role
from geo.community.council import service
from geo.community.council.schemas import (
    MeetingCreate,
    MeetingList,
    MeetingRead,
    PublicSuggestion,
    SuggestionCreate,
    SuggestionList,
    SuggestionRead,
    SuggestionStep,
)
from geo.community.council.workflow import Status
from geo.core.errors import InvalidInput

router = APIRouter(prefix="/api/v1/council", tags=["residents' council"])
STAFF = (Role.community_staff, Role.street_staff)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.post(
    "/meetings",
    status_code=201,
    response_model=MeetingRead,
    summary="Record a council meeting of a community in scope: attendees and minutes",
    **access(*STAFF, scope="cell"),
)
def create_meeting(session: SessionDep, me: CurrentUser, body: MeetingCreate) -> dict[str, object]:
    return service.get_meeting(session, me, service.create_meeting(session, me, body))


@router.get(
    "/meetings",
    response_model=MeetingList,
    summary="Council meetings in the caller's scope, newest first",
    **access(*STAFF, scope="cell"),
)
def list_meetings(
    session: SessionDep, me: CurrentUser, limit: Limit = 100, offset: Offset = 0
) -> dict[str, object]:
    return service.list_meetings(session, me, limit=limit, offset=offset)


@router.get(
    "/meetings/{meeting_id}",
    response_model=MeetingRead,
    summary="One meeting with its attendees",
    **access(*STAFF, scope="cell"),
)
def get_meeting(session: SessionDep, me: CurrentUser, meeting_id: Id) -> dict[str, object]:
    return service.get_meeting(session, me, meeting_id)


@router.post(
    "/suggestions",
    status_code=201,
    response_model=SuggestionRead,
    summary="Receive a suggestion (with its first owner); answers its public id for the suggester",
    **access(*STAFF, scope="cell"),
)
def create_suggestion(
    session: SessionDep, me: CurrentUser, body: SuggestionCreate
) -> dict[str, object]:
    return service.get_suggestion(session, me, service.create_suggestion(session, me, body))


@router.get(
    "/suggestions",
    response_model=SuggestionList,
    summary="Suggestions in the caller's scope with counts per status",
    **access(*STAFF, scope="cell"),
)
def list_suggestions(
    session: SessionDep,
    me: CurrentUser,
    status: Status | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, object]:
    return service.list_suggestions(session, me, status=status, limit=limit, offset=offset)


@router.get(
    "/suggestions/public/{reply_id}",
    response_model=PublicSuggestion,
    summary="The suggester's view by the public id: status, dated steps, reason, public reply",
    **public(),
)
def public_suggestion(session: SessionDep, reply_id: str) -> dict[str, object]:
    if not (4 <= len(reply_id) <= 16 and reply_id.isascii() and reply_id.isalnum()):
        raise InvalidInput("the id is the code given when the suggestion was received (JY…)")
    return service.public_view(session, reply_id)


@router.get(
    "/suggestions/{suggestion_id}",
    response_model=SuggestionRead,
    summary="One suggestion with its dated steps",
    **access(*STAFF, scope="cell"),
)
def get_suggestion(session: SessionDep, me: CurrentUser, suggestion_id: Id) -> dict[str, object]:
    return service.get_suggestion(session, me, suggestion_id)


@router.post(
    "/suggestions/{suggestion_id}/transitions",
    response_model=SuggestionRead,
    summary="study, adopt, reject (reason), implement: each with the owner from here on and an"
    " optional public reply; 409 lists what may be done",
    **access(*STAFF, scope="cell"),
)
def transition(
    session: SessionDep, me: CurrentUser, suggestion_id: Id, body: SuggestionStep
) -> dict[str, object]:
    service.transition(session, me, suggestion_id, body)
    return service.get_suggestion(session, me, suggestion_id)
