"""Resident intake: throughput, and linkage quality on the demo generator's ground truth next to
a peer (Splink, DuckDB backend) on the same reports (pairwise precision and recall).

Runs on a scratch database `<DATABASE_URL's name>_bench_intake` on the same server (created,
migrated, loaded with the Yichun grid without residents, dropped at the end unless --keep), so
the dev database is left as found. The reports are the demo generator's (six channels, with their
noise: masked phones and ID numbers, shared phones, namesakes, homophones, GCJ-02/BD-09 points),
taken in as the demo load does: per channel and month, in time order, one transaction.

By default the held-out set: seed 20261126 (never used to estimate or tune the linkage, which
used seeds 1, 2, 101 and 102), one season cut on 2021-08-31 at 800 residents a season: ~800
people, ~2,000 reports. `--today 2026-11-26 --per-season 6000 --seed 20260603` is the full demo
(six seasons, ~100,000 reports; add --no-splink to skip the peer there).

Prints:
1. throughput: reports/s of the whole intake; baselines in the same run on the same reports:
   the bare write (the same number of report rows COPYed into a temporary table: storage alone),
   placing alone (`geocode_many` over the distinct addresses, `CellIndex` over the points), and
   linkage alone (the in-memory index over the stored evidence, no database); Splink's training,
   prediction and clustering on the same evidence;
2. linkage quality, pairwise over every report (a rejected one is a singleton: a lost report
   loses its pairs): true pairs, predicted pairs, precision, recall, F1 - the intake with the
   review band undecided (each report in review its own singleton), with the band resolved as a
   link (to the top candidate), and decided as the grid worker would (the top candidate that is
   the same person, else new); Splink at match probability 0.5 and 0.99; two naive rules:
   "same valid ID number" and "same ID number or same phone" (a phone taken for identity);
3. what the linkage decided (new, linked, review, rejected) and why reports were rejected.

    .venv/bin/python bench/intake.py [--seed 20261126] [--today 2021-08-31] [--per-season 800]
                                     [--no-splink] [--keep]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from itertools import groupby
from math import comb
from pathlib import Path

import numpy as np
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import splink_baseline  # noqa: E402
from bench.scratch import drop_database, recreate_database, scratch_url  # noqa: E402
from geo.access.principal import ACCOUNT_CHANNELS, as_system  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo import residents as demo  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.demo.residents_load import homes_from_db, items_of  # noqa: E402
from geo.residents.archive.store import ARCHIVE_COLUMNS, evidence_of  # noqa: E402
from geo.residents.intake import bulk  # noqa: E402
from geo.residents.intake.linkage import Evidence, LinkageIndex  # noqa: E402
from geo.residents.intake.pipeline import Intake, ReportOutcome, Submission  # noqa: E402
from geo.residents.models import IntakeReport  # noqa: E402
from geo.spatial.addresses.geocode import geocode_many  # noqa: E402
from geo.spatial.batch import CellIndex  # noqa: E402
from geo.spatial.crs import parse_crs, to_wgs84  # noqa: E402

HELD_OUT_SEED = 20261126  # never used to estimate or tune the linkage
HELD_OUT_TODAY = date(2021, 8, 31)  # one season, cut before most departures
HELD_OUT_PER_SEASON = 800


def pairs(clusters: Iterable[int]) -> int:
    return sum(comb(n, 2) for n in Counter(clusters).values())


def quality(truth: list[int], predicted: list[int]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the truth."""
    tp = pairs(zip(predicted, truth, strict=True))
    pp, tt = pairs(predicted), pairs(truth)
    p, r = tp / pp if pp else 1.0, tp / tt if tt else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def union_find(keys: list[list[str]]) -> list[int]:
    """Cluster ids: reports sharing any key end in one cluster."""
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            if k in owner:
                parent[find(i)] = find(owner[k])
            else:
                owner[k] = i
    return [find(i) for i in range(len(keys))]


def run_intake(
    session: Session, world: demo.DemoWorld, today: date
) -> tuple[float, list[ReportOutcome]]:
    intake = Intake(session, today=today)
    outcomes: list[ReportOutcome] = []
    t = time.perf_counter()
    intake.prime_addresses(r.fields.get("address") for r in world.reports if "lon" not in r.fields)
    for _, monthly in groupby(
        world.reports, key=lambda r: (r.reported_at.year, r.reported_at.month)
    ):
        reports = list(monthly)
        for channel in ACCOUNT_CHANNELS:
            part = [r for r in reports if r.channel == channel.value]
            if part:
                outcomes += intake.submit(
                    Submission(channel, "bench", None, "demo"), items_of(part)
                )[1]
        print(f"  {reports[0].reported_at:%Y-%m}: {len(outcomes):,} reports", end="\r", flush=True)
    print()
    return time.perf_counter() - t, outcomes


def bare_write(session: Session, n: int) -> float:
    """COPY n report rows (as the intake stores them) into a temporary table: storage alone."""
    sample = session.execute(select(IntakeReport.__table__).limit(1000)).mappings().all()
    cols = [c.name for c in IntakeReport.__table__.columns if c.name != "geom"]
    rows = [dict(sample[i % len(sample)]) for i in range(n)]
    session.execute(
        text("CREATE TEMP TABLE bench_reports AS SELECT * FROM intake_report WITH NO DATA")
    )
    table = IntakeReport.__table__.to_metadata(MetaData(), name="bench_reports")
    t = time.perf_counter()
    for start in range(0, n, 2000):
        bulk.copy_rows(session, table, rows[start : start + 2000], cols)
    return time.perf_counter() - t


def placing_alone(session: Session, world: demo.DemoWorld) -> float:
    t = time.perf_counter()
    addresses = sorted(
        {
            r.fields["address"]
            for r in world.reports
            if "address" in r.fields and "lon" not in r.fields
        }
    )
    for start in range(0, len(addresses), 20_000):
        geocode_many(session, addresses[start : start + 20_000])
    index = CellIndex.from_session(session)
    by_crs: dict[str, list] = defaultdict(list)
    for r in world.reports:
        if "lon" in r.fields:
            by_crs[r.crs].append((r.fields["lon"], r.fields["lat"]))
    for crs, pts in by_crs.items():
        lon, lat = to_wgs84(*np.array(pts).T, parse_crs(crs))
        index.assign(lon, lat)
    return time.perf_counter() - t


def linkage_alone(session: Session) -> float:
    """The linkage decisions again, in memory, over the stored evidence (no database)."""
    rows = (
        session.execute(
            select(
                *ARCHIVE_COLUMNS,
                func.ST_X(IntakeReport.geom).label("lon"),
                func.ST_Y(IntakeReport.geom).label("lat"),
            )
            .where(IntakeReport.decision != "rejected")
            .order_by(IntakeReport.id)
        )
        .mappings()
        .all()
    )
    evidence = [evidence_of(dict(r)) for r in rows]
    index = LinkageIndex()
    t = time.perf_counter()
    for i, e in enumerate(evidence):
        out = index.link(e)
        index.absorb(out.resident_id if out.resident_id is not None else -i - 1, e)
    return time.perf_counter() - t


def evidence_of_reports(session: Session, outcomes: list[ReportOutcome]) -> list[Evidence]:
    """What the intake extracted from each report (rejected ones too), in the outcomes' order."""
    rows = (
        session.execute(
            select(
                *ARCHIVE_COLUMNS,
                func.ST_X(IntakeReport.geom).label("lon"),
                func.ST_Y(IntakeReport.geom).label("lat"),
            ).where(IntakeReport.id.in_([o.report_id for o in outcomes]))
        )
        .mappings()
        .all()
    )
    by_id = {r["id"]: evidence_of(dict(r)) for r in rows}
    return [by_id[o.report_id] for o in outcomes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    ap.add_argument("--today", type=date.fromisoformat, default=HELD_OUT_TODAY)
    ap.add_argument("--per-season", type=int, default=HELD_OUT_PER_SEASON)
    ap.add_argument("--no-splink", action="store_true", help="skip the Splink baseline")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()
    url = scratch_url("bench_intake")
    print(f"scratch database {url.database}: migrate and load the Yichun grid ...", flush=True)
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            load_yichun(s)
            s.commit()
        with Session(engine) as s:
            as_system(s, "bench")
            t = time.perf_counter()
            world = demo.generate(
                homes_from_db(s), today=args.today, seed=args.seed, per_season=args.per_season
            )
            gen = time.perf_counter() - t
            n = len(world.reports)
            print(
                f"seed {args.seed}, seasons to {args.today}, {args.per_season:,} a season: "
                f"{n:,} reports about {len(world.persons):,} persons "
                f"({len(world.stays):,} household stays) in {gen:.1f} s"
            )
            elapsed, outcomes = run_intake(s, world, args.today)
            s.commit()
            rate = n / elapsed
            print("\n1. throughput (one transaction, as the demo load)")
            print(f"   intake: {n:,} reports in {elapsed:.1f} s = {rate:,.0f} reports/s")
            w = bare_write(s, n)
            print(
                f"   bare write (COPY of {n:,} rows): {w:.1f} s = {n / w:,.0f} rows/s;"
                f" intake / bare = {elapsed / w:.1f}x"
            )
            p = placing_alone(s, world)
            print(
                f"   placing alone (geocode_many + CellIndex): {p:.1f} s"
                f" ({p / elapsed:.0%} of the intake)"
            )
            lk = linkage_alone(s)
            print(
                f"   linkage alone (in memory): {lk:.1f} s = {n / lk:,.0f} reports/s"
                f" ({lk / elapsed:.0%} of the intake)"
            )
            s.rollback()
            peer = None
            if not args.no_splink:
                peer = splink_baseline.run(evidence_of_reports(s, outcomes))
                print(
                    f"   Splink (train, predict, cluster at 0.5 and 0.99; on the intake's"
                    f" evidence): {peer.seconds:.1f} s = {n / peer.seconds:,.0f} reports/s;"
                    f" linkage alone / Splink = {peer.seconds / lk:.1f}x faster"
                )
            report_quality(s, outcomes, peer)
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


def report_quality(
    session: Session, outcomes: list[ReportOutcome], peer: splink_baseline.SplinkRun | None
) -> None:
    truth = [o.truth for o in outcomes]
    undecided = [o.resident_id if o.resident_id is not None else -o.report_id for o in outcomes]
    person_of: dict[int, Counter] = defaultdict(Counter)
    for o in outcomes:
        if o.resident_id is not None:
            person_of[o.resident_id][o.truth] += 1
    majority = {rid: c.most_common(1)[0][0] for rid, c in person_of.items()}
    decided, as_link = [], []
    for o, own in zip(outcomes, undecided, strict=True):
        ids = [c["resident_id"] for c in o.candidates] if o.decision == "review" else []
        as_link.append(ids[0] if ids else own)
        match = [rid for rid in ids if majority.get(rid) == o.truth]
        decided.append(match[0] if match else own)
    keys = dict(session.execute(select(IntakeReport.id, IntakeReport.id_number_hash)).all())
    phones = dict(session.execute(select(IntakeReport.id, IntakeReport.phone_hash)).all())
    by_id = union_find(
        [[f"id:{keys[o.report_id]}"] if keys.get(o.report_id) else [] for o in outcomes]
    )
    by_id_phone = union_find(
        [
            [f"id:{keys[o.report_id]}"] * bool(keys.get(o.report_id))
            + [f"ph:{phones[o.report_id]}"] * bool(phones.get(o.report_id))
            for o in outcomes
        ]
    )
    rules = [
        ("Houniao, review band undecided", undecided),
        ("Houniao, review band resolved as link (top candidate)", as_link),
        ("Houniao, review band decided by the grid worker", decided),
    ]
    if peer is not None:
        rules += [(f"Splink, match probability >= {t}", c) for t, c in peer.clusters.items()]
    rules += [
        ("naive: same ID number", by_id),
        ("naive: same ID number or same phone", by_id_phone),
    ]
    print(
        f"\n2. linkage quality, pairwise over all {len(outcomes):,} reports"
        f" ({pairs(truth):,} true pairs; a rejected report is a singleton)"
    )
    print("   | rule | pairs | precision | recall | F1 |")
    print("   | --- | ---: | ---: | ---: | ---: |")
    for label, clusters in rules:
        p, r, f = quality(truth, clusters)
        print(f"   | {label} | {pairs(clusters):,} | {p:.4f} | {r:.4f} | {f:.4f} |")
    counts = Counter(o.decision for o in outcomes)
    print(
        f"\n3. decisions: {dict(sorted(counts.items()))}; archives {len(person_of):,} for "
        f"{len(set(truth)):,} persons"
    )
    reasons = Counter(
        (o.reject_reason or "").split(":")[0][:70] for o in outcomes if o.decision == "rejected"
    )
    for reason, k in reasons.most_common(6):
        print(f"   rejected {k:5,}: {reason}")


if __name__ == "__main__":
    main()
