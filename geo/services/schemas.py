"""Request bodies of service requests. Unknown fields are refused (no mass assignment of status,
area or owner: those follow from the workflow and the routing)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from geo.core.inputs import CRS_LENGTH, MAX_ID, StrictModel
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
