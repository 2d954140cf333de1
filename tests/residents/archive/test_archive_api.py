"""The archive's routes: review queue and decision, departures, edit, split and merge."""

from __future__ import annotations

from datetime import timedelta

from geo.core import clock
from tests.residents.conftest import take_in
from tests.residents.ids import id_number


def test_review_departure_edit_split_merge_over_http(client, session, callers, here):
    grid = callers["grid_worker"].headers
    lon, lat = here["point"]
    for name, year in (("丁建国", 1950), ("丁志强", 1958)):
        take_in(
            session,
            "grid_worker",
            [{"name": name, "sex": "男", "birth_year": year, "address": here["address"]}],
        )
    (r,) = take_in(
        session, "courier", [{"name": "丁先生", "phone": "13100000001", "address": here["address"]}]
    )
    session.commit()
    queue = client.get("/api/v1/residents/review", headers=grid).json()["items"]
    assert [q["id"] for q in queue] == [r.report_id]
    assert all(c["resident"]["name"].startswith("丁") for c in queue[0]["candidates"])
    other = client.get("/api/v1/residents/review", headers=callers["far_grid"].headers)
    assert other.json()["items"] == []
    target = queue[0]["candidates"][0]["resident_id"]
    far = client.post(
        f"/api/v1/residents/review/{r.report_id}",
        json={"action": "link", "resident_id": target},
        headers=callers["far_grid"].headers,
    )
    assert far.status_code == 404
    done = client.post(
        f"/api/v1/residents/review/{r.report_id}",
        json={"action": "link", "resident_id": target},
        headers=grid,
    )
    assert done.status_code == 200 and done.json()["decision"] == "linked"
    again = client.post(
        f"/api/v1/residents/review/{r.report_id}", json={"action": "new"}, headers=grid
    )
    assert again.status_code == 409

    edit = client.patch(
        f"/api/v1/residents/{target}",
        json={"occupation": "退休教师", "tags": ["书法"]},
        headers=grid,
    )
    assert edit.status_code == 200, edit.text
    archive = client.get(f"/api/v1/residents/{target}", headers=grid).json()
    assert archive["occupation"] == "退休教师" and archive["tags"] == ["书法"]
    assert archive["phone"] == "131****0001"  # the courier's phone, linked by review
    assert {h["kind"] for h in archive["history"]} >= {"review_linked", "edited"}
    bad = client.patch(f"/api/v1/residents/{target}", json={"phone": "123"}, headers=grid)
    assert bad.status_code == 422

    everything = [x["id"] for x in archive["reports"]]
    split = client.post(
        f"/api/v1/residents/{target}/split", json={"report_ids": everything}, headers=grid
    )
    assert split.status_code == 422 and "at least one report" in split.text
    (o,) = take_in(
        session,
        "police",
        [
            {
                "name": "卢桂芝",
                "address": here["address2"],
                "id_number": id_number(birth="19520101", seq=124),
            }
        ],
    )
    assert o.decision == "new"
    session.commit()
    merged = client.post(
        f"/api/v1/residents/{target}/merge", json={"other_id": o.resident_id}, headers=grid
    )
    assert merged.status_code == 200, merged.text
    back = client.post(
        f"/api/v1/residents/{target}/split", json={"report_ids": [o.report_id]}, headers=grid
    )
    assert back.status_code == 200 and back.json()["new_resident_id"]

    today = clock.today()
    arrived = today - timedelta(days=40)
    (s,) = take_in(
        session,
        "grid_worker",
        [
            {
                "name": "丁秀英",
                "sex": "女",
                "phone": "13100000002",
                "lon": lon,
                "lat": lat,
                "arrived_on": arrived,
                "expected_departure": today - timedelta(days=3),
                "reported_at": f"{arrived}T09:00:00+08:00",
            }
        ],
        crs="wgs84",
    )
    session.commit()
    due = client.get("/api/v1/residents/departures", headers=grid).json()["items"]
    stay = next(d for d in due if d["resident_id"] == s.resident_id)
    future = client.post(
        f"/api/v1/stays/{stay['stay_id']}/departure",
        json={"departed_on": str(today + timedelta(days=1))},
        headers=grid,
    )
    assert future.status_code == 422
    ok = client.post(
        f"/api/v1/stays/{stay['stay_id']}/departure",
        json={"departed_on": str(today - timedelta(days=2))},
        headers=grid,
    )
    assert ok.status_code == 200
    due = client.get("/api/v1/residents/departures", headers=grid).json()["items"]
    assert s.resident_id not in {d["resident_id"] for d in due}
