"""Planners' figures of community services over real HTTP (/api/v1/planning/services/...):
service requests per community and category (count, fulfilled share, median hours, mean
rating), bookings and visits per space and day, health-check participation per community.
Small counts are suppressed, no published sum gives one away, statistics need `threshold`
values; planners only (a grid worker or community staff: 403); the same from the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from geo.access.principal import Principal, as_system
from geo.bookings import health
from geo.bookings.schemas import BookingTransition
from geo.core.clock import as_city, city_date, current_season, db_now, season_of
from geo.spatial.boundaries.releases import active_release_id
from tests.api.test_cli import run  # noqa: F401  (the fixture)
from tests.bookings.conftest import World, make_world
from tests.bookings.residents import make_resident
from tests.cases.conftest import CELL, FAR_STREET_CELL_SQL, make_caller

BASE = "/api/v1/planning/services"
K = 10  # HOUNIAO_MAP_DISCLOSURE_THRESHOLD in the tests


@pytest.fixture
def callers(session):
    out = {
        "planner": make_caller(session, "sf-planner", "planner"),
        "grid_worker": make_caller(session, "sf-grid", "grid_worker", cells=[CELL]),
        "community_staff": make_caller(
            session, "sf-community", "community_staff", community_code=CELL[:12]
        ),
    }
    session.commit()
    return out


def _requests(session, cell: str, item: str, n: int, fulfilled_hours: list[float], ratings):
    """n requests made an hour ago in `cell`'s community; the first ones fulfilled after the
    given hours, rated in turn."""
    as_system(session)
    now = db_now(session)
    area = session.execute(text("SELECT id FROM service_area ORDER BY id LIMIT 1")).scalar_one()
    rid = active_release_id(session)
    for i in range(n):
        at = now - timedelta(hours=1)
        done = at + timedelta(hours=fulfilled_hours[i]) if i < len(fulfilled_hours) else None
        rating = ratings[i] if done and i < len(ratings) else None
        session.execute(
            text(
                "INSERT INTO service_request (public_id, item_code, status, geom, cell_code,"
                " community_code, release_id, area_id, area_community_code, area_street_code,"
                " distance_m, created_by, created_by_role, requested_at, due_at, fulfilled_at,"
                " rating) VALUES (:p, :item, :status, ST_SetSRID(ST_MakePoint(128.9, 47.7), 4326),"
                " :cell, :community, :rid, :area, :community, :street, 100, 'sf-test', 'public',"
                " :at, :at + interval '48 hours', :done, :rating)"
            ),
            {
                "p": f"SF{cell[-6:]}{i:04d}",
                "item": item,
                "status": ("rated" if rating else "fulfilled") if done else "submitted",
                "cell": cell,
                "community": cell[:12],
                "street": cell[:9],
                "rid": rid,
                "area": area,
                "at": at,
                "done": done,
                "rating": rating,
            },
        )


def _row(rows, community=None, category=None, item=None):
    found = [
        r
        for r in rows
        if r["community_code"] == community and r["category"] == category and r["item_code"] == item
    ]
    assert len(found) == 1, (community, category, item, rows)
    return found[0]


def test_requests_per_community_and_category_suppressed(client, session, callers):
    far = session.execute(text(FAR_STREET_CELL_SQL), {"street": CELL[:9]}).scalar_one()
    third = session.execute(
        text(
            "SELECT code FROM grid_cell WHERE left(code, 12) NOT IN (:a, :b) ORDER BY code LIMIT 1"
        ),
        {"a": CELL[:12], "b": far[:12]},
    ).scalar_one()
    hours = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    _requests(session, CELL, "health.04", 20, hours, [5, 4] * 5)  # 20, 10 fulfilled, 10 rated
    _requests(session, far, "culture.01", 3, [1, 1, 1], [5, 5, 5])  # a small community
    _requests(session, third, "culture.01", 11, [3], [2])
    session.commit()
    me = callers["planner"]
    season = current_season()
    body = client.get(BASE + "/requests", params={"season": season}, headers=me.headers)
    assert body.status_code == 200, body.text
    out = body.json()
    assert out["threshold"] == K and out["season"] == season and out["month"] is None
    mine = _row(out["rows"], CELL[:12])
    assert mine["requests"] == 20 and mine["fulfilled"] == 10
    assert mine["fulfilled_share"] == 0.5
    assert mine["median_hours_to_fulfil"] == 11.0 and mine["mean_rating"] == 4.5
    health_row = _row(out["rows"], CELL[:12], "health")
    assert health_row["requests"] == 20 and health_row["category_label"] == "医疗健康"
    small = _row(out["rows"], far[:12])
    assert small["requests"] is None and small["mean_rating"] is None
    # No sum gives the small community away: the culture total minus the visible parts.
    culture_city = _row(out["rows"], None, "culture")["requests"]
    parts = [_row(out["rows"], c[:12], "culture")["requests"] for c in (far, third)]
    assert culture_city is None or parts.count(None) >= 2
    item = _row(out["rows"], None, "health", "health.04")
    assert item["requests"] == 20 and item["item_name"] == "就医指引"
    assert _row(out["rows"], third[:12])["median_hours_to_fulfil"] is None  # one fulfilled

    month = city_date(db_now(session) - timedelta(hours=1)).isoformat()[:7]
    monthly = client.get(BASE + "/requests", params={"month": month}, headers=me.headers).json()
    assert monthly["month"] == month and _row(monthly["rows"], CELL[:12])["requests"] == 20
    assert all(r["category"] is None for r in monthly["rows"] if r["community_code"])


def _room(session, world_space: str, start: datetime, party: int, code: str) -> None:
    session.execute(
        text(
            "INSERT INTO space_booking (public_id, kind, space_id, community_code, street_code,"
            " during, starts_at, status, purpose, party_size, created_by, created_by_role,"
            " booked_at) SELECT :p, 'room', id, community_code, street_code,"
            " tstzrange(:a, :b), :a, 'attended', uses[1], :n, 'sf-test', 'system', :a"
            " FROM activity_space WHERE code = :s"
        ),
        {"p": code, "a": start, "b": start + timedelta(hours=1), "n": party, "s": world_space},
    )


def test_visits_per_space_and_day_suppressed(client, session, callers):
    world: World = make_world(session, "V")
    at = as_city(datetime.combine(world.day, datetime.min.time()))
    _room(session, world.forest, at.replace(hour=8), 30, "SFV0001")
    _room(session, world.dance, at.replace(hour=8), 2, "SFV0002")
    _room(session, world.far, at.replace(hour=8), 25, "SFV0003")
    session.commit()
    month = world.day.isoformat()[:7]
    out = client.get(BASE + "/visits", params={"month": month}, headers=callers["planner"].headers)
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["period"] == "day" and body["threshold"] == K
    day = {r["space_code"]: r for r in body["rows"] if r["period"] == world.day.isoformat()}
    assert day[world.forest]["visits"] == 30
    assert day[world.dance]["visits"] is None  # 2 people
    assert day[world.far]["visits"] is None  # its complement: else 57 - 30 - 25 = 2
    assert day[None]["visits"] == 57 and day[world.forest]["bookings"] is None  # 1 booking
    season = client.get(
        BASE + "/visits",
        params={"season": season_of(world.day)},
        headers=callers["planner"].headers,
    ).json()
    assert season["period"] == "month"
    months = {(r["period"], r["space_code"]): r for r in season["rows"]}
    assert (
        months[month, world.forest]["visits"] == 30 and months[month, world.dance]["visits"] is None
    )
    totals = {r["space_code"]: r for r in season["totals"]}
    assert totals[world.forest]["period"] == "season" and totals[world.forest]["visits"] == 30


def test_health_participation_per_community_suppressed(client, session, callers):
    as_system(session)
    area = session.execute(text("SELECT id FROM service_area ORDER BY id LIMIT 1")).scalar_one()
    centre = health.create_centre(
        session, Principal.system(), code="TJSF", name="统计体检点", area_id=area, daily_capacity=20
    )
    day = city_date(db_now(session)) + timedelta(days=2)
    health.open_days(session, centre, [day])
    staff = Principal(role="community_staff", name="sf-health", community=CELL[:12])
    codes = [
        health.invite(
            session, staff, make_resident(session, f"统计老人{i:02d}", current_season() - 70, CELL)
        )["public_id"]
        for i in range(12)
    ]
    for code in codes[:3]:
        health.transition(
            session,
            Principal.anonymous(),
            public_id=code,
            req=BookingTransition(action="book", centre="TJSF", day=day),
        )
    session.commit()
    me = callers["planner"].headers
    out = client.get(BASE + "/health-checks", params={"season": current_season()}, headers=me)
    assert out.status_code == 200, out.text
    rows = {r["community_code"]: r for r in out.json()["rows"]}
    mine = rows[CELL[:12]]
    assert mine["invited"] == 12
    assert mine["booked"] is None and mine["awaiting"] is None  # 3
    assert mine["not_booked"] is None  # 9, and 12 - 9 would give the 3
    assert mine["attended"] == 0 and mine["missed"] == 0
    assert rows[None]["invited"] == 12
    per_month = client.get(BASE + "/health-checks", params={"month": "2027-05"}, headers=me)
    assert per_month.status_code == 422 and "per season" in per_month.json()["detail"]


@pytest.mark.parametrize("path", ["/requests", "/visits", "/health-checks"])
def test_only_planners_read_service_figures(client, callers, path):
    for role in ("grid_worker", "community_staff"):
        refused = client.get(BASE + path, headers=callers[role].headers)
        assert refused.status_code == 403, (role, refused.text)
    assert client.get(BASE + path).status_code == 401
    assert client.get(BASE + path, headers=callers["planner"].headers).status_code == 200
    ranged = client.get(
        BASE + path, params={"season_from": 2024}, headers=callers["planner"].headers
    )
    assert ranged.status_code == 422 and "ranges" in ranged.json()["detail"]


def test_service_figures_from_the_command_line(run) -> None:  # noqa: ANN001, F811
    out = run("planning", "services", "--season", "2024")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["season"] == 2024 and body["threshold"] == K
    assert [r["requests"] for r in body["rows"]] == [0]  # the city's total, nobody asked
    visits = run("planning", "visits", "--month", "2024-07")
    assert visits.returncode == 0, visits.stderr
    assert json.loads(visits.stdout)["period"] == "day"
    checks = run("planning", "health-checks", "--season", "2024")
    assert checks.returncode == 0 and json.loads(checks.stdout)["rows"][0]["invited"] == 0
    bad = run("planning", "services", "--month", "2024-13")
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr
