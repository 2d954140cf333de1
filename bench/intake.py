"""Resident intake: throughput at ~100,000 reports (checking, geocoding, linkage, writes) and
linkage quality on the demo generator's ground truth (pairwise precision and recall).

Runs on a scratch database `<DATABASE_URL's name>_bench_intake` on the same server (created,
migrated, loaded with the Yichun grid without residents, dropped at the end unless --keep), so
the dev database is left as found. The reports are the demo generator's (seasons 2021-2026, six
channels, with their noise), taken in as the demo load does: per channel and month, in time
order, one transaction.

Prints:
1. throughput: reports/s of the whole intake; baselines in the same run on the same reports:
   the bare write (the same number of report rows COPYed into a temporary table: storage alone),
   placing alone (`geocode_many` over the distinct addresses, `CellIndex` over the points), and
   linkage alone (the in-memory index over the stored evidence, no database);
2. linkage quality, pairwise over the reports that were not rejected: precision, recall, F1 -
   with the review queue left undecided (each report in review its own singleton), and with the
   queue decided as the grid worker would (the top candidate that is the same person, else new);
   next to two naive rules on the same reports: "same valid ID number" and "same ID number or
   same phone" (a phone taken for identity - couples share one);
3. what the linkage decided (new, linked, review, rejected) and why reports were rejected.

    .venv/bin/python bench/intake.py [--per-season 6000] [--seed 20260603] [--keep]
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

from bench.scratch import drop_database, recreate_database, scratch_url  # noqa: E402
from geo import migrate  # noqa: E402
from geo.access import Channel, as_system  # noqa: E402
from geo.addresses.geocode import geocode_many  # noqa: E402
from geo.batch import CellIndex  # noqa: E402
from geo.crs import parse_crs, to_wgs84  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.residents import bulk, demo  # noqa: E402
from geo.residents.demo_load import homes_from_db, items_of  # noqa: E402
from geo.residents.intake import Intake, ReportOutcome, Submission  # noqa: E402
from geo.residents.linkage import LinkageIndex  # noqa: E402
from geo.residents.models import IntakeReport  # noqa: E402
from geo.residents.store import ARCHIVE_COLUMNS, evidence_of  # noqa: E402

TODAY = date(2026, 11, 26)  # fixed, so every run sees the same six seasons


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


def run_intake(session: Session, world: demo.DemoWorld) -> tuple[float, list[ReportOutcome]]:
    intake = Intake(session, today=TODAY)
    outcomes: list[ReportOutcome] = []
    t = time.perf_counter()
    intake.prime_addresses(r.fields.get("address") for r in world.reports if "lon" not in r.fields)
    for _, monthly in groupby(
        world.reports, key=lambda r: (r.reported_at.year, r.reported_at.month)
    ):
        reports = list(monthly)
        for channel in Channel:
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
    addresses = sorted({r.fields["address"] for r in world.reports if "address" in r.fields
                        and "lon" not in r.fields})  # fmt: skip
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
    rows = session.execute(
        select(*ARCHIVE_COLUMNS, func.ST_X(IntakeReport.geom).label("lon"),
               func.ST_Y(IntakeReport.geom).label("lat"))
        .where(IntakeReport.decision != "rejected").order_by(IntakeReport.id)
    ).mappings().all()  # fmt: skip
    evidence = [evidence_of(dict(r)) for r in rows]
    index = LinkageIndex()
    t = time.perf_counter()
    for i, e in enumerate(evidence):
        out = index.link(e)
        index.absorb(out.resident_id if out.resident_id is not None else -i - 1, e)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-season", type=int, default=demo.RESIDENTS_PER_SEASON)
    ap.add_argument("--seed", type=int, default=demo.SEED)
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
            world = demo.generate(homes_from_db(s), today=TODAY, seed=args.seed,
                                  per_season=args.per_season)  # fmt: skip
            gen = time.perf_counter() - t
            n = len(world.reports)
            print(f"generated {n:,} reports about {len(world.persons):,} persons "
                  f"({len(world.stays):,} household stays) in {gen:.1f} s")  # fmt: skip
            elapsed, outcomes = run_intake(s, world)
            s.commit()
            rate = n / elapsed
            print("\n1. throughput (one transaction, as the demo load)")
            print(f"   intake: {n:,} reports in {elapsed:.1f} s = {rate:,.0f} reports/s")
            w = bare_write(s, n)
            print(f"   bare write (COPY of {n:,} rows): {w:.1f} s = {n / w:,.0f} rows/s;"
                  f" intake / bare = {elapsed / w:.1f}x")  # fmt: skip
            p = placing_alone(s, world)
            print(f"   placing alone (geocode_many + CellIndex): {p:.1f} s"
                  f" ({p / elapsed:.0%} of the intake)")  # fmt: skip
            lk = linkage_alone(s)
            print(f"   linkage alone (in memory): {lk:.1f} s = {n / lk:,.0f} reports/s"
                  f" ({lk / elapsed:.0%} of the intake)")  # fmt: skip
            s.rollback()
            report_quality(s, outcomes)
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


def report_quality(session: Session, outcomes: list[ReportOutcome]) -> None:
    kept = [o for o in outcomes if o.decision != "rejected"]
    truth = [o.truth for o in kept]
    undecided = [o.resident_id if o.resident_id is not None else -o.report_id for o in kept]
    person_of: dict[int, Counter] = defaultdict(Counter)
    for o in kept:
        if o.resident_id is not None:
            person_of[o.resident_id][o.truth] += 1
    majority = {rid: c.most_common(1)[0][0] for rid, c in person_of.items()}
    decided = []
    for o in kept:
        if o.resident_id is not None:
            decided.append(o.resident_id)
            continue
        match = [
            c["resident_id"] for c in o.candidates if majority.get(c["resident_id"]) == o.truth
        ]
        decided.append(match[0] if match else -o.report_id)
    keys = dict(session.execute(select(IntakeReport.id, IntakeReport.id_number_hash)).all())
    phones = dict(session.execute(select(IntakeReport.id, IntakeReport.phone_hash)).all())
    by_id = union_find([[f"id:{keys[o.report_id]}"] if keys.get(o.report_id) else [] for o in kept])
    by_id_phone = union_find(
        [[f"id:{keys[o.report_id]}"] * bool(keys.get(o.report_id))
         + [f"ph:{phones[o.report_id]}"] * bool(phones.get(o.report_id)) for o in kept]
    )  # fmt: skip
    print(f"\n2. linkage quality, pairwise over {len(kept):,} reports not rejected")
    print("   | rule | precision | recall | F1 |")
    print("   | --- | ---: | ---: | ---: |")
    for label, clusters in [
        ("intake, review queue undecided", undecided),
        ("intake, review queue decided by the grid worker", decided),
        ("naive: same ID number", by_id),
        ("naive: same ID number or same phone", by_id_phone),
    ]:
        p, r, f = quality(truth, clusters)
        print(f"   | {label} | {p:.4f} | {r:.4f} | {f:.4f} |")
    counts = Counter(o.decision for o in outcomes)
    print(f"\n3. decisions: {dict(sorted(counts.items()))}; archives {len(person_of):,} for "
          f"{len(set(truth)):,} persons")  # fmt: skip
    reasons = Counter((o.reject_reason or "").split(":")[0][:70] for o in outcomes
                      if o.decision == "rejected")  # fmt: skip
    for reason, k in reasons.most_common(6):
        print(f"   rejected {k:5,}: {reason}")


if __name__ == "__main__":
    main()
