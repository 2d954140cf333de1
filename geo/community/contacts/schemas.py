"""Request and response bodies of designated contacts and the contact log."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field, model_validator

from geo.community.contacts.models import NOTE_MAX, Channel, ContactKind
from geo.core.inputs import MAX_ID, StrictModel
from geo.core.outputs import Day, ReadModel, Timestamp

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
DEFAULT_DAYS = 14  # 常态互动: a resident present and not contacted for this long is overdue


class AssignmentCreate(StrictModel):
    """The designated contact of a resident's household (the residents sharing the address of
    their stay in the cell): the cell's grid worker, or a party member or volunteer of the
    cell's grid (a team member whose cell it is)."""

    model_config = _STRICT

    resident_id: int = Field(ge=1, le=MAX_ID, description="any resident of the household")
    grid_worker_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="volunteer member")

    @model_validator(mode="after")
    def _one(self) -> AssignmentCreate:
        if (self.grid_worker_id is None) == (self.member_id is None):
            raise ValueError("give exactly one of grid_worker_id and member_id")
        return self


class ContactCreate(StrictModel):
    """One visit, call or message: when (the city's date; default today), by whom, and a short
    note that is not a medical record (no diagnoses, medicines or illnesses: those go to the
    concern log's 看病就医 entries or a case)."""

    model_config = _STRICT

    resident_id: int = Field(ge=1, le=MAX_ID)
    channel: Channel
    contacted_on: date | None = Field(default=None, description="default: today in Yichun")
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    by_name: str | None = Field(
        default=None, max_length=50, description="who made the contact (default: the caller)"
    )
    whole_household: bool = Field(
        default=False, description="log it for every resident present in the household"
    )


# --- answers ---------------------------------------------------------------------------------


class ContactOf(ReadModel):
    kind: ContactKind
    label: str
    name: str
    grid_worker_id: int | None
    member_id: int | None


class AssignmentRead(ReadModel):
    id: int
    cell_code: str
    household_key: str
    address: str | None
    contact: ContactOf
    contact_phone: str | None = Field(description="the grid worker's work phone; a member's masked")
    residents_present: int
    assigned_by: str
    assigned_at: Timestamp


class AssignmentList(ReadModel):
    total: int
    assignments: list[AssignmentRead]


class DefaultAssignments(ReadModel):
    cell_code: str
    grid_worker_id: int
    assigned: int = Field(description="households that had no designated contact")


class ContactRead(ReadModel):
    id: int
    resident_id: int
    cell_code: str
    household_key: str
    channel: Channel
    channel_label: str
    contacted_on: Day
    by_name: str
    note: str | None
    created_at: Timestamp


class ContactList(ReadModel):
    total: int
    contacts: list[ContactRead]


class OverdueItem(ReadModel):
    resident_id: int
    name: str | None
    cell_code: str
    address: str | None
    household_key: str
    arrived_on: Day
    last_contacted_on: Day | None
    days_since: int = Field(description="days since the last contact (or the arrival)")
    contact: ContactOf | None


class PerContact(ReadModel):
    contact: ContactOf | None
    overdue: int


class OverdueList(ReadModel):
    on: Day
    days: int
    total: int
    per_contact: list[PerContact]
    items: list[OverdueItem]


class CellCount(ReadModel):
    cell_code: str
    present: int
    with_contact: int
    overdue: int
    never_contacted: int


class OverdueCounts(ReadModel):
    on: Day
    days: int
    cells: list[CellCount]
    present: int
    with_contact: int
    overdue: int
