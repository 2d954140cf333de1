"""The demo residents: generated as the six channels would report them, loaded through the real
intake; linkage quality measured on the generator's ground truth (pairwise, as bench/intake.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from math import comb

from sqlalchemy import func, select, text

from geo.access.principal import ACCOUNT_CHANNELS, as_system
from geo.core import clock
from geo.demo import residents as demo
from geo.demo.residents_load import (
    PROGRESS_STEPS,
    homes_from_db,
    items_of,
    load_demo_residents,
)
from geo.residents.intake.pipeline import Intake, Submission
from geo.residents.models import ConcernEntry, HealthCheck, IntakeReport, Resident, Stay

TODAY = date(2026, 11, 26)
WINTER = date(2026, 12, 20)  # winter stayers of season 2026 report in November and December


def pairwise(outcomes) -> tuple[float, float]:
    linked = [o for o in outcomes if o.decision in ("new", "linked")]
    both = Counter((o.resident_id, o.truth) for o in linked)
    pred = Counter(o.resident_id for o in linked)
    truth = Counter(o.truth for o in outcomes if o.decision != "rejected")
    tp = sum(comb(n, 2) for n in both.values())
    return tp / max(sum(comb(n, 2) for n in pred.values()), 1), tp / max(
        sum(comb(n, 2) for n in truth.values()), 1
    )


def test_generator_is_deterministic_and_realistic(session):
    homes = homes_from_db(session)
    a = demo.generate(homes, today=TODAY, per_season=200)
    b = demo.generate(homes, today=TODAY, per_season=200)
    assert [r.fields for r in a.reports[:50]] == [r.fields for r in b.reports[:50]]
    assert {r.channel for r in a.reports} == {c.value for c in ACCOUNT_CHANNELS}
    assert {s.season for s in a.stays} == set(range(2021, 2027))
    ages = [s.season - p.birth.year for s in a.stays for p in s.household]
    assert sum(55 <= x <= 80 for x in ages) / len(ages) > 0.8
    months = Counter(s.arrived.month for s in a.stays)
    assert months[5] + months[6] > 0.7 * len(a.stays)
    returning = Counter(p.pid for s in a.stays for p in s.household)
    assert sum(n > 1 for n in returning.values()) > 0.3 * len(returning)
    assert all(r.reported_at.date() <= TODAY for r in a.reports)


def test_linkage_quality_on_ground_truth(session):
    as_system(session)
    world = demo.generate(homes_from_db(session), today=TODAY, per_season=300, seed=7)
    intake = Intake(session, today=TODAY)
    outcomes = []
    for channel in ACCOUNT_CHANNELS:
        part = [r for r in world.reports if r.channel == channel.value]
        outcomes += intake.submit(Submission(channel, "test"), items_of(part))[1]
    # one batch per channel is the hardest order (all police first): quality must hold anyway
    precision, recall = pairwise(outcomes)
    assert precision >= 0.99 and recall >= 0.9, (precision, recall)


def test_demo_load_goes_through_the_intake(session):
    steps: list[str] = []
    counts = load_demo_residents(
        session, lambda what, _rows: steps.append(what), today=WINTER, per_season=120
    )
    # The CLI's bar ends exactly full: one step per season, even one reported into December.
    assert len(steps) == PROGRESS_STEPS, steps
    december = session.scalar(
        text("SELECT count(*) FROM intake_report WHERE reported_at >= '2026-12-01+08'")
    )
    assert december > 0
    taken_in = (
        select(func.count()).select_from(IntakeReport).where(IntakeReport.batch_id.is_not(None))
    )
    assert counts["reports"] == session.scalar(taken_in)  # every generated report, as sent
    direct = session.scalar(
        select(func.count()).select_from(IntakeReport).where(IntakeReport.batch_id.is_(None))
    )
    assert direct == counts["departures_confirmed"]  # grid workers' confirmations
    assert (
        session.scalar(
            select(func.count()).select_from(Resident).where(Resident.status == "active")
        )
        >= counts["reports_new"]
    )
    channels = set(session.scalars(select(IntakeReport.channel).distinct()))
    assert channels == {c.value for c in ACCOUNT_CHANNELS}
    assert set(session.scalars(select(Stay.season).distinct())) == set(range(2021, 2027))
    assert counts["departures_confirmed"] > 0
    # every review of an earlier season was decided on a visit; this season's may wait
    undecided = (
        select(func.count())
        .select_from(IntakeReport)
        .where(IntakeReport.decision == "review", IntakeReport.season < clock.season_of(WINTER))
    )
    assert session.scalar(undecided) == 0
    assert session.scalar(select(func.count()).select_from(ConcernEntry)) > 0
    assert session.scalar(select(func.count()).select_from(HealthCheck)) > 0
    open_past = session.scalar(
        text("SELECT count(*) FROM stay WHERE season < 2026 AND departed_on IS NULL")
    )
    assert open_past < 0.05 * session.scalar(text("SELECT count(*) FROM stay WHERE season < 2026"))
    queue = session.scalar(
        text("SELECT count(*) FROM intake_report WHERE decision = 'review' AND season < 2026")
    )
    assert queue == 0  # past seasons' reviews were decided
