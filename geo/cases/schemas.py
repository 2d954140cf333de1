"""Request bodies of the cases domain. Unknown fields are refused: no mass assignment of status,
tier, cell or owner; those follow from the workflow and the location."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from geo.cases.workflow import ACTIONS, CancelReason, Grade
from geo.core.inputs import CRS_LENGTH, MAX_ID, StrictModel
from geo.privacy.reveal import Purpose

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Attachment(StrictModel):
    """Metadata of a photo or document; the file itself lives in object storage, not here."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    content_type: str = Field(min_length=3, max_length=100, examples=["image/jpeg"])
    size: int = Field(ge=0, le=50_000_000, description="bytes")
    sha256: str | None = Field(default=None, max_length=64, pattern=r"^[0-9a-f]{64}$")
    url: str | None = Field(default=None, max_length=500)


class Reporter(StrictModel):
    """Who raised the problem, when staff or a channel file for someone else."""

    model_config = _STRICT

    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20, description="mainland mobile number")
    resident_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="an archive in the caller's scope"
    )


class CaseCreate(StrictModel):
    """A new case: a point in a named crs, or an address the gazetteer can place."""

    model_config = _STRICT

    category: str = Field(min_length=1, max_length=30, examples=["medical"])
    description: str = Field(min_length=2, max_length=2000)
    lon: float | None = Field(default=None, description="longitude in `crs`")
    lat: float | None = Field(default=None, description="latitude in `crs`")
    crs: str | None = Field(
        default=None, max_length=CRS_LENGTH, description="wgs84 (default), cgcs2000, gcj02, bd09"
    )
    address: str | None = Field(default=None, max_length=200)
    grade: Grade | None = Field(default=None, description="staff only; default: the category's")
    reporter: Reporter | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)


class TransitionRequest(StrictModel):
    """One step of the workflow. Which fields an action needs is checked by the service."""

    model_config = _STRICT

    action: str = Field(max_length=30, description="one of: " + ", ".join(sorted(ACTIONS)))
    note: str | None = Field(default=None, max_length=2000)
    reason: CancelReason | None = Field(default=None, description="cancel: duplicate | invalid")
    duplicate_of: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="cancel as duplicate of"
    )
    grade: Grade | None = Field(default=None, description="accept: classify the case")
    worker_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="dispatch at the grid tier"
    )
    departments: list[Annotated[str, Field(max_length=50)]] | None = Field(
        default=None, max_length=10, description="summon"
    )
    report: str | None = Field(default=None, max_length=2000, description="report_back")
    solved: bool | None = Field(default=None, description="confirm / reopen: 解决了吗")
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="1-5; 4+ satisfied")
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)


class RevealPhone(StrictModel):
    """Why the reporter's full phone number is needed (audited)."""

    model_config = _STRICT

    purpose: Purpose = Field(description="e.g. case_handling (事件处置), emergency_contact")
    reason: str = Field(min_length=4, max_length=300)


class ServiceRequestForm(StrictModel):
    """The form of an Open311 GeoReport v2 `POST requests.json` (the spec's field names).
    Fields of the spec that a case does not use (email, device_id, account_id, address_id,
    attribute[...]) are accepted and ignored, as the spec allows."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    api_key: str | None = Field(default=None, max_length=200, description="channel systems")
    service_code: str = Field(min_length=1, max_length=30, description="see services.json")
    lat: float | None = Field(default=None, description="WGS84")
    long: float | None = Field(default=None, description="WGS84")
    address_string: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=24)
    last_name: str | None = Field(default=None, max_length=24)
    phone: str | None = Field(default=None, max_length=20)
    description: str = Field(default="", max_length=2000)
    media_url: str | None = Field(default=None, max_length=500)
