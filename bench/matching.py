"""Matching the demand list to the resource list of one street: 1,000 demands x 1,000 resources.

The SQL path (`geo.community.lists.matching.run`, dry run: feasible pairs from one statement
with ST_DWithin on the geography indexes, then greedy by distance with capacity in Python)
against, in the same run:

- brute force in Python: every one of the N x M pairs, geodesic distance on the WGS84 ellipsoid
  by pyproj (vectorised per demand), the same feasibility rules, the same greedy pass;
- the optimal assignment (minimum total distance, scipy's linear_sum_assignment over the
  resources' places as slots; demands of one person here, so places are slots) on the same
  feasible pairs: what greedy gives up in total distance.

Rows are generated inside the street's polygon (fixed seed), written as the owner inside one
transaction and rolled back at the end: the database is left as found.

    .venv/bin/python bench/matching.py [--demands 1000] [--resources 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import timedelta

import numpy as np
from pyproj import Geod
from scipy.optimize import linear_sum_assignment
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.lists import matching
from geo.community.lists.schemas import MatchRequest
from geo.core.clock import season_of
from geo.core.db import get_engine
from geo.spatial.places.catalogue import SERVICE_CATALOGUE

SEED = 20261130
GEOD = Geod(ellps="WGS84")
MAX_M = 3000.0
POINTS = text(
    """
    SELECT ST_X(p.g), ST_Y(p.g), c.code
    FROM (SELECT (ST_Dump(ST_GeneratePoints(s.geom, :n, :seed))).geom AS g
          FROM (SELECT geom FROM street WHERE code = :s ORDER BY release_low DESC LIMIT 1) s) p
    CROSS JOIN LATERAL (SELECT code FROM community WHERE street_code = :s
                        AND ST_Intersects(geom, p.g) ORDER BY release_low DESC LIMIT 1) c
    """
)
BUSIEST = text(
    "SELECT street_code FROM community GROUP BY 1 ORDER BY count(DISTINCT code) DESC, 1 LIMIT 1"
)


def generate(session: Session, street: str, n_dem: int, n_res: int) -> None:
    rng = random.Random(SEED)
    today = session.scalar(text("SELECT city_today()"))
    cats = list(SERVICE_CATALOGUE)

    def window() -> tuple[object, object]:
        start = today + timedelta(days=rng.randint(0, 60))
        return start, start + timedelta(days=rng.randint(7, 60))

    dem = session.execute(POINTS, {"n": n_dem, "seed": SEED, "s": street}).all()
    res = session.execute(POINTS, {"n": n_res, "seed": SEED + 1, "s": street}).all()
    rows = []
    for x, y, code in dem:
        start, end = window()
        rows.append(
            {
                "c": code,
                "s": code[:9],
                "cat": rng.choice(cats),
                "p": 1,
                "x": x,
                "y": y,
                "f": start,
                "u": end,
                "season": season_of(start),
            }
        )
    session.execute(
        text(
            "INSERT INTO community_demand (community_code, street_code, category, title, people,"
            " season, source, needed_from, needed_until, valid_until, geom, status, created_by)"
            " VALUES (:c, :s, :cat, 'bench', :p, :season, 'survey', :f, :u, :u,"
            " ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'open', 'bench')"
        ),
        rows,
    )
    rows = []
    for x, y, code in res:
        start, end = window()
        rows.append(
            {
                "c": code,
                "s": code[:9],
                "cat": rng.choice(cats),
                "cap": rng.randint(1, 3),
                "x": x,
                "y": y,
                "f": start,
                "u": end,
            }
        )
    session.execute(
        text(
            "INSERT INTO community_resource (community_code, street_code, provider_kind,"
            " provider_name, category, title, capacity, available_from, available_until,"
            " valid_until, geom, status, created_by) VALUES (:c, :s, 'volunteer', 'bench', :cat,"
            " 'bench', :cap, :f, :u, :u, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'active',"
            " 'bench')"
        ),
        rows,
    )
    session.execute(text("ANALYZE community_demand, community_resource, service_plan"))


def brute_force(session: Session, street: str) -> tuple[list[dict[str, object]], int]:
    dem = session.execute(
        text(
            "SELECT id, category, people, needed_from, needed_until, ST_X(geom), ST_Y(geom)"
            " FROM community_demand WHERE street_code = :s AND status = 'open'"
            " AND valid_until >= city_today()"
        ),
        {"s": street},
    ).all()
    res = session.execute(
        text(
            "SELECT id, category, capacity, available_from, available_until, ST_X(geom),"
            " ST_Y(geom) FROM community_resource WHERE street_code = :s AND status = 'active'"
            " AND valid_until >= city_today()"
        ),
        {"s": street},
    ).all()
    rid = np.array([r[0] for r in res])
    rcat = np.array([r[1] for r in res])
    rcap = np.array([r[2] for r in res])
    rfrom = np.array([r[3].toordinal() for r in res])
    runtil = np.array([r[4].toordinal() for r in res])
    rx = np.array([r[5] for r in res])
    ry = np.array([r[6] for r in res])
    pairs = []
    for d in dem:
        _, _, dist = GEOD.inv(np.full(len(res), d[5]), np.full(len(res), d[6]), rx, ry)
        ok = (
            (rcat == d[1])
            & (rfrom <= d[4].toordinal())
            & (d[3].toordinal() <= runtil)
            & (rcap >= d[2])
            & (dist <= MAX_M)
        )
        for j in np.nonzero(ok)[0]:
            pairs.append((float(dist[j]), d[0], int(rid[j]), d[2], int(rcap[j])))
    pairs.sort()

    class P:
        __slots__ = ("distance_m", "demand_id", "resource_id", "people", "remaining")

        def __init__(self, t: tuple) -> None:
            self.distance_m, self.demand_id, self.resource_id, self.people, self.remaining = t

    return matching.greedy([P(p) for p in pairs]).matches, len(pairs)


def optimal(pairs: list[tuple[int, int, float]], caps: dict[int, int]) -> tuple[int, float]:
    """(matched, total metres) of the minimum-distance assignment with the most matches."""
    demands = sorted({p[0] for p in pairs})
    slots = [(r, k) for r in sorted(caps) for k in range(caps[r])]
    di = {d: i for i, d in enumerate(demands)}
    first = {}
    for j, (r, _) in enumerate(slots):
        first.setdefault(r, []).append(j)
    big = 1e7  # larger than any sum of real distances: an infeasible pair only when unavoidable
    cost = np.full((len(demands), len(slots)), big)
    for d, r, m in pairs:
        cost[di[d], first[r]] = m
    rows, cols = linear_sum_assignment(cost)
    real = cost[rows, cols] < big
    return int(real.sum()), float(cost[rows, cols][real].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demands", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--street", default=None)
    args = parser.parse_args()
    me = Principal.system("bench")
    with Session(get_engine()) as session:
        as_system(session, "bench")
        street = args.street or session.scalar(BUSIEST)
        t0 = time.perf_counter()
        generate(session, street, args.demands, args.resources)
        print(
            f"street {street}: {args.demands} demands, {args.resources} resources generated"
            f" in {time.perf_counter() - t0:.2f} s (max distance {MAX_M:.0f} m)"
        )
        req = MatchRequest(street=street, max_distance_m=MAX_M)
        sql_times, base_times = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            out = matching.run(session, me, req)
            sql_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            brute, n_pairs = brute_force(session, street)
            base_times.append(time.perf_counter() - t0)
        sql_t, base_t = statistics.median(sql_times), statistics.median(base_times)
        got = {(m["demand_id"], m["resource_id"]) for m in out["matches"]}
        ref = {(m["demand_id"], m["resource_id"]) for m in brute}
        print(f"feasible pairs: SQL {out['candidates']:,}, brute force {n_pairs:,}")
        print(
            f"SQL path (candidates + greedy): {sql_t * 1000:8.1f} ms median of {args.rounds}"
            f"  ({args.demands * args.resources / sql_t:,.0f} pairs considered/s)"
        )
        print(
            f"brute force in Python:          {base_t * 1000:8.1f} ms median of {args.rounds}"
            f"  ({args.demands * args.resources / base_t:,.0f} pairs/s)"
        )
        print(
            f"ratio brute force / SQL: {base_t / sql_t:.1f}x;"
            f" same matches: {len(got & ref)} of {len(got)} (brute force {len(ref)})"
        )
        caps = dict(
            session.execute(
                text(
                    "SELECT id, capacity FROM community_resource WHERE street_code = :s"
                    " AND created_by = 'bench'"
                ),
                {"s": street},
            ).all()
        )
        pairs = [
            (m.demand_id, m.resource_id, float(m.distance_m))
            for m in session.execute(
                text(matching.CANDIDATES_SQL.format(place="street_code")),
                {
                    "code": street,
                    "max_m": MAX_M,
                    "today": session.scalar(text("SELECT city_today()")),
                },
            ).all()
        ]
        t0 = time.perf_counter()
        n_opt, total_opt = optimal(pairs, caps)
        opt_t = time.perf_counter() - t0
        total_greedy = sum(float(m["distance_m"]) for m in out["matches"])
        print(
            f"greedy:  {len(out['matches'])} matched, {total_greedy / 1000:,.1f} km in total,"
            f" mean {total_greedy / max(1, len(out['matches'])):,.0f} m"
        )
        print(
            f"optimal: {n_opt} matched, {total_opt / 1000:,.1f} km in total,"
            f" mean {total_opt / max(1, n_opt):,.0f} m (linear_sum_assignment {opt_t:.2f} s)"
        )
        session.rollback()


if __name__ == "__main__":
    main()
