"""A grid worker's day (今日工作), the phone app's home screen: what waits in the caller's cells.

Each count comes from the service that owns it, under the same scope rules as the API:
departures to confirm (`archive.operations.departures_due`), reports the linkage left for a
decision (`archive.review.review_queue`), open cases (`geo.cases.queue`, `case_filter`),
65+ health-check invitations not yet sent this season (`health_checks.eligible`: eligible and
no participation recorded), open concern-log entries, and residents present per cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases import queue
from geo.core import clock
from geo.residents import concerns, health_checks
from geo.residents import service as residents
from geo.residents.archive import operations, review

SHOWN = 20  # items of each list on the home screen; the counts are whole


@dataclass
class Worklist:
    on: date
    season: int
    present: dict[str, int]  # cell code -> residents present
    departures: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    cases_total: int
    invitations: list[dict[str, Any]]  # eligible for the 65+ check, not yet invited
    concerns_open: int
    counts: dict[str, int] = field(default_factory=dict)


def today(session: Session, me: Principal) -> Worklist:
    """What waits for `me` today (their own cells for a grid worker)."""
    on = clock.today()
    season = clock.current_season()
    present = {  # as the residents list counts them: past the expected departure is still here
        c["cell_code"]: int(c["present"]) + int(c["departure_due"])
        for c in residents.counts_by_cell(session, me, on=on)["cells"]
        if c["cell_code"]
    }
    departures = operations.departures_due(session, me, on=on)
    reviews = review.review_queue(session, me)
    open_cases = queue.open_queue(session, me, limit=SHOWN)
    checks = health_checks.eligible(session, me, season=season)["items"]
    invitations = [i for i in checks if i["status"] is None]
    open_concerns = concerns.list_entries(session, me, status="open", limit=1)["total"] or 0
    following = concerns.list_entries(session, me, status="following", limit=1)["total"] or 0
    w = Worklist(
        on=on,
        season=season,
        present=present,
        departures=departures[:SHOWN],
        reviews=reviews[:SHOWN],
        cases=open_cases.rows,
        cases_total=open_cases.total,
        invitations=invitations[:SHOWN],
        concerns_open=int(open_concerns) + int(following),
    )
    w.counts = {
        "present": sum(present.values()),
        "departures": len(departures),
        "reviews": len(reviews),
        "cases": open_cases.total,
        "invitations": len(invitations),
        "concerns": w.concerns_open,
    }
    return w
