"""Request bodies and response models of the cases domain. Unknown fields of a body are refused:
no mass assignment of status, tier, cell or owner; those follow from the workflow and the
location."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from geo.cases.workflow import ACTIONS, CancelReason, Grade
from geo.core.inputs import CRS_LENGTH, MAX_ID, StrictModel
from geo.core.outputs import OpenModel, ReadModel
from geo.privacy.reveal import Purpose
from geo.spatial.schemas import Feature, FeatureCollection

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


# --- responses ----------------------------------------------------------------------------------


class CaseReporterRead(ReadModel):
    kind: str
    channel: str | None = None
    name: str | None = None
    phone: str | None = Field(None, description="masked")
    resident_id: int | None = None


class SummonsRead(ReadModel):
    """吹哨报到: a department summoned on the case, its 报到 and report back (times ISO 8601)."""

    id: int
    department_code: str
    department_label: str
    department_short: str
    summoned_by: str
    summoned_at: str
    ack_due_at: str
    acknowledged_at: str | None
    report_due_at: str
    reported_at: str | None
    report: str | None
    state: str = Field(description="summoned, acknowledged or reported")


class PossibleDuplicate(ReadModel):
    """An open case of the same category nearby and near in time, among those the caller sees."""

    id: int
    public_id: str
    status: str
    reported_at: str
    distance_m: float


class CaseProperties(ReadModel):
    """A case as its readers see it; timestamps are ISO 8601 text in the city's zone."""

    id: int
    public_id: str
    category: str
    category_label: str
    category_en: str | None
    grade: str
    status: str
    tier: str
    description: str
    address: str | None
    cell_code: str
    community_code: str
    street_code: str
    district_code: str
    created_by: str
    assigned_worker_id: int | None
    duplicate_of: int | None
    cancel_reason: str | None
    reopen_count: int
    solved: bool | None
    satisfaction: int | None
    version: int = Field(description="bumped by every step; the ETag is case-{id}-v{version}")
    clock_state: str
    reported_at: str
    response_due_at: str | None
    tier_due_at: str | None
    due_at: str | None
    responded_at: str | None
    dispatched_at: str | None
    started_at: str | None
    escalated_at: str | None
    resolved_at: str | None
    confirmed_at: str | None
    closed_at: str | None
    cancelled_at: str | None
    updated_at: str
    status_label: str
    tier_label: str
    grade_label: str
    clock_label: str
    reporter: CaseReporterRead
    summons: list[SummonsRead] | None = Field(None, description="one case only")
    allowed_actions: list[dict[str, str]] | None = Field(
        None, description="one case only: the steps the caller may take next"
    )
    possible_duplicates: list[PossibleDuplicate] | None = Field(None, description="one case only")


CaseFeature = Feature[CaseProperties]
CasePage = FeatureCollection[CaseProperties]


class CaseFiled(ReadModel):
    case: CaseFeature | Open311Request = Field(
        description="the case as a GeoJSON Feature; for a public filer, its Open311 view"
    )
    possible_duplicates: list[PossibleDuplicate]


class OpenCaseProperties(ReadModel):
    """A lean open case for live maps."""

    id: int
    category: str
    category_label: str
    grade: str
    status: str
    status_label: str
    tier: str
    tier_label: str
    clock_state: str
    clock_label: str
    reported_at: str
    due_at: str | None
    tier_due_at: str | None
    cell_code: str
    version: int


OpenCases = FeatureCollection[OpenCaseProperties]


class CaseClusterProperties(ReadModel):
    """The open cases in one square of the map's grid (`geo.cases.clusters`)."""

    count: int
    on_track: int
    due_soon: int
    overdue: int


OpenCaseClusters = FeatureCollection[CaseClusterProperties]


class CasePhoneRevealed(ReadModel):
    case_id: int
    field: str
    value: str | None


class CaseEventRead(ReadModel):
    id: int
    case_id: int
    at: str
    action: str
    from_status: str | None
    to_status: str | None
    from_tier: str | None
    to_tier: str | None
    actor: str
    actor_role: str
    note: str | None
    data: dict[str, Any]


class GradeLimits(ReadModel):
    grade_label: str
    response_hours: float | None
    grid_hours: float | None
    community_hours: float | None
    total_hours: float | None


class CaseCategoryRead(ReadModel):
    code: str
    name_zh: str
    name_en: str | None
    description_zh: str | None
    default_grade: str
    duplicate_radius_m: int
    duplicate_window_hours: float | None
    limits: dict[str, GradeLimits] = Field(description="per grade: simple, complex, urgent")


class CaseDepartmentRead(ReadModel):
    code: str
    name_zh: str
    short_zh: str | None
    name_en: str | None
    ack_hours: float | None
    report_hours: float | None


class CaseCatalogue(ReadModel):
    categories: list[CaseCategoryRead]
    departments: list[CaseDepartmentRead]


class KpiRow(OpenModel):
    """One group's figures: the group's keys, then the counts and rates (planners: small counts
    suppressed, `suppressed` says so). Open: members follow the grouping and the role."""

    cases: int | None = None
    cancelled: int | None = None
    response_rate: float | None = None
    on_time_rate: float | None = None
    resolution_rate: float | None = None
    satisfaction_rate: float | None = None
    overdue_count: int | None = None
    overdue_open: int | None = None
    escalated: int | None = None
    median_hours: dict[str, float | None] | None = None
    counts: dict[str, int | None] | None = None
    suppressed: bool | None = None
    cell: str | None = None
    community: str | None = None
    street: str | None = None
    category: str | None = None
    month: str | None = None


class KpiReport(ReadModel):
    group_by: list[str]
    rows: list[KpiRow]
    definitions: dict[str, str]


# --- Open311 GeoReport v2 -----------------------------------------------------------------------


class Open311Endpoint(ReadModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Open311Discovery(ReadModel):
    changeset: str
    contact: str
    key_service: str
    requests_policy: str = Field(description="who may list which requests")
    endpoints: list[Open311Endpoint]


class Open311Service(ReadModel):
    service_code: str
    service_name: str
    description: str | None
    metadata: bool
    type: str
    keywords: str | None
    group: str | None


class Open311ServiceDefinition(ReadModel):
    service_code: str
    attributes: list[dict[str, Any]]


class Open311Request(ReadModel):
    """A request's status as Open311 shows it: never the reporter's name or phone."""

    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Open311Filed(ReadModel):
    service_request_id: str = Field(description="unguessable: holding it is how you follow it")
    service_notice: str
    account_id: str | None
