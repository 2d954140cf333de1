"""The audit log, for admins: search it, verify its hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.audit import service as audit
from geo.audit.schemas import AuditPage, VerifyReportRead

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="Audit events, newest first (admins)",
    **returns(AuditPage),
    **access(Role.admin),
)
def list_events(
    session: SessionDep,
    me: CurrentUser,
    actor: Annotated[str | None, Query(description="account name")] = None,
    action: Annotated[str | None, Query(description="exact, or a prefix ending in '.'")] = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: Annotated[str | None, Query(description="ok | denied | failed | error")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_seq: Annotated[int | None, Query(ge=1, description="page: before this seq")] = None,
) -> dict[str, Any]:
    rows = audit.search(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        since=since,
        until=until,
        limit=limit,
        before_seq=before_seq,
    )
    audit.record(
        session,
        me,
        "audit.read",
        detail={
            "filters": {
                k: v
                for k, v in {
                    "actor": actor,
                    "action": action,
                    "object_type": object_type,
                    "object_id": object_id,
                    "outcome": outcome,
                }.items()
                if v
            },
            "returned": len(rows),
        },
    )
    return {"events": rows, "next_before_seq": rows[-1]["seq"] if len(rows) == limit else None}


@router.get(
    "/verify",
    summary="Check the hash chain: the first edited or removed row",
    **returns(VerifyReportRead),
    **access(Role.admin),
)
def verify(session: SessionDep, me: CurrentUser) -> dict[str, Any]:
    report = audit.verify(session)
    audit.record(
        session,
        me,
        "audit.verify",
        outcome="ok" if report.ok else "failed",
        detail=report.as_dict(),
    )
    return report.as_dict()
