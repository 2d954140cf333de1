"""Reports a caller submits: for its own channel, bounded by its scope, answered without saying
who is known, and audited.

| caller | channel | links | is told |
| --- | --- | --- | --- |
| channel account | its own | city-wide | `received`, or what is wrong with the report |
| grid worker, staff | 网格员 (grid_worker) | in its scope (`routing`) | the decision |
| system (CLI, loaders) | the one it names | city-wide | everything |

Every submission writes an audit row naming the reports and every archive they were linked to or
compared with (`matched`), whatever the caller was told.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import SYSTEM, Channel, Principal, Role
from geo.audit import service as audit
from geo.core.errors import InvalidInput
from geo.residents.intake import records
from geo.residents.intake.pipeline import Intake
from geo.residents.intake.reports import Item, ReportOutcome, Submission

DECISIONS = ("new", "linked", "review", "rejected")
ANSWERS = ("received", "rejected")


def own_channel(me: Principal, declared: str | None) -> Channel:
    """The channel a caller reports for: a channel account's own; grid workers and staff report
    as the grid (网格员); the system names one. A declared channel must be the caller's own."""
    if me.role == SYSTEM:
        if not declared:
            raise InvalidInput(f"name the channel the reports come from: {records.CHANNELS}")
        return records.parse_channel(declared)
    own = me.channel if me.role == Role.channel else Channel.grid_worker.value
    if not own:
        raise InvalidInput("this account has no channel to report for")
    if declared is not None:
        channel = records.parse_channel(declared)
        if channel.value != own:
            raise InvalidInput(f"this account reports for channel {own}, not {channel.value}")
    return Channel(own)


def submit(
    session: Session,
    me: Principal,
    reports: Sequence[dict[str, Any]],
    *,
    channel: str | None,
    crs: str | None,
    received_at: datetime,
) -> dict[str, Any]:
    """Take reports in through the intake (in `session`, as the system) and answer `me`."""
    sub = Submission(
        channel=own_channel(me, channel),
        submitted_by_name=me.name[:100],
        submitted_by=me.account_id,
        source="api",
        default_crs=records.parse_crs_name(crs),
        submitter=me,
    )
    batch_id, outcomes = Intake(session).submit(
        sub, [Item(dict(r)) for r in reports], received_at=received_at
    )
    record(
        session,
        me,
        "intake.submit",
        outcomes,
        object_type="intake_report",
        object_ids=[o.report_id for o in outcomes],
        detail={"batch_id": batch_id, "channel": sub.channel.value},
    )
    decided = me.role != Role.channel
    counted = Counter(o.decision if decided else o.answer for o in outcomes)
    return {
        "batch_id": batch_id,
        "counts": {k: counted.get(k, 0) for k in (DECISIONS if decided else ANSWERS)},
        "reports": [o.for_submitter(decided=decided) for o in outcomes],
    }


def record(
    session: Session,
    me: Principal,
    action: str,
    outcomes: Sequence[ReportOutcome],
    *,
    object_type: str,
    object_ids: Sequence[Any],
    detail: dict[str, Any],
    written: bool = True,
) -> None:
    """The audit row of a submission: who, which reports, which archives it linked, created and
    matched (compared with as candidates). `written` false: a dry run, nothing was created."""

    def archives(decision: str) -> set[int]:
        return {
            o.resident_id for o in outcomes if o.decision == decision and o.resident_id is not None
        }

    linked, created = archives("linked"), archives("new") if written else set()
    compared = {int(c["resident_id"]) for o in outcomes for c in o.candidates}
    audit.record(
        session,
        me,
        action,
        object_type=object_type,
        object_ids=object_ids,
        detail={
            **detail,
            "counts": dict(Counter(o.decision for o in outcomes)),
            "linked": sorted(linked),
            "created": sorted(created),
            "matched": sorted(linked | compared),
        },
    )
