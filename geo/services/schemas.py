"""Request bodies of service requests. Unknown fields are refused (no mass assignment of status,
area or owner: those follow from the workflow and the routing)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from geo.core.inputs import CRS_LENGTH, MAX_ID, StrictModel
from geo.core.outputs import ReadModel, Timestamp
from geo.services.workflow import ACTIONS

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ServiceRequestCreate(StrictModel):
    """An item of the catalogue asked for at a point (where the resident is)."""

    model_config = _STRICT

    item: str = Field(
        min_length=1,
        max_length=20,
        description="item code, e.g. errands.04",
        examples=["health.04"],
    )
    lon: float = Field(description="longitude in `crs`")
    lat: float = Field(description="latitude in `crs`")
    crs: str | None = Field(
        default=None, max_length=CRS_LENGTH, description="wgs84 (default), cgcs2000, gcj02, bd09"
    )
    description: str | None = Field(default=None, max_length=500, description="what is needed")
    address: str | None = Field(default=None, max_length=200, description="as the resident says")
    name: str | None = Field(default=None, max_length=50, description="how to address them")
    phone: str | None = Field(
        default=None, max_length=20, description="optional mainland mobile; stored encrypted"
    )


class ServiceTransition(StrictModel):
    """One step: accept, fulfil, hand_over (reason, optional to_area_id), cancel (reason),
    rate (rating 1-5, optional comment)."""

    model_config = _STRICT

    action: str = Field(max_length=30, description="one of: " + ", ".join(ACTIONS))
    note: str | None = Field(default=None, max_length=500)
    reason: str | None = Field(default=None, max_length=300, description="hand_over, cancel")
    to_area_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="hand_over: default the next nearest area"
    )
    rating: int | None = Field(default=None, ge=1, le=5, description="rate: 1-5")
    comment: str | None = Field(default=None, max_length=500, description="rate")


# --- responses ----------------------------------------------------------------------------------


class ServiceItemRead(ReadModel):
    code: str = Field(description="e.g. errands.04")
    category: str
    category_label: str
    name: str
    due_hours: int


class ServiceCategoryRead(ReadModel):
    code: str
    label: str
    items: list[ServiceItemRead]


class ServiceCatalogue(ReadModel):
    default_due_hours: int
    categories: list[ServiceCategoryRead]


class OfferingArea(ReadModel):
    id: int
    name: str
    community_code: str | None
    address: str | None
    opening_hours: str | None
    phone: str | None
    lon: float
    lat: float
    distance_m: float = Field(description="metres on the ellipsoid")


class AreasOffering(ReadModel):
    item: ServiceItemRead
    areas: list[OfferingArea]


class ServingArea(ReadModel):
    """The serving area (a step that hands the request out of the caller's scope shows the id)."""

    id: int
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    opening_hours: str | None = None
    community_code: str | None = None
    distance_m: float | None = None


class ServiceRequestEventRead(ReadModel):
    at: Timestamp
    action: str
    from_status: str | None
    to_status: str
    from_area_id: int | None
    to_area_id: int | None
    note: str | None
    actor: str | None = Field(None, description="staff views only")
    actor_role: str | None = Field(None, description="staff views only")
    data: dict[str, Any] | None = Field(None, description="staff views only")


class ServiceRequestRead(ReadModel):
    """A service request. Its maker (by public id) sees the public members and the timeline;
    staff and grid workers in scope also the point, the cell, the masked phone and who made it.
    After a step that moves it out of the caller's scope only `id`, `status` and `area.id`."""

    id: int | None = None
    public_id: str | None = None
    item: ServiceItemRead | None = None
    status: str
    status_label: str | None = None
    area: ServingArea
    requested_at: Timestamp | None = None
    due_at: Timestamp | None = None
    overdue: bool | None = None
    accepted_at: Timestamp | None = None
    fulfilled_at: Timestamp | None = None
    rated_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None
    cancel_reason: str | None = None
    rating: int | None = None
    rating_comment: str | None = None
    handover_count: int | None = None
    allowed_actions: list[str] | None = None
    description: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    cell_code: str | None = None
    community_code: str | None = None
    requester_name: str | None = None
    phone: str | None = Field(None, description="masked")
    created_by: str | None = None
    created_by_role: str | None = None
    version: int | None = None
    events: list[ServiceRequestEventRead] | None = None


class ServiceRequestPage(ReadModel):
    total: int
    limit: int
    offset: int
    requests: list[ServiceRequestRead]


class ServiceRequestPhone(ReadModel):
    id: int
    phone: str | None
