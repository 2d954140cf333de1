"""民情记录本 (concern log) and the 65+ health check, through the API."""

from __future__ import annotations

from geo.core import clock
from tests.residents.conftest import CELL, take_in


def resident(session, here, name="韩秀珍", year=1950):
    lon, lat = here["point"]
    (o,) = take_in(
        session,
        "grid_worker",
        [
            {
                "name": name,
                "sex": "女",
                "birth_year": year,
                "phone": "13200000001",
                "lon": lon,
                "lat": lat,
            }
        ],
        crs="wgs84",
    )
    session.commit()
    return o.resident_id


def test_concern_log_entry_follow_up_and_case(client, session, callers, here):
    rid = resident(session, here)
    grid = callers["grid_worker"].headers
    created = client.post(
        "/api/v1/concerns",
        json={"resident_id": rid, "category": "medical", "text": "血压偏高，想找社区医生"},
        headers=grid,
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["cell_code"] == CELL and entry["category_label"] == "看病就医"
    place = client.post(
        "/api/v1/concerns",
        json={"category": "dispute", "text": "楼上装修噪音大", "address": here["address2"]},
        headers=grid,
    )
    assert place.status_code == 201
    far = client.post(
        "/api/v1/concerns",
        json={
            "category": "other",
            "text": "别人的格子",
            "lon": here["far_point"][0],
            "lat": here["far_point"][1],
        },
        headers=grid,
    )
    assert far.status_code == 404
    bad = client.post("/api/v1/concerns", json={"category": "weather", "text": "冷"}, headers=grid)
    assert bad.status_code == 422
    listed = client.get("/api/v1/concerns", headers=grid).json()
    assert listed["total"] == 2
    assert (
        client.get("/api/v1/concerns", headers=callers["neighbour_grid"].headers).json()["total"]
        == 0
    )
    url = f"/api/v1/concerns/{entry['id']}"
    follow = client.patch(
        url, json={"follow_up": "已联系医生", "status": "following"}, headers=grid
    )
    assert follow.json()["status"] == "following"
    case = client.post(f"{url}/case", json={}, headers=grid)
    assert case.status_code == 201, case.text
    assert case.json()["entry"]["status"] == "case" and case.json()["entry"]["case_id"]
    again = client.post(f"{url}/case", json={}, headers=grid)
    assert again.status_code == 409
    frozen = client.patch(url, json={"status": "resolved"}, headers=grid)
    assert frozen.status_code == 409
    other = client.get(url, headers=callers["neighbour_grid"].headers)
    assert other.status_code == 404
    assert client.get("/api/v1/concerns", headers=callers["dispatcher"].headers).status_code == 403


def test_health_checks_for_65_plus_participation_only(client, session, callers, here):
    old = resident(session, here, "韩玉华", 1950)
    young = resident(session, here, "韩小红", 1975)
    grid = callers["grid_worker"].headers
    listed = client.get("/api/v1/health-checks", headers=grid).json()
    assert [i["id"] for i in listed["items"]] == [old]
    assert listed["summary"] == [
        {"code": CELL, "eligible": 1, "invited": 0, "booked": 0, "done": 0, "declined": 0}
    ]
    season, today = clock.current_season(), str(clock.today())
    url = f"/api/v1/health-checks/{old}/{season}"
    assert (
        client.put(url, json={"status": "invited", "invited_on": today}, headers=grid).status_code
        == 200
    )
    booked = client.put(url, json={"status": "booked"}, headers=grid)
    assert booked.status_code == 422  # booked needs a date
    done = client.put(url, json={"status": "done", "done_on": today}, headers=grid)
    assert done.json()["status"] == "done" and done.json()["invited_on"] == today
    results = client.put(
        url,
        json={"status": "done", "done_on": today, "blood_pressure": "150/95"},
        headers=grid,
    )
    assert results.status_code == 422  # no medical results, not even by accident
    too_young = client.put(
        f"/api/v1/health-checks/{young}/{season}", json={"status": "invited"}, headers=grid
    )
    assert too_young.status_code == 422
    other = client.put(url, json={"status": "invited"}, headers=callers["neighbour_grid"].headers)
    assert other.status_code == 404
    summary = client.get("/api/v1/health-checks", headers=callers["community_staff"].headers)
    assert summary.json()["summary"][0]["done"] == 1
