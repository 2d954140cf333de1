"""Request and response bodies of participation: teams, members, activities, sign-ups,
governance backbones. Request bodies refuse unknown fields; response models declare every key."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from geo.community.volunteers.models import ActivityKind, MemberKind, SignupStatus
from geo.core.inputs import MAX_ID, MAX_TAGS, StrictModel, Tag
from geo.core.outputs import Day, ReadModel, Timestamp

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
COMMUNITY = Field(max_length=12, pattern=r"^[0-9]{12}$", description="12-digit community code")
CELL = r"^[0-9]{15}$"
SIGNUP_ACTIONS = ("cancel", "attend", "absent")


class TeamCreate(StrictModel):
    """一支志愿服务队 of a community in the caller's scope."""

    model_config = _STRICT

    community: str = COMMUNITY
    name: str = Field(min_length=2, max_length=50, description="e.g. 红马甲志愿服务队")
    focus: str | None = Field(default=None, max_length=200, description="what the team does")
    skills: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class MemberCreate(StrictModel):
    """A member: a resident (`resident_id` when they have an archive in scope) or anyone by
    name; skills; the months they are here (1-12; a seasonal resident's season)."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=50)
    kind: MemberKind
    resident_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    cell: str | None = Field(
        default=None, max_length=15, pattern=CELL, description="the grid they serve in"
    )
    skills: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    months: list[int] = Field(min_length=1, max_length=12, description="months here, 1-12")
    phone: str | None = Field(default=None, max_length=20, description="mainland mobile")

    @model_validator(mode="after")
    def _months(self) -> MemberCreate:
        bad = sorted({m for m in self.months if not 1 <= m <= 12})
        if bad:
            raise ValueError(f"months are 1 to 12, not {bad[0]}")
        self.months = sorted(set(self.months))
        return self


class ActivityCreate(StrictModel):
    """一次活动 (or community work, `kind`) of a community, with how many may sign up."""

    model_config = _STRICT

    community: str = COMMUNITY
    team_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    kind: ActivityKind = ActivityKind.activity
    title: str = Field(min_length=2, max_length=100)
    place: str | None = Field(default=None, max_length=100)
    starts_at: Timestamp
    ends_at: Timestamp
    capacity: int = Field(ge=1, le=1000, description="places")


class SignupCreate(StrictModel):
    """Sign someone up: a member (`member_id`), a resident (`resident_id`), or a name."""

    model_config = _STRICT

    member_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    resident_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    name: str | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one(self) -> SignupCreate:
        if self.member_id is None and self.resident_id is None and not self.name:
            raise ValueError("give member_id, resident_id or name")
        if self.member_id is not None and self.resident_id is not None:
            raise ValueError("give member_id or resident_id, not both")
        return self


class SignupStep(StrictModel):
    model_config = _STRICT

    action: str = Field(max_length=10, description="one of: " + ", ".join(SIGNUP_ACTIONS))


class BackboneCreate(StrictModel):
    """治理骨干 of a cell: a member or a resident in scope, or a name, and their duty."""

    model_config = _STRICT

    cell: str = Field(max_length=15, pattern=CELL)
    name: str = Field(min_length=1, max_length=50)
    duty: str = Field(min_length=2, max_length=50, description="e.g. 楼栋长, 党员中心户")
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    resident_id: int | None = Field(default=None, ge=1, le=MAX_ID)


# --- answers ---------------------------------------------------------------------------------


class MemberRead(ReadModel):
    id: int
    team_id: int
    name: str
    kind: MemberKind
    kind_label: str
    resident_id: int | None
    cell_code: str | None
    skills: list[str]
    months: list[int]
    phone: str | None = Field(description="masked")
    joined_on: Day


class TeamRead(ReadModel):
    id: int
    community_code: str
    name: str
    focus: str | None
    skills: list[str]
    members: int
    seasonal_members: int
    members_list: list[MemberRead] | None = None


class TeamList(ReadModel):
    total: int
    teams: list[TeamRead]


class SignupRead(ReadModel):
    id: int
    activity_id: int
    member_id: int | None
    resident_id: int | None
    name: str
    status: SignupStatus
    created_at: Timestamp


class ActivityRead(ReadModel):
    id: int
    team_id: int | None
    community_code: str
    kind: ActivityKind
    title: str
    place: str | None
    starts_at: Timestamp
    ends_at: Timestamp
    capacity: int
    signed_up: int
    places_left: int
    attended: int
    signups: list[SignupRead] | None = None


class ActivityList(ReadModel):
    total: int
    activities: list[ActivityRead]


class BackboneRead(ReadModel):
    id: int
    cell_code: str
    community_code: str
    name: str
    duty: str
    member_id: int | None
    resident_id: int | None
    since: Day


class BackboneList(ReadModel):
    total: int
    per_cell: dict[str, int]
    backbones: list[BackboneRead]


class PhoneRead(ReadModel):
    id: int
    field: str
    value: str | None
