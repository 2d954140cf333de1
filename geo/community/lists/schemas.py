"""Request and response bodies of the lists. Request bodies refuse unknown fields (no mass
assignment of status, community or owner account: those follow from the point and the caller)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import ConfigDict, Field

from geo.community.lists.models import (
    DemandSource,
    DemandStatus,
    PlanStatus,
    ProviderKind,
    ResourceStatus,
)
from geo.core.inputs import CRS_LENGTH, MAX_ID, StrictModel
from geo.core.outputs import ReadModel

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
CATEGORY = Field(max_length=20, description="catalogue category: tourism, errands, culture, ...")
ITEM = Field(default=None, max_length=20, description="optional catalogue item, e.g. health.04")


class _Placed(StrictModel):
    model_config = _STRICT

    lon: float = Field(description="longitude in `crs`")
    lat: float = Field(description="latitude in `crs`")
    crs: str | None = Field(default=None, max_length=CRS_LENGTH, description="wgs84 (default)")


class DemandCreate(_Placed):
    """一条需求: a category (or an item, whose category it then is), how many people, the dates
    it is needed, where, and where it was learnt."""

    category: str | None = Field(default=None, max_length=20, description="catalogue category")
    item: str | None = ITEM
    title: str = Field(min_length=2, max_length=100, description="e.g. 老年人就医陪诊")
    people: int = Field(ge=1, le=10_000)
    source: DemandSource
    needed_from: date
    needed_until: date
    valid_until: date | None = Field(default=None, description="default: needed_until")


class ResourceCreate(_Placed):
    """一条资源: who offers what, to how many people, between which dates (and hours), where,
    whom to call (optional; stored encrypted, shown masked), valid until."""

    provider_kind: ProviderKind
    provider_name: str = Field(min_length=2, max_length=100)
    category: str | None = Field(default=None, max_length=20, description="catalogue category")
    item: str | None = ITEM
    title: str = Field(min_length=2, max_length=100)
    capacity: int = Field(ge=1, le=10_000, description="people it can serve")
    available_from: date
    available_until: date
    hours: str | None = Field(
        default=None, max_length=100, description="e.g. 周二、周四 9:00-11:00"
    )
    valid_until: date | None = Field(default=None, description="default: available_until")
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=20, description="mainland mobile")


class Review(StrictModel):
    """Keep a stale entry (a new valid-until, today or later) or end it (close a demand, retire
    a resource), with a note."""

    model_config = _STRICT

    action: str = Field(max_length=10, description="renew | close (demand) | retire (resource)")
    valid_until: date | None = Field(default=None, description="renew: the new date")
    note: str | None = Field(default=None, max_length=300)


class PlanCreate(StrictModel):
    """A demand served by a resource, with the person who sees it through (责任人)."""

    model_config = _STRICT

    demand_id: int = Field(ge=1, le=MAX_ID)
    resource_id: int = Field(ge=1, le=MAX_ID)
    owner: str = Field(min_length=2, max_length=50, description="责任人, e.g. 王社工")
    note: str | None = Field(default=None, max_length=500)


class PlanStep(StrictModel):
    """finish (the service was given) or cancel (reason; the demand is open again)."""

    model_config = _STRICT

    action: str = Field(max_length=10, description="finish | cancel")
    reason: str | None = Field(default=None, max_length=300, description="cancel")


class MatchRequest(StrictModel):
    """Match the open demands of a community (or of a street) to its resources; `commit` makes
    each match a service plan owned by `owner`."""

    model_config = _STRICT

    community: str | None = Field(default=None, max_length=12, pattern=r"^[0-9]{12}$")
    street: str | None = Field(default=None, max_length=9, pattern=r"^[0-9]{9}$")
    max_distance_m: float = Field(default=3000, gt=0, le=50_000)
    commit: bool = False
    owner: str | None = Field(default=None, min_length=2, max_length=50)


# --- responses -------------------------------------------------------------------------------


class DemandRead(ReadModel):
    id: int
    community_code: str
    street_code: str
    category: str
    category_label: str
    item_code: str | None
    item_name: str | None
    title: str
    people: int
    season: int
    source: DemandSource
    needed_from: date
    needed_until: date
    valid_until: date
    stale: bool = Field(description="past valid-until: to be reviewed")
    status: DemandStatus
    lon: float
    lat: float
    created_by: str
    created_at: datetime
    version: int


class ResourceRead(ReadModel):
    id: int
    community_code: str
    street_code: str
    provider_kind: ProviderKind
    provider_name: str
    category: str
    category_label: str
    item_code: str | None
    item_name: str | None
    title: str
    capacity: int
    remaining: int = Field(description="capacity less the people of its live plans")
    available_from: date
    available_until: date
    hours: str | None
    valid_until: date
    stale: bool
    status: ResourceStatus
    lon: float
    lat: float
    contact_name: str | None
    contact_phone: str | None = Field(description="masked; the full number by reveal-contact")
    created_by: str
    created_at: datetime
    version: int


class PlanRead(ReadModel):
    id: int
    demand_id: int
    resource_id: int
    community_code: str
    people: int
    distance_m: float
    owner: str
    status: PlanStatus
    note: str | None
    created_by: str
    created_at: datetime
    demand_title: str
    resource_title: str


class EventRead(ReadModel):
    at: datetime
    action: str
    actor: str
    actor_role: str
    data: dict[str, object]


class DemandDetail(DemandRead):
    events: list[EventRead]
    plans: list[PlanRead]


class ResourceDetail(ResourceRead):
    events: list[EventRead]
    plans: list[PlanRead]


class DemandList(ReadModel):
    total: int
    demands: list[DemandRead]


class ResourceList(ReadModel):
    total: int
    resources: list[ResourceRead]


class PlanList(ReadModel):
    total: int
    plans: list[PlanRead]


class Match(ReadModel):
    demand_id: int
    resource_id: int
    people: int
    distance_m: float
    plan_id: int | None = Field(default=None, description="when committed")


class Unmatched(ReadModel):
    demand_id: int
    community_code: str
    title: str
    people: int
    reason: str = Field(description="no_candidate: nothing feasible; capacity_taken: nearer")


class Idle(ReadModel):
    resource_id: int
    community_code: str
    title: str
    remaining: int


class MatchResult(ReadModel):
    level: str
    code: str
    algorithm: str
    max_distance_m: float
    committed: bool
    candidates: int = Field(description="feasible (demand, resource) pairs considered")
    matches: list[Match]
    unmatched: list[Unmatched]
    idle: list[Idle]


class CommunityLists(ReadModel):
    community_code: str
    open_demands: int
    unmatched_demands: list[DemandRead]
    idle_resources: list[ResourceRead]
    stale_demands: int
    stale_resources: int


class StreetLists(ReadModel):
    street_code: str
    open_demands: int
    idle_resources: int
    stale: int
    communities: list[CommunityLists]


class ContactReveal(ReadModel):
    id: int
    contact_phone: str | None
