"""Matching on a generated community with known best matches: every demand gets the best
feasible resource (checked against the construction and against an independent brute force
over every pair on the ellipsoid), contested capacity goes to the nearer demand, and stale or
retired entries take no part. Over real HTTP as street staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyproj import Geod
from sqlalchemy import text

from geo.community.lists import service
from geo.community.lists.schemas import Review
from geo.services.catalogue import ITEMS
from tests.community.lists.conftest import (
    COMMUNITY,
    SYSTEM,
    demand,
    make_stale,
    resource,
    today,
)

URL = "/api/v1/lists/match"
N = 36  # demands, each with its own catalogue item (so their best resources are theirs alone)
GEOD = Geod(ellps="WGS84")


def _points(session, n: int, seed: int) -> list[tuple[float, float]]:
    rows = session.execute(
        text(
            "SELECT ST_X(d.geom), ST_Y(d.geom) FROM (SELECT (ST_Dump(ST_GeneratePoints(c.geom, :n,"
            " :seed))).geom FROM (SELECT geom FROM community WHERE code = :c"
            " ORDER BY release_low DESC LIMIT 1) c) d"
        ),
        {"n": n, "seed": seed, "c": COMMUNITY},
    ).all()
    return [(float(x), float(y)) for x, y in rows]


def _centre(session) -> tuple[float, float]:
    x, y = session.execute(
        text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM community"
            " WHERE code = :c ORDER BY release_low DESC LIMIT 1) q"
        ),
        {"c": COMMUNITY},
    ).one()
    return float(x), float(y)


@pytest.fixture
def world(session):
    """N demands at generated points of the community; for each, on the line from it to the
    community's centre (inside a convex community), nearest first: five infeasible decoys
    (another category, dates that do not overlap, one place too few, past valid-until,
    retired), then the best feasible resource, then a feasible one farther away."""
    codes = sorted(ITEMS)
    used, spare = codes[:N], codes[N:]
    cx, cy = _centre(session)
    best: dict[int, int] = {}
    t = today()
    for i, ((x, y), code) in enumerate(zip(_points(session, N, 7), used, strict=True)):
        people = 2 + i % 4

        def at(f: float) -> tuple[float, float]:
            return x + f * (cx - x), y + f * (cy - y)  # noqa: B023

        d = demand(session, x, y, item=code, people=people, title=f"需求{i}")
        other = next(s for s in spare if ITEMS[s].category != ITEMS[code].category)
        resource(session, *at(0.02), item=other, capacity=10, title=f"别类{i}")
        resource(
            session,
            *at(0.03),
            item=code,
            capacity=10,
            available_from=t + timedelta(days=31),
            available_until=t + timedelta(days=60),
            title=f"日期不合{i}",
        )
        resource(session, *at(0.04), item=code, capacity=people - 1, title=f"名额不足{i}")
        make_stale(session, "community_resource", resource(session, *at(0.05), item=code))
        retired = resource(session, *at(0.06), item=code, title=f"已下架{i}")
        service.review(session, SYSTEM, "resource", retired, Review(action="retire"))
        best[d] = resource(session, *at(0.10), item=code, capacity=people, title=f"最佳{i}")
        resource(session, *at(0.50), item=code, capacity=20, title=f"较远{i}")
    session.commit()
    return best


def _brute_force(session) -> dict[int, int]:
    """The nearest feasible resource of each open demand, by the rules written out again in
    Python, with distances on the WGS84 ellipsoid from pyproj (independent of PostGIS)."""
    t = today()
    dem = session.execute(
        text(
            "SELECT id, category, item_code, people, needed_from, needed_until, ST_X(geom) x,"
            " ST_Y(geom) y FROM community_demand WHERE status = 'open' AND valid_until >= :t"
            " AND street_code = :s"
        ),
        {"t": t, "s": COMMUNITY[:9]},
    ).all()
    res = session.execute(
        text(
            "SELECT id, category, item_code, capacity, available_from, available_until,"
            " ST_X(geom) x, ST_Y(geom) y FROM community_resource"
            " WHERE status = 'active' AND valid_until >= :t AND street_code = :s"
        ),
        {"t": t, "s": COMMUNITY[:9]},
    ).all()
    out = {}
    for d in dem:
        feasible = [
            (GEOD.inv(d.x, d.y, r.x, r.y)[2], r.id)
            for r in res
            if r.category == d.category
            and (r.item_code is None or d.item_code is None or r.item_code == d.item_code)
            and r.available_from <= d.needed_until
            and d.needed_from <= r.available_until
            and r.capacity >= d.people
        ]
        if feasible:
            out[d.id] = min(feasible)[1]
    return out


def test_every_demand_gets_its_best_feasible_resource(client, session, callers, world):
    resp = client.post(URL, json={}, headers=callers["street_staff"].headers)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["algorithm"] == "greedy-by-distance-with-capacity" and out["level"] == "street"
    got = {m["demand_id"]: m["resource_id"] for m in out["matches"]}
    assert got == world  # the construction's best, for every one of the N demands
    assert _brute_force(session) == world  # and the independent brute force agrees
    assert out["unmatched"] == [] and not out["committed"]
    # Nothing was written by a dry run.
    assert session.scalar(text("SELECT count(*) FROM service_plan")) == 0


def test_commit_makes_plans_and_a_second_run_finds_nothing_left(client, session, callers, world):
    headers = callers["community_staff"].headers
    resp = client.post(URL, json={"commit": True, "owner": "王社工"}, headers=headers)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["level"] == "community" and out["code"] == COMMUNITY
    assert all(m["plan_id"] for m in out["matches"]) and len(out["matches"]) == N
    plans = session.execute(
        text("SELECT demand_id, resource_id, owner, status FROM service_plan")
    ).all()
    assert {(p.demand_id, p.resource_id) for p in plans} == set(world.items())
    assert {(p.owner, p.status) for p in plans} == {("王社工", "active")}
    assert (
        session.scalar(text("SELECT count(*) FROM community_demand WHERE status = 'planned'")) == N
    )
    # Every best resource is full now, so no best is left idle; the far ones still are.
    again = client.post(URL, json={}, headers=headers).json()
    assert again["matches"] == [] and again["candidates"] == 0
    idle = {x["resource_id"] for x in again["idle"]}
    assert not idle & set(world.values()) and len(idle) >= N
    events = session.scalar(
        text("SELECT count(*) FROM community_list_event WHERE object_type = 'plan'")
    )
    audits = session.scalar(
        text("SELECT count(*) FROM audit_event WHERE action = 'service_plan.create'")
    )
    assert events == N and audits == N


def test_contested_capacity_goes_to_the_nearer_demand(client, session, callers, point):
    x, y = point
    near = demand(session, x, y, people=3)
    far = demand(session, x + 0.002, y, people=3)  # ~135 m east
    shared = resource(session, x + 0.0005, y, capacity=4)  # room for one of them
    second = resource(session, x + 0.004, y, capacity=3)
    alone = demand(session, x, y + 0.001, people=2, item="culture.01")  # nothing of its kind
    session.commit()
    out = client.post(
        URL, json={"community": COMMUNITY}, headers=callers["community_staff"].headers
    ).json()
    got = {m["demand_id"]: m["resource_id"] for m in out["matches"]}
    assert got[near] == shared and got[far] == second
    assert {u["demand_id"]: u["reason"] for u in out["unmatched"]} == {alone: "no_candidate"}


def test_capacity_taken_is_the_reason_when_nearer_demands_filled_it(
    client, session, callers, point
):
    x, y = point
    first = demand(session, x, y, people=2)
    second = demand(session, x + 0.001, y, people=2)
    only = resource(session, x + 0.0002, y, capacity=3)
    session.commit()
    out = client.post(URL, json={}, headers=callers["community_staff"].headers).json()
    assert [(m["demand_id"], m["resource_id"]) for m in out["matches"]] == [(first, only)]
    assert out["unmatched"][0]["demand_id"] == second
    assert out["unmatched"][0]["reason"] == "capacity_taken"


def test_stale_entries_are_flagged_and_left_out_until_renewed(client, session, callers, point):
    x, y = point
    d = demand(session, x, y)
    r = resource(session, x + 0.001, y)
    make_stale(session, "community_resource", r)
    session.commit()
    h = callers["community_staff"].headers
    assert client.post(URL, json={}, headers=h).json()["matches"] == []
    stale = client.get("/api/v1/lists/resources", params={"stale": True}, headers=h).json()
    assert [x["id"] for x in stale["resources"]] == [r] and stale["resources"][0]["stale"]
    overview = client.get("/api/v1/lists/overview", headers=h).json()
    mine = next(c for s in overview for c in s["communities"] if c["community_code"] == COMMUNITY)
    assert mine["stale_resources"] == 1 and [x["id"] for x in mine["unmatched_demands"]] == [d]
    past = client.post(
        f"/api/v1/lists/resources/{r}/review",
        json={"action": "renew", "valid_until": str(today() - timedelta(days=1))},
        headers=h,
    )
    assert past.status_code == 422
    renew = client.post(
        f"/api/v1/lists/resources/{r}/review",
        json={"action": "renew", "valid_until": str(today() + timedelta(days=30))},
        headers=h,
    )
    assert renew.status_code == 200 and not renew.json()["stale"]
    got = client.post(URL, json={}, headers=h).json()["matches"]
    assert [(m["demand_id"], m["resource_id"]) for m in got] == [(d, r)]


def test_matching_outside_the_scope_is_not_found(client, callers):
    resp = client.post(
        URL, json={"community": COMMUNITY}, headers=callers["other_community"].headers
    )
    assert resp.status_code == 404
    resp = client.post(URL, json={"street": COMMUNITY[:9]}, headers=callers["far_street"].headers)
    assert resp.status_code == 404
    assert client.post(URL, json={}, headers=callers["grid_worker"].headers).status_code == 403
    bad = client.post(URL, json={"commit": True}, headers=callers["community_staff"].headers)
    assert bad.status_code == 422 and "owner" in bad.json()["detail"]
