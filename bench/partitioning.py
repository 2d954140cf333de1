"""Would monthly partitions pay for case events (and intake reports)? The same rows in a plain
table shaped like `case_event` and in one declaratively partitioned by month (range on `at`,
primary key (id, at), as partitioning requires), measured side by side: a case's timeline (a
lookup by a key that is not the month: the pattern of every linkage lookup on intake reports
too), the change feed's next page (id > x), an escalation pass's batch of events written into
the current month, VACUUM ANALYZE, and removing the oldest month (a DELETE against detaching and
dropping its partition: what partitions are for, though case events are append-only and
retention anonymises reports by person, not by month).

Scratch tables `bench_ev_plain` and `bench_ev_part` on the given database, dropped at the end.

    .venv/bin/python bench/partitioning.py [--database houniao_national_10] [--events 2000000]
        [--cases 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text

from bench.scratch import scratch_url
from geo.core.db import HIDE_PARAMETERS

MONTHS = [f"2026-{m:02d}-01" for m in range(1, 13)] + ["2027-01-01"]
COLUMNS = (
    "id bigint NOT NULL, case_id bigint NOT NULL, at timestamptz NOT NULL,"
    " action varchar(30) NOT NULL, actor varchar(100) NOT NULL, data jsonb NOT NULL"
)
FILL = (
    "INSERT INTO {t} SELECT i, 1 + (hashint8(i) & 1048575) % :cases,"
    " timestamptz '2026-01-01 00:00+08' + ((i - 1)::float8 / :n) * interval '365 days',"
    " 'escalate', 'system', '{{\"automatic\": true}}' FROM generate_series(1, :n) i"
)


def create(conn: Any, n: int, cases: int) -> None:
    conn.execute(text(f"CREATE TABLE bench_ev_plain ({COLUMNS}, PRIMARY KEY (id))"))
    conn.execute(
        text(
            f"CREATE TABLE bench_ev_part ({COLUMNS}, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)"
        )
    )
    for lo, hi in zip(MONTHS, MONTHS[1:], strict=False):
        conn.execute(
            text(
                f"CREATE TABLE bench_ev_part_{lo[:7].replace('-', '')} PARTITION OF bench_ev_part"
                f" FOR VALUES FROM ('{lo} 00:00+08') TO ('{hi} 00:00+08')"
            )
        )
    for t in ("bench_ev_plain", "bench_ev_part"):
        conn.execute(text(FILL.format(t=t)), {"n": n, "cases": cases})
        conn.execute(text(f"CREATE INDEX ON {t} (case_id, id)"))
        conn.execute(text(f"ANALYZE {t}"))


def p50_ms(conn: Any, sql: str, params: list[dict[str, Any]]) -> float:
    ms = []
    for p in params:
        t = time.perf_counter()
        conn.execute(text(sql), p).all()
        ms.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(ms, 50))


def seconds(conn: Any, sql: str, params: dict[str, Any] | None = None) -> float:
    t = time.perf_counter()
    conn.execute(text(sql), params or {})
    return time.perf_counter() - t


def measure(conn: Any, t: str, n: int, cases: int, round_no: int) -> dict[str, float]:
    """Reads, a batch of 10,000 events into the current month, VACUUM ANALYZE."""
    rng = random.Random(20261201 + round_no)
    out: dict[str, float] = {}
    ids = [{"c": rng.randint(1, cases)} for _ in range(300)]
    out["timeline_p50_ms"] = p50_ms(conn, f"SELECT * FROM {t} WHERE case_id = :c ORDER BY id", ids)
    after = [{"x": rng.randint(1, n - 600)} for _ in range(200)]
    out["feed_page_p50_ms"] = p50_ms(
        conn, f"SELECT * FROM {t} WHERE id > :x ORDER BY id LIMIT 500", after
    )
    out["insert_10k_s"] = seconds(
        conn,
        f"INSERT INTO {t} SELECT :n + :r * 10000 + i, 1 + i % :cases,"
        " timestamptz '2026-12-30 12:00+08', 'escalate', 'system', '{}'"
        " FROM generate_series(1, 10000) i",
        {"n": n, "r": round_no, "cases": cases},
    )
    out["vacuum_analyze_s"] = seconds(conn, f"VACUUM ANALYZE {t}")
    return out


def drop_oldest(conn: Any, t: str) -> dict[str, float]:
    """The oldest month gone: DELETE and the VACUUM it needs, or DETACH and DROP."""
    if t == "bench_ev_part":
        return {
            "drop_oldest_month_s": seconds(
                conn, "ALTER TABLE bench_ev_part DETACH PARTITION bench_ev_part_202601"
            )
            + seconds(conn, "DROP TABLE bench_ev_part_202601")
        }
    return {
        "drop_oldest_month_s": seconds(
            conn, f"DELETE FROM {t} WHERE at < timestamptz '2026-02-01 00:00+08'"
        ),
        "vacuum_after_delete_s": seconds(conn, f"VACUUM {t}"),
    }


def size_mb(conn: Any, t: str) -> float:
    total = conn.scalar(
        text(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            " WHERE c.relname = :t OR c.oid IN (SELECT inhrelid FROM pg_inherits"
            " WHERE inhparent = CAST(:t AS regclass))"
        ),
        {"t": t},
    )
    return float(total or 0) / 1e6


def measured(conn: Any, n: int, cases: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per table, the median of `rounds` interleaved rounds, then the size and the drop."""
    tables = ("bench_ev_plain", "bench_ev_part")
    seen: dict[str, list[dict[str, float]]] = {t: [] for t in tables}
    for r in range(rounds):
        for t in tables:
            seen[t].append(measure(conn, t, n, cases, r))
    out = {}
    for t in tables:
        out[t] = {k: statistics.median(x[k] for x in seen[t]) for k in seen[t][0]}
        out[t]["mb"] = size_mb(conn, t)
        out[t].update(drop_oldest(conn, t))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="houniao_national_10")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=0, help="case ids drawn from (0: the DB's)")
    args = parser.parse_args()
    url = scratch_url("x").set(database=args.database)
    engine = create_engine(url, isolation_level="AUTOCOMMIT", **HIDE_PARAMETERS)
    try:
        with engine.connect() as conn:
            cases = args.cases or int(conn.scalar(text("SELECT count(*) FROM cases")) or 1)
            try:
                t = time.perf_counter()
                create(conn, args.events, cases)
                print(f"{args.events:,} events over 12 months for {cases:,} cases,"
                      f" both tables written in {time.perf_counter() - t:.0f} s")  # fmt: skip
                got = measured(conn, args.events, cases, args.rounds)
                plain, part = got["bench_ev_plain"], got["bench_ev_part"]
            finally:
                conn.execute(text("DROP TABLE IF EXISTS bench_ev_plain, bench_ev_part"))
    finally:
        engine.dispose()
    print("| figure | plain | monthly partitions | partitioned / plain |")
    print("| --- | ---: | ---: | ---: |")
    for k in plain:
        a, b = plain[k], part.get(k)
        ratio = f"{b / a:.2f}" if b is not None and a else ""
        print(f"| {k} | {a:,.3f} | {'' if b is None else f'{b:,.3f}'} | {ratio} |")


if __name__ == "__main__":
    main()
