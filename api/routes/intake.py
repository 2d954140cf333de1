"""The six-channel intake (六联同治) over HTTP: channels submit reports and read back their own.

Linking a report reads archives across the whole city, so the intake runs in its own unit of
work as the system (`system_session`), like a queue worker would; the caller only ever reads
back what its role and scope allow, through the request's own session (row-level security).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.auth import CurrentUser, access
from api.deps import SessionDep, request_scope
from api.responses import returns
from geo.access.principal import Role, as_system
from geo.core.db import get_engine, session_factory
from geo.residents.intake import reports, submissions
from geo.residents.intake.records import IntakeRequest
from geo.residents.schemas import IntakeReceipt, IntakeReportPage, IntakeReportRead

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])
SUBMITTERS = (Role.channel, Role.grid_worker)
READERS = (Role.channel, Role.grid_worker, Role.community_staff, Role.street_staff)


def system_session() -> Iterator[Session]:
    """The intake's unit of work: the owner's connection, as the system; commits on success."""
    with session_factory(get_engine())() as session:
        as_system(session, "intake")
        yield from request_scope(session)


# scope="function", like SessionDep: the unit of work commits before the response is sent, so a
# write (intake, review, merge, split, departure, edit, import) is never answered 2xx unless it
# committed.
SystemSession = Annotated[Session, Depends(system_session, scope="function")]


@router.post(
    "/reports",
    summary="Submit one report or a batch (channel accounts: X-API-Key)",
    **returns(IntakeReceipt),
    **access(*SUBMITTERS),
)
def submit_reports(body: IntakeRequest, me: CurrentUser, system: SystemSession) -> dict[str, Any]:
    """Each report is checked, placed in a cell (coordinates in the declared `crs`, or the
    address through the gazetteer), linked to an archive or queued for review, and stored as
    received. A channel is told, per report, that it was received (or what is wrong with it);
    a grid worker also what became of it within their cells."""
    items = [r.model_dump(exclude_unset=True, mode="python") for r in body.items()]
    return submissions.submit(
        system, me, items, channel=body.channel, crs=body.crs, received_at=datetime.now(UTC)
    )


@router.get(
    "/reports",
    summary="Reports: a channel's own, or those placed in the caller's scope",
    **returns(IntakeReportPage),
    **access(*READERS),
)
def list_reports(
    session: SessionDep,
    me: CurrentUser,
    batch_id: Annotated[int | None, Query(ge=1)] = None,
    decision: Annotated[str | None, Query(description="new, linked, review, rejected")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return reports.list_reports(
        session, me, batch_id=batch_id, decision=decision, limit=limit, offset=offset
    )


@router.get(
    "/reports/{report_id}",
    summary="One report, as received and as decided",
    **returns(IntakeReportRead),
    **access(*READERS, scope="cell"),
)
def get_report(session: SessionDep, me: CurrentUser, report_id: int) -> dict[str, Any]:
    return reports.get_report(session, me, report_id)
