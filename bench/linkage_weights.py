"""Estimate the linkage's m and u per comparison level on the demo generator's ground truth, and
write them beside the weights in geo/residents/intake/linkage_weights.json.

Training seeds 101 and 102 (six seasons at 2,000 residents a season; the held-out set of
bench/intake.py uses another seed). Each seed's reports go through the real intake (checked,
placed) on a scratch database `<DATABASE_URL's name>_linkage_weights`; then, in time order, each
report is compared with every archive blocking finds, the archives built from the truth (each
person's earlier reports): m(level) = P(level | the candidate is the person), u(level) = P(level
| it is someone else), per field, among the candidate pairs the intake would score. For a masked
phone the agreement probabilities are the full phone's (the mask agrees wherever the number
does) and u adds the chance agreement of the hidden digits measured among masked comparisons.

estimate = log2(m'/u') with m' = (1-e) m + e u and u' = (1-e) u + e m, e = 1 %: one comparison in
a hundred of one person is taken to look like a stranger's (and vice versa), noise the generator
does not have (moves within a season, a misheard age): no single level is worth more than 100:1.

    .venv/bin/python bench/linkage_weights.py [--seeds 101 102] [--per-season 2000] [--adopt]

--adopt writes the estimates as the weights in use too (then run bench/intake.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake import evidence_of_reports, run_intake  # noqa: E402
from bench.scratch import drop_database, recreate_database, scratch_url  # noqa: E402
from geo.access.principal import as_system  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo import residents as demo  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.demo.residents_load import homes_from_db  # noqa: E402
from geo.residents.intake.comparisons import LEVELS, compare  # noqa: E402
from geo.residents.intake.linkage import WEIGHTS_FILE, LinkageIndex  # noqa: E402

TODAY = date(2026, 11, 26)
EPSILON = 0.01
KIND = {level: field for field, levels in LEVELS.items() for level in levels}
KIND |= {"phone_partial_agree": "phone_partial", "phone_partial_differ": "phone_partial"}


def count(reports: list[tuple[int, object]], m: Counter, u: Counter) -> None:
    """Comparison levels of every candidate pair, split by whether the candidate is the person."""
    index = LinkageIndex()
    for truth, e in reports:
        decided = e.id_hash and index.blocks.get(("id", e.id_hash))  # type: ignore[attr-defined]
        if not decided:
            for rid in index.candidates(e):  # type: ignore[arg-type]
                p = index.profiles[rid]
                if e.id_hash and p.id_hashes and e.id_hash not in p.id_hashes:  # type: ignore[attr-defined]
                    continue
                c = m if rid == truth else u
                c["pairs"] += 1
                for _, level in compare(e, p):  # type: ignore[arg-type]
                    c[level] += 1
                    c["field:" + KIND[level]] += 1
        index.absorb(truth, e)  # type: ignore[arg-type]


def estimates(m: Counter, u: Counter) -> dict[str, dict[str, float | None]]:
    p = {
        lv: (m[lv] / max(m["field:" + k], 1), u[lv] / max(u["field:" + k], 1))
        for lv, k in KIND.items()
    }
    full_m, full_u = p["phone_agree"]
    p["phone_partial_agree"] = (full_m, full_u + p["phone_partial_agree"][1])
    p["phone_partial_differ"] = p["phone_differ"]
    out: dict[str, dict[str, float | None]] = {}
    for lv, (mi, ui) in p.items():
        m2, u2 = (1 - EPSILON) * mi + EPSILON * ui, (1 - EPSILON) * ui + EPSILON * mi
        # a level the generator never produces (origin by province alone) has no estimate
        est = round(math.log2(m2 / u2), 2) if m2 > 0 and u2 > 0 else None
        out[lv] = {"m": round(mi, 5), "u": round(ui, 5), "estimate": est}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    ap.add_argument("--per-season", type=int, default=2000)
    ap.add_argument("--adopt", action="store_true", help="use the estimates as the weights")
    args = ap.parse_args()
    url = scratch_url("linkage_weights")
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = create_engine(url)
    m, u = Counter(), Counter()
    try:
        with Session(engine) as s:
            load_yichun(s)
            s.commit()
        for seed in args.seeds:
            with Session(engine) as s:
                as_system(s, "linkage-weights")
                world = demo.generate(
                    homes_from_db(s), today=TODAY, seed=seed, per_season=args.per_season
                )
                _, outcomes = run_intake(s, world, TODAY)
                kept = [
                    o
                    for o in outcomes
                    if o.decision != "rejected"
                    or (o.reject_reason or "").startswith(LINK_DEPENDENT)
                ]
                count(
                    list(zip([o.truth for o in kept], evidence_of_reports(s, kept), strict=True)),
                    m,
                    u,
                )
                s.rollback()
    finally:
        engine.dispose()
        drop_database(url)
    current = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    found = estimates(m, u)
    print(f"{m['pairs']:,} candidate pairs of one person, {u['pairs']:,} of two")
    print("| level | m | u | estimate | weight in use |\n| --- | ---: | ---: | ---: | ---: |")
    for lv, v in found.items():
        est = v["estimate"]
        weight = est if args.adopt and est is not None else current["levels"][lv]["weight"]
        current["levels"][lv] = {**v, "weight": weight}
        shown = "-" if est is None else f"{est:.2f}"
        print(f"| {lv} | {v['m']:.5f} | {v['u']:.5f} | {shown} | {weight:.2f} |")
    current["estimated_on"] = {
        "seeds": args.seeds,
        "per_season": args.per_season,
        "today": TODAY.isoformat(),
        "epsilon": EPSILON,
        "pairs_same": m["pairs"],
        "pairs_different": u["pairs"],
    }
    WEIGHTS_FILE.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", "utf-8")


# Rejections that depend on the linkage (the report is otherwise sound): still compared.
LINK_DEPENDENT = ("too little to identify", "no location", "address not found", "location outside")


if __name__ == "__main__":
    main()
