"""Response models of the audit log (admins read it; nobody writes it through the API)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from geo.core.outputs import ReadModel, Timestamp


class AuditEventRead(ReadModel):
    """One row of the hash-chained log, as stored."""

    seq: int
    at: Timestamp
    actor_id: int | None
    actor_name: str
    actor_role: str
    action: str
    object_type: str | None
    object_ids: list[str]
    fields: list[str] = Field(description="names of the fields revealed, never values")
    purpose: str | None
    outcome: str
    client_addr: str | None
    detail: dict[str, Any]
    prev_hash: str
    row_hash: str


class AuditPage(ReadModel):
    events: list[AuditEventRead]
    next_before_seq: int | None = Field(description="pass as before_seq for the next page")


class VerifyReportRead(ReadModel):
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
