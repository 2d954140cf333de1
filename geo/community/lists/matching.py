"""Matching the demand list to the resource list (需求-资源匹配) of a community or a street.

The rule
--------
A pair (demand, resource) is *feasible* when the demand is open and current (valid-until today
or later), the resource active and current, the resource's category is the demand's (and, where
both name a catalogue item, the same item), their date windows overlap, the resource has places
left for the demand's people (capacity less the people of its live plans), and they lie within
`max_distance_m` metres of each other on the ellipsoid (PostGIS geography, the spatial core's
metric; `ST_DWithin` through the geography GiST indexes).

The algorithm: greedy by distance with capacity
------------------------------------------------
All feasible pairs come from one SQL statement, nearest first (ties by demand id, then resource
id). Walking them in that order, a pair is matched when its demand is still unmatched and its
resource still has places for the demand's people; the resource's places then go down. So each
demand gets the nearest feasible resource that nearer demands have not filled: where nothing is
contested (capacity for all), that is every demand's best feasible resource; where a resource
is contested, the nearer demand wins and the other takes its next nearest. This is not the
minimum total distance of an optimal assignment (min-cost flow): it never moves a demand away
from a resource it is nearest to so that another is served closer, which staff find easier to
explain ("the nearest free one") and which is O(P log P) in the P feasible pairs.
`bench/matching.py` compares it, at 1,000 x 1,000, with a brute-force Python pass over every
pair and, on unit capacities, with the optimal assignment (scipy's linear_sum_assignment).

Unmatched demands are reported with a reason (`no_candidate`: nothing feasible within the
distance; `capacity_taken`: feasible resources were filled by nearer demands); idle resources
are active, current ones that no live plan and no match of this run uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import SYSTEM, Principal, Role, in_scope
from geo.community.lists import queries, service
from geo.community.lists.schemas import MatchRequest, PlanCreate
from geo.core.errors import InvalidInput, NotFound

ALGORITHM = "greedy-by-distance-with-capacity"

# {place} is 'community_code' or 'street_code' (chosen in Python, never from input).
CANDIDATES_SQL = """
WITH used AS (
    SELECT resource_id, sum(people) AS used FROM service_plan
    WHERE status IN ('active', 'done') GROUP BY resource_id
), dem AS MATERIALIZED (  -- each row's geography cast once, not once per pair
    SELECT id, category, item_code, people, needed_from, needed_until, geom::geography AS g
    FROM community_demand
    WHERE {place} = :code AND status = 'open' AND valid_until >= :today
), res AS MATERIALIZED (
    SELECT rs.id, rs.category, rs.item_code, rs.available_from, rs.available_until,
           rs.geom::geography AS g,
           rs.capacity - coalesce(u.used, 0) AS remaining
    FROM community_resource rs LEFT JOIN used u ON u.resource_id = rs.id
    WHERE rs.{place} = :code AND rs.status = 'active' AND rs.valid_until >= :today
)
SELECT * FROM (
    SELECT dem.id AS demand_id, res.id AS resource_id, dem.people, res.remaining,
           ST_Distance(dem.g, res.g, true) AS distance_m
    FROM dem JOIN res
      ON res.category = dem.category
     AND (res.item_code IS NULL OR dem.item_code IS NULL OR res.item_code = dem.item_code)
     AND res.available_from <= dem.needed_until AND dem.needed_from <= res.available_until
     AND res.remaining >= dem.people
     -- a cheap test on the sphere first (1 % slack: sphere and ellipsoid differ by < 0.6 %)
     AND ST_DWithin(dem.g, res.g, :max_m * 1.01, false)
    OFFSET 0  -- computes the exact distance on the ellipsoid once per pair, not per use
) pairs
WHERE distance_m <= :max_m
ORDER BY distance_m, demand_id, resource_id
"""

OPEN_SQL = """
SELECT id, community_code, title, people FROM community_demand
WHERE {place} = :code AND status = 'open' AND valid_until >= :today ORDER BY id
"""
IDLE_SQL = """
SELECT rs.id, rs.community_code, rs.title,
       rs.capacity - coalesce((SELECT sum(people) FROM service_plan sp
                               WHERE sp.resource_id = rs.id
                                 AND sp.status IN ('active', 'done')), 0) AS remaining
FROM community_resource rs
WHERE rs.{place} = :code AND rs.status = 'active' AND rs.valid_until >= :today
  AND NOT EXISTS (SELECT 1 FROM service_plan sp
                  WHERE sp.resource_id = rs.id AND sp.status = 'active')
ORDER BY rs.id
"""


@dataclass
class Assignment:
    matches: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # unmatched demand -> reason


def greedy(pairs: Sequence[Any]) -> Assignment:
    """Greedy by distance with capacity over feasible pairs sorted nearest first.

    Each pair has demand_id, resource_id, people, remaining (places the resource has before
    this run) and distance_m.

    >>> rows = [(1, 10, 2, 3, 50.0), (2, 10, 2, 3, 80.0), (2, 11, 2, 2, 90.0)]
    >>> from collections import namedtuple
    >>> P = namedtuple("P", "demand_id resource_id people remaining distance_m")
    >>> [(m["demand_id"], m["resource_id"]) for m in greedy([P(*x) for x in rows]).matches]
    [(1, 10), (2, 11)]
    """
    left: dict[int, int] = {}
    done: set[int] = set()
    out = Assignment()
    for pair in pairs:
        left.setdefault(pair.resource_id, int(pair.remaining))
    for pair in pairs:
        if pair.demand_id in done:
            continue
        if left[pair.resource_id] < pair.people:
            out.reasons[pair.demand_id] = "capacity_taken"
            continue
        left[pair.resource_id] -= pair.people
        done.add(pair.demand_id)
        out.reasons.pop(pair.demand_id, None)
        out.matches.append(
            {
                "demand_id": int(pair.demand_id),
                "resource_id": int(pair.resource_id),
                "people": int(pair.people),
                "distance_m": round(float(pair.distance_m), 1),
            }
        )
    return out


def _target(me: Principal, req: MatchRequest) -> tuple[str, str]:
    """('community_code' | 'street_code', code) of the run, checked against the caller's scope.
    Default: the caller's own community or street."""
    if req.community and req.street:
        raise InvalidInput("give a community or a street, not both")
    if req.community:
        place, code = "community_code", req.community
        ok = in_scope(me, community_code=code)
    elif req.street:
        place, code = "street_code", req.street
        ok = me.role == SYSTEM or (me.role == Role.street_staff and me.street == code)
    elif me.role == Role.community_staff and me.community:
        place, code, ok = "community_code", me.community, True
    elif me.role == Role.street_staff and me.street:
        place, code, ok = "street_code", me.street, True
    else:
        raise InvalidInput("give the community or the street to match")
    if not ok:
        raise NotFound(f"no {place.removesuffix('_code')} {code} in your scope")
    return place, code


def run(session: Session, me: Principal, req: MatchRequest) -> dict[str, Any]:
    """Match a community's (or street's) open demands to its resources; with `commit`, each
    match becomes a service plan owned by `req.owner` (through `service.create_plan`, which
    re-checks the pair under locks)."""
    service.staff_only(me)
    if req.commit and not req.owner:
        raise InvalidInput("commit needs an owner (责任人) for the plans it makes")
    place, code = _target(me, req)
    # The city's date once (the one clock, in SQL), not per row.
    params = {"code": code, "max_m": req.max_distance_m, "today": queries.today(session)}
    pairs = session.execute(text(CANDIDATES_SQL.format(place=place)), params).all()
    result = greedy(pairs)
    if req.commit:
        for m in result.matches:
            m["plan_id"] = service.create_plan(
                session,
                me,
                PlanCreate(
                    demand_id=m["demand_id"], resource_id=m["resource_id"], owner=req.owner or ""
                ),
            )
    matched = {m["demand_id"] for m in result.matches}
    used = {m["resource_id"] for m in result.matches}
    unmatched = [
        {
            "demand_id": x.id,
            "community_code": x.community_code,
            "title": x.title,
            "people": x.people,
            "reason": result.reasons.get(x.id, "no_candidate"),
        }
        for x in session.execute(text(OPEN_SQL.format(place=place)), params)
        if x.id not in matched
    ]
    idle = [
        {
            "resource_id": x.id,
            "community_code": x.community_code,
            "title": x.title,
            "remaining": int(x.remaining),
        }
        for x in session.execute(text(IDLE_SQL.format(place=place)), params)
        if x.id not in used
    ]
    return {
        "level": place.removesuffix("_code"),
        "code": code,
        "algorithm": ALGORITHM,
        "max_distance_m": req.max_distance_m,
        "committed": req.commit,
        "candidates": len(pairs),
        "matches": result.matches,
        "unmatched": unmatched,
        "idle": idle,
    }
