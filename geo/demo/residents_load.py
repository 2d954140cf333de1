"""`houniao load yichun` adds seasonal residents: the generator's reports go through the real
intake (checked, placed, linked), batched per channel and month as the channels would send
them; then grid workers confirm the past seasons' departures they did not report, write concern
log entries, and invite people 65+ to the free health check. All through the services.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.access.principal import ACCOUNT_CHANNELS, Principal, as_system
from geo.accounts.models import Account
from geo.core import clock
from geo.demo import residents as demo
from geo.demo import residents_activity as demo_activity
from geo.residents.intake.pipeline import Intake, Item, Submission
from geo.residents.models import IntakeBatch
from geo.spatial.boundaries.models import Community, District, Street
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.places.models import AddressPoint

Progress = Callable[[str, int], None]
DEMO_FILENAME = "houniao-demo-residents"


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


def residents_loaded(session: Session) -> bool:
    return (
        session.scalar(select(IntakeBatch.id).where(IntakeBatch.filename == DEMO_FILENAME))
        is not None
    )


def homes_from_db(session: Session) -> list[demo.Home]:
    """Every gazetteer building of the active release, with its admin names."""
    rid = resolve_release(session, None)
    a = AddressPoint
    live = {m: m.in_release(rid) for m in (District, Street, Community)}
    rows = session.execute(
        select(
            District.name,
            Street.name,
            Community.name,
            a.compound,
            a.building,
            a.units,
            func.ST_X(a.geom),
            func.ST_Y(a.geom),
            a.cell_code,
        )
        .join(District, (District.code == a.district_code) & live[District])
        .join(Street, (Street.code == a.street_code) & live[Street])
        .join(Community, (Community.code == a.community_code) & live[Community])
        .where(a.building.is_not(None))
        .order_by(a.id)
    ).all()
    return [demo.Home(*r) for r in rows]


def items_of(reports: list[demo.DemoReport]) -> list[Item]:
    return [
        Item(
            {
                **r.fields,
                "reported_at": r.reported_at,
                **({"crs": r.crs} if "lon" in r.fields else {}),
            },
            truth=r.truth,
        )
        for r in reports
    ]


# The progress steps `load_demo_residents` reports: the generation, each season, the activity.
PROGRESS_STEPS = 1 + len(demo.SEASONS) + 1


def load_demo_residents(
    session: Session,
    progress: Progress = _noop,
    *,
    today: date | None = None,
    per_season: int = demo.RESIDENTS_PER_SEASON,
) -> dict[str, Any]:
    """Generate and take in the demo seasons; returns counts. Runs as the system (owner)."""
    as_system(session, "demo-loader")
    today = today or clock.today()
    world = demo.generate(homes_from_db(session), today=today, per_season=per_season)
    progress("residents: generated reports", len(world.reports))
    accounts = dict(
        session.execute(
            select(Account.channel, Account.id).where(Account.channel.is_not(None))
        ).all()
    )
    intake = Intake(session, today=today)
    intake.prime_addresses(r.fields.get("address") for r in world.reports if "lon" not in r.fields)
    decisions: dict[str, int] = {}
    truth: dict[int, int] = {}
    done = 0

    def month(r: demo.DemoReport) -> tuple[int, int]:
        return r.reported_at.year, r.reported_at.month

    # One step per season of demo.SEASONS, reports or not, so the CLI's bar (PROGRESS_STEPS) ends
    # exactly full whatever the day: a season's winter stayers report into the next year.
    by_season: dict[int, list[demo.DemoReport]] = {season: [] for season in demo.SEASONS}
    for r in world.reports:
        by_season[clock.season_of(clock.city_date(r.reported_at))].append(r)
    for season, of_season in by_season.items():
        for _, monthly in groupby(of_season, key=month):
            reports = list(monthly)
            for channel in ACCOUNT_CHANNELS:
                part = [r for r in reports if r.channel == channel.value]
                if not part:
                    continue
                sub = Submission(
                    channel=channel,
                    submitted_by_name=f"demo-{channel.value}",
                    submitted_by=accounts.get(channel.value),
                    source="demo",
                    filename=DEMO_FILENAME,
                )
                _, outcomes = intake.submit(sub, items_of(part))
                for o in outcomes:
                    decisions[o.decision] = decisions.get(o.decision, 0) + 1
                    if o.report_id is not None and o.truth is not None:
                        truth[o.report_id] = o.truth
                done += len(part)
        progress(f"residents: intake of season {season}", done)
    actor = Principal.system("demo-loader")
    departures = {(p.pid, st.season): st.departed for st in world.stays for p in st.household}
    activity = demo_activity.simulate(
        session, actor, today=today, seed=demo.SEED, truth_of_report=truth, departures=departures
    )
    progress("residents: reviews, departures, concern log, health checks", sum(activity.values()))
    return {
        "reports": len(world.reports),
        "persons_generated": len(world.persons),
        "stays_generated": len(world.stays),
        **{f"reports_{k}": v for k, v in sorted(decisions.items())},
        **activity,
    }
