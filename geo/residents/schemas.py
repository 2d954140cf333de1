"""Request bodies of the residents domain (unknown fields are refused) and the response fields
each role may see (allow-lists: a column added later stays hidden until someone decides)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from geo.access.principal import Role
from geo.core.inputs import CRS_LENGTH, MAX_TAGS, StrictModel, Tag
from geo.residents.models import ConcernCategory, ConcernStatus, HealthCheckStatus

PERSON_ROLES = (Role.grid_worker.value, Role.community_staff.value, Role.street_staff.value)

# What a person row may show. ID and phone numbers appear only masked; points never leave the
# person roles.
RESIDENT_FIELDS = {
    "id",
    "name",
    "sex",
    "birth_year",
    "age",
    "id_number",
    "phone",
    "origin",
    "origin_province",
    "origin_city",
    "occupation",
    "tags",
    "conflicts",
    "cell_code",
    "community_code",
    "street_code",
    "first_seen_at",
    "last_seen_at",
    "status",
    "merged_into_id",
    "stay",
}
ALLOW = {role: RESIDENT_FIELDS for role in PERSON_ROLES}


class ResidentEdit(StrictModel):
    """What a grid worker may correct or add; recorded as the grid worker's own report."""

    name: str | None = Field(default=None, max_length=40)
    sex: str | None = Field(default=None, max_length=10)
    id_number: str | None = Field(default=None, max_length=30)
    phone: str | None = Field(default=None, max_length=30)
    birth_year: int | None = None
    origin: str | None = Field(default=None, max_length=50)
    occupation: str | None = Field(default=None, max_length=50)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    housing_type: str | None = Field(default=None, max_length=20)
    household_size: int | None = None
    expected_departure: date | None = None
    note: str | None = Field(default=None, max_length=500)


class RevealRequest(StrictModel):
    field: Literal["id_number", "phone"]
    purpose: str = Field(
        max_length=30, description="emergency_contact, case_handling, health_check, ..."
    )
    reason: str = Field(min_length=4, max_length=200)


class MergeRequest(StrictModel):
    other_id: int = Field(ge=1, description="the archive merged into this one")
    note: str | None = Field(default=None, max_length=500)


class SplitRequest(StrictModel):
    report_ids: list[int] = Field(
        min_length=1, max_length=500, description="reports that are about another person"
    )
    note: str | None = Field(default=None, max_length=500)


class ReviewDecision(StrictModel):
    action: Literal["link", "new", "reject"]
    resident_id: int | None = Field(default=None, ge=1, description="with action=link")
    note: str | None = Field(default=None, max_length=500)


class DepartureConfirm(StrictModel):
    departed_on: date
    note: str | None = Field(default=None, max_length=500)


class ConcernCreate(StrictModel):
    """A concern-log entry on a resident (their stay's cell) or on a place (point or address)."""

    category: ConcernCategory
    text: str = Field(min_length=2, max_length=2000)
    resident_id: int | None = Field(default=None, ge=1)
    lon: float | None = None
    lat: float | None = None
    crs: str | None = Field(default=None, max_length=CRS_LENGTH)
    address: str | None = Field(default=None, max_length=200)
    follow_up: str | None = Field(default=None, max_length=2000)


class ConcernUpdate(StrictModel):
    follow_up: str | None = Field(default=None, max_length=2000)
    status: Literal[ConcernStatus.open, ConcernStatus.following, ConcernStatus.resolved] | None = (
        None
    )


class ConcernToCase(StrictModel):
    category: str | None = Field(
        default=None, max_length=30, description="case category; default from the entry's"
    )
    description: str | None = Field(default=None, max_length=2000)


class HealthCheckUpdate(StrictModel):
    """Participation only: never a medical result."""

    status: HealthCheckStatus
    invited_on: date | None = None
    booked_for: date | None = None
    done_on: date | None = None
