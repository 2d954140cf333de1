"""Importing a resident list (Excel/CSV) through the intake, all or nothing.

The whole file runs through the real intake inside a savepoint. A dry run (the default) reports,
per row, what would be created, linked, queued for review or rejected and why, and rolls back.
A commit keeps everything - unless a row is rejected: then nothing is kept, and the report says
which rows to fix (or pass `skip_rejected` to store the rejected rows as rejected reports, kept
as received, and import the rest).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from geo.access import Principal
from geo.audit import service as audit
from geo.residents import records
from geo.residents.excel import Table
from geo.residents.intake import Intake, Progress, Submission
from geo.residents.reports import ReportOutcome


def run_import(
    session: Session,
    me: Principal,
    table: Table,
    *,
    channel: str,
    crs: str | None = None,
    commit: bool = False,
    skip_rejected: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Take a read table in; returns the per-row report with `committed` true or false."""
    sub = Submission(
        channel=records.parse_channel(channel),
        submitted_by_name=me.name[:100],
        submitted_by=me.account_id,
        source="file",
        default_crs=records.parse_crs_name(crs),
        filename=table.filename[:200],
    )
    savepoint = session.begin_nested()
    try:
        batch_id, outcomes = Intake(session).submit(sub, table.items, progress=progress)
    except BaseException:
        savepoint.rollback()
        raise
    counts = Counter(o.decision for o in outcomes)
    rejected = counts.get("rejected", 0)
    keep = commit and (rejected == 0 or skip_rejected)
    if keep:
        savepoint.commit()
    else:
        savepoint.rollback()
    audit.record(session, me, "resident.import", object_type="intake_batch",
                 object_ids=[batch_id] if keep else [],
                 detail={"file": table.filename, "rows": len(outcomes), "committed": keep,
                         "counts": dict(counts)})  # fmt: skip
    if keep:
        message = f"imported: {len(outcomes)} rows (batch {batch_id})"
    elif commit:
        message = (f"nothing imported: {rejected} row(s) rejected; fix them, or import with"
                   " skip_rejected to keep them as rejected reports")  # fmt: skip
    else:
        message = "dry run: nothing written; add commit to import"
    return {
        **table.describe(),
        "channel": sub.channel.value,
        "crs": sub.default_crs.value if sub.default_crs else None,
        "committed": keep,
        "batch_id": batch_id if keep else None,
        "message": message,
        "counts": {k: counts.get(k, 0) for k in ("new", "linked", "review", "rejected")},
        "rows": [o.as_dict() for o in outcomes] if keep else _unwritten(outcomes),
    }


def _unwritten(outcomes: list[ReportOutcome]) -> list[dict[str, Any]]:
    """Rows of an import that was rolled back: no report id, and no id of a resident this file
    would have created (a row linking to one names that row instead); existing residents keep
    theirs (the row would link to them)."""
    created = {o.resident_id: o.row_number for o in outcomes if o.decision == "new"}
    rows = []
    for o in outcomes:
        row = {**o.as_dict(), "report_id": None}
        if o.resident_id in created:
            row["resident_id"] = None
            if o.decision != "new":
                row["same_person_as_row"] = created[o.resident_id]
        rows.append(row)
    return rows
