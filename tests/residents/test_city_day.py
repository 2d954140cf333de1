"""Yichun's date everywhere: between 00:00 and 08:00 Beijing time the UTC date is yesterday, and
at a season's turn (1 May) or a year's, every path must agree on the city's day and season.

Each test runs at fixed city times (`city_clock` moves Python's and the session's SQL clock)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from geo.core import clock
from geo.privacy import retention
from geo.residents.models import Stay
from geo.spatial import cellview
from tests.residents.conftest import CELL, SYSTEM, take_in

SUMMER = ["2027-07-15T00:30", "2027-07-15T07:30", "2027-07-15T23:30"]


def at_city_times(*times: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        "at", [pytest.param(t, marks=pytest.mark.city_clock(t), id=t) for t in times]
    )


def _report(client, headers, here, **fields):
    lon, lat = here["point"]
    body = {
        "channel": "grid_worker",
        "crs": "wgs84",
        "report": {"sex": "女", "birth_year": 1951, "lon": lon, "lat": lat, **fields},
    }
    answer = client.post("/api/v1/intake/reports", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["reports"][0]


def _present_in_cell(client, headers) -> int:
    cells = client.get("/api/v1/residents/counts", headers=headers).json()["cells"]
    return sum(r["present"] for r in cells if r["cell_code"] == CELL)


@at_city_times(*SUMMER)
def test_a_resident_reported_today_is_present_on_the_map_in_the_list_and_the_counts(
    client, session, callers, here, at
):
    grid = callers["grid_worker"]
    today = clock.today()
    assert today == date(2027, 7, 15)
    before = _present_in_cell(client, grid.headers)
    out = _report(
        client, grid.headers, here, name="鲁秀云", phone="13712345678", arrived_on=str(today)
    )
    assert out["decision"] == "new"
    listed = client.get("/api/v1/residents", params={"q": "鲁秀云"}, headers=grid.headers).json()
    (item,) = listed["items"]
    assert (listed["on"], item["stay"]["state"]) == (str(today), "present")
    on_map = cellview.cell_view(session, grid.principal, CELL)["residents"]["features"]
    assert item["id"] in {f["id"] for f in on_map}  # the grid worker's map: present, not arriving
    assert _present_in_cell(client, grid.headers) == before + 1


def _csv(here, departed: date) -> bytes:
    lon, lat = here["point2"]
    rows = [
        "姓名,性别,出生年份,手机号,经度,纬度,坐标系,入住日期,离开日期",
        f"鲁建业,男,1950,13712340002,{lon},{lat},WGS84,{departed - timedelta(days=30)},{departed}",
    ]
    return "\n".join(rows).encode()


@at_city_times("2027-07-15T07:30", "2027-07-15T23:30")
def test_a_departure_dated_today_is_accepted_and_tomorrow_refused_on_every_path(
    client, session, callers, here, at
):
    today = clock.today()
    tomorrow = today + timedelta(days=1)
    grid, staff = callers["grid_worker"].headers, callers["community_staff"].headers
    lon, lat = here["point"]
    arrived = today - timedelta(days=30)
    (o,) = take_in(
        session,
        "grid_worker",
        [
            {
                "name": "鲁建国",
                "sex": "男",
                "birth_year": 1950,
                "phone": "13712340001",
                "lon": lon,
                "lat": lat,
                "arrived_on": arrived,
                "reported_at": f"{arrived}T09:00:00+08:00",
            }
        ],
        crs="wgs84",
    )
    session.commit()
    stay_id = session.scalar(select(Stay.id).where(Stay.resident_id == o.resident_id))

    def intake(day: date) -> bool:
        out = _report(
            client,
            grid,
            here,
            name="鲁桂英",
            phone="13712340003",
            arrived_on=str(arrived),
            departed_on=str(day),
        )
        return out["decision"] != "rejected"

    def upload(day: date) -> bool:
        files = {"file": ("list.csv", _csv(here, day), "text/csv")}
        answer = client.post(
            "/api/v1/residents/import", files=files, data={"channel": "grid_worker"}, headers=staff
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["counts"]["rejected"] == 0

    def confirm(day: date) -> bool:
        answer = client.post(
            f"/api/v1/stays/{stay_id}/departure", json={"departed_on": str(day)}, headers=grid
        )
        assert answer.status_code in (200, 422), answer.text
        return answer.status_code == 200

    for path in (intake, upload, confirm):
        assert not path(tomorrow), f"{path.__name__} took a departure dated tomorrow"
    for path in (intake, upload, confirm):
        assert path(today), f"{path.__name__} refused a departure dated today"


@pytest.mark.parametrize(
    ("at", "season"),
    [
        pytest.param(t, s, marks=pytest.mark.city_clock(t), id=t)
        for t, s in [
            ("2027-04-30T23:30", 2026),
            ("2027-05-01T00:30", 2027),  # 16:30 UTC on 30 April
            ("2027-05-01T07:30", 2027),
            ("2026-12-31T23:30", 2026),
            ("2027-01-01T00:30", 2026),  # a new year, the same season
        ]
    ],
)
def test_the_season_turns_on_1_may_in_yichun_on_every_path(
    client, session, callers, here, at, season
):
    assert clock.current_season() == season
    grid = callers["grid_worker"].headers
    out = _report(client, grid, here, name="鲁淑珍", phone="13712340004")
    assert out["decision"] == "new"
    (item,) = client.get("/api/v1/residents", params={"q": "鲁淑珍"}, headers=grid).json()["items"]
    assert item["stay"]["season"] == season
    checks = client.get("/api/v1/health-checks", headers=grid).json()
    assert checks["season"] == season
    density = client.get("/api/v1/residents/density", headers=callers["planner"].headers).json()
    assert density["season"] == season  # the default window: the current season
    purge = retention.purge(session, SYSTEM, seasons=3, dry_run=True)
    assert purge["cutoff"] == f"{season - 2}-05-01"
