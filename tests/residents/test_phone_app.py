"""The grid worker's phone app (/m/) over real HTTP, signed in as a browser is: the sign-in
cookie, and the page's CSRF token for changes. Each page and action; scope (another cell's
archive, stay or map is a 404); CSRF refusals; and the outbox's Idempotency-Key (a write sent
twice is written once, the first answer replayed)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from api.auth import MAP_COOKIE
from geo.core import clock
from maps.mobile import cn_day
from tests.residents.conftest import CELL, NEIGHBOUR, Caller, take_in

JSON = {"Accept": "application/json"}


def cookie(caller: Caller) -> dict[str, str]:
    """What a browser signed in at /maps/login sends: the access token as the map cookie."""
    token = caller.headers["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"{MAP_COOKIE}={token}"}


def csrf_of(client, caller: Caller) -> str:
    page = client.get("/m/", headers=cookie(caller))
    assert page.status_code == 200, page.text
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match, "the phone app's page carries no CSRF token"
    return match.group(1)


def post(client, caller: Caller, url: str, form: dict[str, Any], *, csrf: str | None, key=None):
    headers = {**cookie(caller), **JSON}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(url, data=form, headers=headers)


def count(session, sql: str, **params: Any) -> int:
    return int(session.scalar(text(sql), params) or 0)


def resident(session, here, name="韩秀珍", year=1950, **extra: Any) -> int:
    lon, lat = here["point"]
    report = {"name": name, "sex": "女", "birth_year": year, "phone": "13200000001"}
    report |= {"lon": lon, "lat": lat, "address": here["address"], **extra}
    if "arrived_on" in extra:  # reported on arrival, nothing since
        report["reported_at"] = extra["arrived_on"] + "T10:00:00+08:00"
    (o,) = take_in(session, "grid_worker", [report], crs="wgs84")
    session.commit()
    return int(o.resident_id)


@pytest.fixture
def worker(callers) -> Caller:
    return callers["grid_worker"]


def test_home_shows_my_cell_and_todays_work(client, session, worker, here):
    resident(session, here)
    due = clock.today() - timedelta(days=3)
    resident(
        session,
        here,
        name="马建国",
        year=1948,
        phone="13200000002",
        arrived_on=(due - timedelta(days=60)).isoformat(),
        expected_departure=due.isoformat(),
    )
    page = client.get("/m/", headers=cookie(worker))
    assert page.status_code == 200, page.text
    assert f'src="/m/map/{CELL}"' in page.text  # my cell's map, the existing builder
    assert cn_day(clock.today()) in page.text  # 2027年5月1日, the city's date
    assert re.search(r'id="n-present">2<', page.text)
    assert re.search(r'id="n-departures">1<', page.text)
    checks = client.get("/api/v1/health-checks", headers=worker.headers).json()["items"]
    due_checks = [c for c in checks if c["status"] is None]  # 65+ this season, not invited
    assert due_checks and re.search(rf'id="n-invitations">{len(due_checks)}<', page.text)
    assert "马**" in page.text and "马建国" not in page.text  # masked
    for path in ("/m/register", "/m/concerns", "/m/outbox", "/m/departures", f"/m/map/{CELL}"):
        r = client.get(path, headers=cookie(worker))
        assert r.status_code == 200, (path, r.text[:300])
    # Every field has a label (ids and for= agree).
    for path in ("/m/register", "/m/concerns", "/m/departures"):
        body = client.get(path, headers=cookie(worker)).text
        shown = re.findall(
            r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', body
        )
        labelled = set(re.findall(r'<label for="([^"]+)"', body))
        assert shown and set(shown) <= labelled, (path, set(shown) - labelled)
    sw = client.get("/m/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")


def test_pages_name_the_city_zone_the_outbox_writes_times_in(client, worker):
    """mobile.js formats the outbox's times in the zone the page names (defined once, in
    geo/core/clock.py); without it the phone's own zone would be used."""
    page = client.get("/m/outbox", headers=cookie(worker))
    assert page.status_code == 200, page.text
    assert f'data-city-zone="{clock.CITY_TZ_NAME}"' in page.text


def test_residents_search_archive_and_scope(client, session, callers, worker, here):
    rid = resident(session, here)
    listed = client.get("/m/residents", headers=cookie(worker))
    assert listed.status_code == 200 and "韩**" in listed.text and "韩秀珍" not in listed.text
    assert "13200000001" not in listed.text
    by_name = client.get("/m/residents", params={"q": "秀珍"}, headers=cookie(worker))
    assert f'href="/m/residents/{rid}"' in by_name.text
    building = re.search(r"(\d+)(栋|号楼)", here["address"])
    assert building, here["address"]
    by_building = client.get(
        "/m/residents", params={"building": building.group(0)}, headers=cookie(worker)
    )
    assert f'href="/m/residents/{rid}"' in by_building.text
    nobody = client.get("/m/residents", params={"q": "不存在的人"}, headers=cookie(worker))
    assert f'href="/m/residents/{rid}"' not in nobody.text
    archive = client.get(f"/m/residents/{rid}", headers=cookie(worker))
    assert archive.status_code == 200 and "居住记录" in archive.text and "网格员" in archive.text
    assert "132****0001" in archive.text
    # Another cell's grid worker edits the URL: 404, as a readable page for a browser.
    other = callers["neighbour_grid"]
    refused = client.get(f"/m/residents/{rid}", headers={**cookie(other), "Accept": "text/html"})
    assert refused.status_code == 404 and "韩" not in refused.text
    assert client.get(f"/m/map/{CELL}", headers=cookie(other)).status_code == 404
    # A browser without a sign-in is sent to sign in, and back.
    anonymous = client.get("/m/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/maps/login?next=/m/"
    # Not the phone app's role: refused.
    assert client.get("/m/", headers=cookie(callers["dispatcher"])).status_code == 403


def test_concern_needs_csrf_and_a_resent_key_writes_once(client, session, worker, here):
    lon, lat = here["point"]
    form = {"category": "medical", "text": "血压偏高，想找社区医生", "lon": lon, "lat": lat}
    form["crs"] = "wgs84"
    before = count(session, "SELECT count(*) FROM concern_entry")
    refused = post(client, worker, "/m/concerns", form, csrf=None, key="k-1")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    forged = post(client, worker, "/m/concerns", form, csrf="forged", key="k-1")
    assert forged.status_code == 403
    assert count(session, "SELECT count(*) FROM concern_entry") == before
    csrf = csrf_of(client, worker)
    first = post(client, worker, "/m/concerns", form, csrf=csrf, key="phone-key-0001")
    assert first.status_code == 201, first.text
    receipt = first.json()["receipt"]
    assert receipt["kind"] == "concern" and receipt["id"] and receipt["cell_code"] == CELL
    assert "看病就医" in receipt["label"]
    again = post(client, worker, "/m/concerns", form, csrf=csrf, key="phone-key-0001")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(session, "SELECT count(*) FROM concern_entry") == before + 1
    changed = post(
        client, worker, "/m/concerns", {**form, "text": "改了"}, csrf=csrf, key="phone-key-0001"
    )
    assert changed.status_code == 422 and "different request" in changed.json()["detail"]
    outside = post(
        client,
        worker,
        "/m/concerns",
        {**form, "lon": here["far_point"][0], "lat": here["far_point"][1]},
        csrf=csrf,
        key="phone-key-0002",
    )
    assert outside.status_code == 404
    nowhere = post(client, worker, "/m/concerns", {"category": "other", "text": "无处"}, csrf=csrf)
    assert nowhere.status_code == 422 and "resident_id" in nowhere.json()["detail"]
    # Turned into a case: twice with one key, one case.
    url = f"/m/concerns/{receipt['id']}/case"
    case = post(client, worker, url, {}, csrf=csrf, key="phone-key-0003")
    assert case.status_code == 201, case.text
    case_id = case.json()["receipt"]["id"]
    assert post(client, worker, url, {}, csrf=csrf, key="phone-key-0003").json() == case.json()
    assert count(session, "SELECT count(*) FROM cases WHERE id = :i", i=case_id) == 1
    listed = client.get("/m/concerns", headers=cookie(worker)).text
    assert f"已转事件 #{case_id}" in listed
    # Without JavaScript the form posts and comes back to the page.
    plain = client.post(
        "/m/concerns",
        data={**form, "text": "没有脚本的表单", "csrf_token": csrf},
        headers=cookie(worker),
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"].startswith("/m/concerns?sent=")


def test_register_by_gps_or_address_once_per_key(client, session, worker, here):
    csrf = csrf_of(client, worker)
    lon, lat = here["point"]
    form = {"name": "周玉兰", "sex": "女", "birth_year": "1955", "phone": "13300000003"}
    gps = {**form, "lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "crs": "wgs84"}
    captured = (clock.now() - timedelta(hours=5)).isoformat()
    first = post(
        client, worker, "/m/register", {**gps, "captured_at": captured}, csrf=csrf, key="reg-1"
    )
    assert first.status_code == 201, first.text
    receipt = first.json()["receipt"]
    assert receipt["kind"] == "report" and receipt["decision"] == "new"
    again = post(
        client, worker, "/m/register", {**gps, "captured_at": captured}, csrf=csrf, key="reg-1"
    )
    assert again.json() == first.json()
    assert count(session, "SELECT count(*) FROM intake_report WHERE id = :i", i=receipt["id"]) == 1
    assert count(session, "SELECT count(*) FROM resident WHERE name = '周玉兰'") == 1
    reported = session.scalar(
        text("SELECT reported_at FROM intake_report WHERE id = :i"), {"i": receipt["id"]}
    )
    assert abs((reported - clock.now()).total_seconds() + 5 * 3600) < 120  # captured, not sent
    # By address: the geocoder's answer is shown before saving.
    shown = client.get(
        "/m/register/geocode", params={"address": here["address2"]}, headers=cookie(worker)
    )
    assert shown.status_code == 200 and CELL in shown.text and "WGS84" in shown.text
    unknown = client.get(
        "/m/register/geocode", params={"address": "火星路1号"}, headers=cookie(worker)
    )
    assert "未能定位" in unknown.text
    by_address = post(
        client,
        worker,
        "/m/register",
        {"name": "钱学文", "birth_year": "1958", "address": here["address2"]},
        csrf=csrf,
        key="reg-2",
    )
    assert by_address.status_code == 201, by_address.text
    nowhere = post(client, worker, "/m/register", {"name": "无处"}, csrf=csrf, key="reg-3")
    assert nowhere.status_code == 422 and "位置" in nowhere.json()["detail"]


def test_departure_confirmed_once_and_not_across_cells(client, session, callers, worker, here):
    due = clock.today() - timedelta(days=3)
    rid = resident(
        session,
        here,
        name="马建国",
        arrived_on=(due - timedelta(days=60)).isoformat(),
        expected_departure=due.isoformat(),
    )
    stay_id = session.scalar(text("SELECT id FROM stay WHERE resident_id = :r"), {"r": rid})
    page = client.get("/m/departures", headers=cookie(worker))
    assert f'action="/m/stays/{stay_id}/departure"' in page.text
    url = f"/m/stays/{stay_id}/departure"
    other = callers["neighbour_grid"]
    theirs = post(client, other, url, {"departed_on": due.isoformat()}, csrf=csrf_of(client, other))
    assert theirs.status_code == 404
    csrf = csrf_of(client, worker)
    assert post(client, worker, url, {"departed_on": due.isoformat()}, csrf=None).status_code == 403
    bad = post(client, worker, url, {"departed_on": "昨天"}, csrf=csrf, key="dep-0")
    assert bad.status_code == 422 and "2026-11-30" in bad.json()["detail"]
    done = post(client, worker, url, {"departed_on": due.isoformat()}, csrf=csrf, key="dep-1")
    assert done.status_code == 201, done.text
    again = post(client, worker, url, {"departed_on": due.isoformat()}, csrf=csrf, key="dep-1")
    assert again.json() == done.json() and again.headers["Idempotent-Replayed"] == "true"
    departed = session.scalar(text("SELECT departed_on FROM stay WHERE id = :s"), {"s": stay_id})
    assert departed == due
    assert (
        count(
            session,
            "SELECT count(*) FROM resident_event WHERE resident_id = :r AND kind = 'departure_confirmed'",
            r=rid,
        )
        == 1
    )
    assert (
        f'action="/m/stays/{stay_id}/departure"'
        not in client.get("/m/departures", headers=cookie(worker)).text
    )
    assert NEIGHBOUR != CELL


def test_review_decided_with_the_evidence_shown(client, session, callers, worker, here):
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
    page = client.get("/m/reviews", headers=cookie(worker))
    assert page.status_code == 200 and f'id="review-{r.report_id}"' in page.text
    assert "丁建国" not in page.text and "丁**" in page.text  # candidates masked
    assert "131****0001" in page.text and "13100000001" not in page.text  # the evidence, masked
    targets = re.findall(r'name="resident_id" value="(\d+)"', page.text)
    assert len(targets) == 2
    url = f"/m/reviews/{r.report_id}"
    far = callers["far_grid"]
    assert post(client, far, url, {"action": "new"}, csrf=csrf_of(client, far)).status_code == 404
    csrf = csrf_of(client, worker)
    form = {"action": "link", "resident_id": targets[0]}
    done = post(client, worker, url, form, csrf=csrf, key="rev-1")
    assert done.status_code == 200, done.text
    assert done.json()["receipt"]["decision"] == "linked"
    assert post(client, worker, url, form, csrf=csrf, key="rev-1").json() == done.json()
    again = post(client, worker, url, {"action": "new"}, csrf=csrf, key="rev-2")
    assert again.status_code == 409  # decided once; a second decision says what happened
    assert f'id="review-{r.report_id}"' not in client.get("/m/reviews", headers=cookie(worker)).text
