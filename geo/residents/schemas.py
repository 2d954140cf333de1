"""Request bodies of the residents domain (unknown fields are refused) and the response fields
each role may see (allow-lists: a column added later stays hidden until someone decides)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from geo.access.principal import Role
from geo.cases.schemas import CaseFeature
from geo.core.inputs import CRS_LENGTH, MAX_TAGS, StrictModel, Tag
from geo.core.outputs import Day, OpenModel, ReadModel, Timestamp
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


# --- responses ----------------------------------------------------------------------------------
# A person's row shows the fields its reader's role may see (the allow-lists above), so the
# members of a resident are optional: a key the role may not see is absent, never null.


class StayRead(ReadModel):
    id: int
    season: int
    address: str | None = None
    precision: str | None = None
    cell_code: str
    community_code: str | None = None
    housing_type: str | None = None
    housing_label: str | None = None
    household_size: int | None = None
    arrived_on: Day | None = None
    expected_departure: Day | None = None
    departed_on: Day | None = None
    last_reported_on: Day | None = None
    departure_confirmed_by: str | None = None
    state: str | None = None
    state_label: str | None = None


class ResidentRead(ReadModel):
    """One archive as a person role sees it: ID and phone numbers masked."""

    id: int
    status: str | None = None
    merged_into_id: int | None = None
    name: str | None = None
    sex: str | None = None
    birth_year: int | None = None
    age: int | None = None
    id_number: str | None = Field(None, description="masked")
    phone: str | None = Field(None, description="masked")
    origin: str | None = None
    origin_province: str | None = None
    origin_city: str | None = None
    occupation: str | None = None
    tags: list[str] | None = None
    conflicts: dict[str, Any] | None = None
    cell_code: str | None = None
    community_code: str | None = None
    street_code: str | None = None
    first_seen_at: Timestamp | None = None
    last_seen_at: Timestamp | None = None
    stay: StayRead | None = Field(None, description="lists: the stay of the season asked for")


class ResidentPage(ReadModel):
    total: int
    limit: int
    offset: int
    on: Day
    items: list[ResidentRead]


class LinkReason(OpenModel):
    """Why linkage scored a pair as it did (level, weight, and what it compared)."""

    level: str
    weight: float


class ReportRead(OpenModel):
    """One intake report as a person role sees it; `payload` is what the channel sent (masked),
    `geocode` how it was placed. Open: review items add their candidates and cell."""

    id: int
    channel: str
    reported_at: Timestamp
    received_at: Timestamp
    submitted_by: str | None
    season: int | None
    decision: str | None
    score: float | None
    reasons: list[LinkReason] | None
    reject_reason: str | None
    payload: dict[str, Any] = Field(description="the report as the channel sent it (masked)")
    geocode: dict[str, Any] | None
    cell_code: str | None


class ArchiveRead(ResidentRead):
    """动态管理档案: the archive with its stays, reports, provenance and history."""

    model_config = ConfigDict(extra="allow")  # sections follow the reader's role

    stays: list[StayRead] | None = None
    reports: list[ReportRead] | None = None
    provenance: dict[str, list[dict[str, Any]]] | None = Field(
        None, description="per field: each value with its channel, time and report"
    )
    history: list[dict[str, Any]] | None = None
    concerns: list[dict[str, Any]] | None = None
    health_checks: list[dict[str, Any]] | None = None


class ReviewQueue(ReadModel):
    items: list[ReportRead]


class ReviewDecided(ReadModel):
    report_id: int
    decision: str
    resident_id: int | None = None
    returned_to: str | int | None = Field(None, description="where the report waits again")


class DepartureDue(ReadModel):
    stay_id: int
    resident_id: int
    name: str | None
    phone: str | None = Field(description="masked")
    season: int
    cell_code: str
    address: str | None
    arrived_on: Day | None
    expected_departure: Day | None
    last_reported_on: Day | None


class DeparturesDue(ReadModel):
    items: list[DepartureDue]


class DepartureConfirmed(ReadModel):
    stay_id: int
    departed_on: Day
    report_id: int


class ResidentEdited(ReadModel):
    resident_id: int
    report_id: int


class ResidentRevealed(ReadModel):
    id: int
    field: str
    value: str | None


class ResidentsMerged(ReadModel):
    resident_id: int
    merged: int
    reports_moved: list[int]


class ResidentSplit(ReadModel):
    resident_id: int
    new_resident_id: int
    reports_moved: list[int]


class ImportRow(OpenModel):
    """One row of an uploaded list: what became of it (open: the geocode's details vary)."""

    index: int
    row: int
    report_id: int | None
    decision: str
    geocode: dict[str, Any] | None = None
    resident_id: int | None = None
    reason: str | None = None


class ImportResult(ReadModel):
    file: str
    rows: list[ImportRow]
    columns: dict[str, str] = Field(description="the file's header -> the field it was read as")
    ignored_columns: list[str]
    channel: str
    crs: str | None
    committed: bool
    batch_id: int | None
    message: str
    counts: dict[str, int]


class CellCount(ReadModel):
    cell_code: str
    community_code: str
    present: int
    departure_due: int


class ResidentCounts(ReadModel):
    on: Day
    cells: list[CellCount]
    total_present: int
    total_departure_due: int


class HealthCheckSummary(ReadModel):
    code: str
    eligible: int
    invited: int
    booked: int
    done: int
    declined: int


class HealthCheckItem(ReadModel):
    id: int
    name: str | None
    sex: str | None
    birth_year: int | None
    phone_masked: str | None
    cell_code: str
    community_code: str | None
    address: str | None
    status: str | None
    invited_on: Day | None
    booked_for: Day | None
    done_on: Day | None
    age: int | None
    status_label: str | None


class HealthCheckList(ReadModel):
    season: int
    summary: list[HealthCheckSummary]
    items: list[HealthCheckItem]


class HealthCheckSet(ReadModel):
    resident_id: int
    season: int
    status: str
    invited_on: Day | None
    booked_for: Day | None
    done_on: Day | None


class ConcernRead(ReadModel):
    """A concern-log entry (民情记录本)."""

    id: int
    resident_id: int | None
    cell_code: str
    community_code: str | None
    address: str | None
    lon: float | None
    lat: float | None
    category: str
    category_label: str
    text: str
    follow_up: str | None
    status: str
    case_id: int | None
    author: str
    created_at: Timestamp
    updated_at: Timestamp


class ConcernPage(ReadModel):
    total: int
    items: list[ConcernRead]


class ConcernCase(ReadModel):
    entry: ConcernRead
    case: CaseFeature


class ReportPlacement(ReadModel):
    method: str | None = None
    match: str | None = None
    cell_code: str | None = None
    note: str | None = None


class IntakeReportRead(ReadModel):
    """One report as received (`payload`, masked) and as decided."""

    id: int
    batch_id: int | None
    row: int | None
    channel: str
    external_id: str | None
    reported_at: Timestamp
    received_at: Timestamp
    payload: dict[str, Any] = Field(description="the report as the channel sent it (masked)")
    placed: ReportPlacement
    status: str | None = None
    decision: str | None = None
    reason: str | None = None


class IntakeReportPage(ReadModel):
    total: int
    items: list[IntakeReportRead]


class SubmittedReport(ReadModel):
    index: int
    report_id: int | None
    status: str | None = None
    placed: ReportPlacement | None = None
    external_id: str | None = None
    reason: str | None = None
    decision: str | None = None
    resident_id: int | None = None


class IntakeReceipt(ReadModel):
    batch_id: int | None
    counts: dict[str, int] = Field(description="received, new, linked, review, rejected")
    reports: list[SubmittedReport]
