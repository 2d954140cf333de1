"""Importing a resident list (Excel/CSV) through the intake, all or nothing.

The whole file runs through the real intake inside a savepoint. A dry run (the default) reports,
per row, what would be created, linked, queued for review or rejected and why, and rolls back.
A commit keeps everything - unless a row is rejected: then nothing is kept, and the report says
which rows to fix (or pass `skip_rejected` to store the rejected rows as rejected reports, kept
as received, and import the rest).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import SYSTEM, Principal
from geo.core import logs
from geo.residents.intake import records, submissions
from geo.residents.intake.excel import Table
from geo.residents.intake.pipeline import Intake, Progress, Submission
from geo.residents.intake.reports import ReportOutcome
from geo.residents.intake.routing import holds


def run_import(
    session: Session,
    me: Principal,
    table: Table,
    *,
    channel: str | None,
    crs: str | None = None,
    commit: bool = False,
    skip_rejected: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Take a read table in; returns the per-row report with `committed` true or false.

    Staff import for their own channel and within their scope (`submissions`); the rows show
    archives (ids, scores, reasons) only where the caller's scope holds them. A dry run does
    not take the intake's lock: it is rolled back, and must not wait behind a long import.
    """
    sub = Submission(
        channel=submissions.own_channel(me, channel),
        submitted_by_name=me.name[:100],
        submitted_by=me.account_id,
        source="file",
        default_crs=records.parse_crs_name(crs),
        filename=table.filename[:200],
        submitter=me,
    )
    savepoint = session.begin_nested()
    try:
        intake = Intake(session, lock=commit)
        batch_id, outcomes = intake.submit(sub, table.items, progress=progress)
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
    submissions.record(
        session,
        me,
        "resident.import",
        outcomes,
        object_type="intake_batch",
        object_ids=[batch_id] if keep else [],
        written=keep,
        detail={"file": table.filename, "rows": len(outcomes), "committed": keep},
    )
    # Counts only: a file name may carry a person's name.
    logs.event(
        "import.residents",
        logger="houniao.imports",
        channel=sub.channel.value,
        rows=len(outcomes),
        committed=keep,
        batch_id=batch_id if keep else None,
        account_id=me.account_id,
        counts=dict(counts),
    )
    if keep:
        message = f"imported: {len(outcomes)} rows (batch {batch_id})"
    elif commit:
        message = (
            f"nothing imported: {rejected} row(s) rejected; fix them, or import with"
            " skip_rejected to keep them as rejected reports"
        )
    else:
        message = "dry run: nothing written; add commit to import"
    visible = None if me.role == SYSTEM else (lambda rid: holds(me, intake.archives.get(rid)))
    return {
        **table.describe(),
        "channel": sub.channel.value,
        "crs": sub.default_crs.value if sub.default_crs else None,
        "committed": keep,
        "batch_id": batch_id if keep else None,
        "message": message,
        "counts": {k: counts.get(k, 0) for k in submissions.DECISIONS},
        "rows": [o.as_dict(visible) for o in outcomes] if keep else _unwritten(outcomes, visible),
    }


def _unwritten(
    outcomes: list[ReportOutcome], visible: Callable[[int], bool] | None
) -> list[dict[str, Any]]:
    """Rows of an import that was rolled back: no report id, and no id of a resident this file
    would have created (a row linking to one names that row instead); existing residents keep
    theirs (the row would link to them)."""
    created = {o.resident_id: o.row_number for o in outcomes if o.decision == "new"}
    rows = []
    for o in outcomes:
        row = {**o.as_dict(visible), "report_id": None}
        if o.resident_id in created:
            row["resident_id"] = None
            if o.decision != "new":
                row["same_person_as_row"] = created[o.resident_id]
        rows.append(row)
    return rows
