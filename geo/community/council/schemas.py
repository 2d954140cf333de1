"""Request and response bodies of the residents' council."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import ConfigDict, Field

from geo.community.council.workflow import ACTIONS, Status
from geo.core.inputs import MAX_ID, StrictModel
from geo.core.outputs import ReadModel

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Attendee(StrictModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=50)
    kind: str = Field(max_length=20, description="seasonal, resident, staff, representative")


class MeetingCreate(StrictModel):
    """A meeting of the council of a community in the caller's scope."""

    model_config = _STRICT

    community: str = Field(max_length=12, pattern=r"^[0-9]{12}$")
    held_on: date
    topic: str = Field(min_length=2, max_length=200)
    place: str | None = Field(default=None, max_length=100)
    minutes: str | None = Field(default=None, max_length=5000, description="纪要")
    attendees: list[Attendee] = Field(default_factory=list, max_length=300)


class SuggestionCreate(StrictModel):
    """A suggestion received (at a meeting, or otherwise) with who carries it first."""

    model_config = _STRICT

    community: str = Field(max_length=12, pattern=r"^[0-9]{12}$")
    meeting_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    title: str = Field(min_length=2, max_length=100)
    body: str = Field(min_length=2, max_length=2000)
    suggester_name: str | None = Field(default=None, max_length=50)
    owner: str = Field(min_length=2, max_length=50, description="责任人 from now")


class SuggestionStep(StrictModel):
    """study, adopt, reject (reason), implement: each with the owner from here on; `reply` is
    the public reply the suggester reads by the public id."""

    model_config = _STRICT

    action: str = Field(max_length=20, description="one of: " + ", ".join(ACTIONS))
    owner: str = Field(min_length=2, max_length=50)
    reason: str | None = Field(default=None, max_length=500, description="reject")
    reply: str | None = Field(default=None, max_length=1000, description="public reply")
    note: str | None = Field(default=None, max_length=500)


class AttendeeRead(ReadModel):
    name: str
    kind: str


class MeetingRead(ReadModel):
    id: int
    community_code: str
    held_on: date
    topic: str
    place: str | None
    minutes: str | None
    attendance: int
    attendees: list[AttendeeRead] | None = None
    suggestions: int


class MeetingList(ReadModel):
    total: int
    meetings: list[MeetingRead]


class StepRead(ReadModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    owner: str
    note: str | None = None
    actor: str | None = None


class SuggestionRead(ReadModel):
    id: int
    public_id: str
    community_code: str
    meeting_id: int | None
    title: str
    body: str
    suggester_name: str | None
    status: Status
    status_label: str
    owner: str
    reason: str | None
    public_reply: str | None
    received_at: datetime
    version: int
    allowed_actions: list[str]
    steps: list[StepRead]


class SuggestionList(ReadModel):
    total: int
    counts: dict[str, int] = Field(description="suggestions in scope per status")
    suggestions: list[SuggestionRead]


class PublicSuggestion(ReadModel):
    """What the suggester reads by the public id: no names, no internal notes."""

    public_id: str
    title: str
    status: Status
    status_label: str
    reason: str | None
    public_reply: str | None
    received_at: datetime
    steps: list[StepRead]
