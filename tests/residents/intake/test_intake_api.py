"""`POST /api/v1/intake/reports` for every channel, and every bad report: per report outcomes."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import select

from geo.residents.models import IntakeReport, Resident, Stay
from geo.spatial.crs import Crs, from_wgs84
from tests.residents.conftest import CELL
from tests.residents.ids import bad_check_digit, id_number

URL = "/api/v1/intake/reports"


def post(client, caller, channel, reports, crs=None):
    body = {"channel": channel, "reports": reports}
    if crs:
        body["crs"] = crs
    return client.post(URL, json=body, headers=caller.headers)


@pytest.mark.city_clock("2026-07-15T10:00")  # during the season the reports' dates describe
def test_every_channel_reports_the_same_person_and_it_is_one_archive(
    client, session, callers, here
):
    lon, lat = here["point"]
    gx, gy = (float(v) for v in from_wgs84(lon, lat, Crs.gcj02))
    bx, by = (float(v) for v in from_wgs84(lon, lat, Crs.bd09))
    number = id_number()
    sent = [
        (
            "police",
            None,
            {
                "name": "王秀英",
                "id_number": number,
                "address": here["address"],
                "arrived_on": "2026-05-20",
                "housing_type": "租住",
            },
        ),
        (
            "grid_worker",
            "wgs84",
            {
                "name": "王秀英",
                "sex": "女",
                "phone": "13812345678",
                "birth_year": 1955,
                "origin": "广东广州",
                "lon": lon,
                "lat": lat,
                "occupation": "退休教师",
                "expected_departure": "2026-09-30",
            },
        ),
        ("courier", None, {"name": "王女士", "phone": "138-1234-5678", "address": here["address"]}),
        (
            "delivery_rider",
            "gcj02",
            {"name": "王阿姨", "phone": "13812345678", "lon": gx, "lat": gy},
        ),
        ("merchant", "bd09", {"name": "王秀英", "sex": "女", "age": 71, "lon": bx, "lat": by}),
        ("scenic_area", None, {"name": "王秀英", "id_number": number.lower()}),
    ]
    for channel, crs, report in sent:
        caller = callers["grid_worker" if channel == "grid_worker" else channel]
        response = post(client, caller, channel, [report], crs)
        assert response.status_code == 200, response.text
        outcome = response.json()["reports"][0]
        stored = session.get(IntakeReport, outcome["report_id"])
        assert stored.decision in ("new", "linked"), (channel, outcome)
        if channel != "grid_worker":  # a channel is told only that its report was received
            assert outcome["status"] == "received" and "decision" not in outcome
        assert "resident_id" not in outcome  # a channel learns nothing about archives
    ids = {x.resident_id for x in session.scalars(select(IntakeReport))}
    assert len(ids) == 1
    resident = session.get(Resident, ids.pop())
    assert resident.name == "王秀英" and resident.sex == "F" and resident.birth_year == 1955
    assert resident.id_number_masked == number[:6] + "********" + number[-4:]
    assert resident.phone_masked == "138****5678"
    assert resident.id_number_enc.startswith("v1:") and "13812345678" not in resident.phone_enc
    assert resident.origin_province == "广东省" and resident.cell_code == CELL
    stay = session.scalar(select(Stay).where(Stay.resident_id == resident.id))
    assert stay.cell_code == CELL and stay.precision == "point" and stay.housing_type == "rental"
    assert str(stay.arrived_on) == "2026-05-20"
    assert "age" not in resident.conflicts and "birth_year" not in resident.conflicts


def test_gcj02_is_converted_before_placing(client, session, callers, here):
    lon, lat = here["point"]
    gx, gy = (float(v) for v in from_wgs84(lon, lat, Crs.gcj02))
    right = post(
        client,
        callers["delivery_rider"],
        "delivery_rider",
        [{"name": "赵先生", "phone": "13900001111", "lon": gx, "lat": gy}],
        "gcj02",
    )
    assert right.json()["reports"][0]["placed"]["cell_code"] == CELL
    wrong = post(
        client,
        callers["delivery_rider"],
        "delivery_rider",
        [{"name": "赵先生", "phone": "13900001112", "lon": gx, "lat": gy}],
        "wgs84",
    )
    assert wrong.json()["reports"][0]["placed"]["cell_code"] != CELL  # ~580 m off


def test_one_report_or_a_batch_and_each_bad_report_says_why(client, callers, here):
    lon, lat = here["point"]
    good = {"name": "孙建华", "phone": "13700000001", "lon": lon, "lat": lat}
    single = client.post(
        URL,
        json={"channel": "grid_worker", "crs": "wgs84", "report": good},
        headers=callers["grid_worker"].headers,
    )
    assert single.status_code == 200 and single.json()["reports"][0]["decision"] == "new"
    bad = [
        {"name": "钱一", "id_number": bad_check_digit(id_number())},
        {"name": "钱二", "phone": "13700000002", "lon": math.nan, "lat": lat},
        {"name": "钱三", "phone": "13700000003", "lon": lon, "lat": lat, "crs": "mars"},
        {"name": "钱四", "phone": "12345"},
        {"name": "钱五", "phone": "13700000005", "lon": lon},
        {"phone": "13700000006", "address": here["address"]},
        {"name": "钱七", "phone": "13700000007", "address": "火星小区9号楼"},
        {"name": "钱八", "phone": "13700000008", "lon": 116.39, "lat": 39.9},
        {
            "name": "钱九",
            "phone": "13700000009",
            "address": here["address"],
            "arrived_on": "2026-06-01",
            "departed_on": "2026-05-01",
        },
        {"name": "钱十", "phone": "13700000010", "address": here["address"], "age": 150},
    ]
    body = json.dumps({"channel": "grid_worker", "crs": "wgs84", "reports": bad})  # NaN literal
    response = client.post(
        URL,
        content=body,
        headers={**callers["grid_worker"].headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    outcomes = response.json()["reports"]
    assert [o["decision"] for o in outcomes] == ["rejected"] * len(bad)
    reasons = [o["reason"] for o in outcomes]
    assert "check digit" in reasons[0]
    assert "finite" in reasons[1]
    assert "unknown crs 'mars'" in reasons[2]
    assert "mobile number" in reasons[3]
    assert "both lon" in reasons[4]
    assert "no name and no ID number" in reasons[5]
    assert "address not found" in reasons[6]
    assert "outside the covered area" in reasons[7]
    assert "before arrived_on" in reasons[8]
    assert "outside 0-120" in reasons[9]
    assert all(id_number()[:10] not in r for r in reasons)  # never repeats the number


def test_request_level_errors(client, callers):
    rider = callers["delivery_rider"]
    unknown = client.post(
        URL, json={"channel": "taxi", "reports": [{"name": "王"}]}, headers=rider.headers
    )
    assert unknown.status_code == 422 and "unknown channel" in unknown.json()["detail"]
    other = client.post(
        URL, json={"channel": "police", "reports": [{"name": "王五"}]}, headers=rider.headers
    )
    assert other.status_code == 422 and "reports for channel delivery_rider" in other.text
    crs = client.post(
        URL,
        json={"channel": "delivery_rider", "crs": "utm", "reports": [{}]},
        headers=rider.headers,
    )
    assert crs.status_code == 422 and "unknown crs" in crs.text
    both = client.post(URL, json={"channel": "delivery_rider"}, headers=rider.headers)
    assert both.status_code == 422
    extra = client.post(
        URL,
        json={"channel": "delivery_rider", "reports": [{"resident_id": 1}]},
        headers=rider.headers,
    )
    assert extra.status_code == 422  # no mass assignment
    assert client.post(URL, json={"channel": "grid_worker", "reports": [{}]}).status_code == 401
    planner = client.post(
        URL,
        json={"channel": "grid_worker", "reports": [{"name": "王"}]},
        headers=callers["planner"].headers,
    )
    assert planner.status_code == 403


def test_duplicates_in_a_batch_and_resent_external_ids(client, session, callers, here):
    report = {
        "name": "周明",
        "phone": "13600000001",
        "address": here["address"],
        "external_id": "order-1",
    }
    first = post(client, callers["courier"], "courier", [report, {**report, "external_id": None}])
    answers = [o["status"] for o in first.json()["reports"]]
    assert answers == ["received", "rejected"]
    decisions = [
        session.get(IntakeReport, o["report_id"]).decision for o in first.json()["reports"]
    ]
    assert decisions == ["new", "rejected"]
    assert "duplicate of report 0" in first.json()["reports"][1]["reason"]
    again = post(client, callers["courier"], "courier", [report])
    assert "already received" in again.json()["reports"][0]["reason"]


def test_a_channel_reads_back_only_its_own_reports(client, callers, here):
    post(
        client,
        callers["courier"],
        "courier",
        [{"name": "吴先生", "phone": "13600000002", "address": here["address"]}],
    )
    post(
        client,
        callers["police"],
        "police",
        [{"name": "吴建国", "id_number": id_number(seq=125), "address": here["address"]}],
    )
    mine = client.get(URL, headers=callers["courier"].headers).json()
    assert mine["total"] == 1 and mine["items"][0]["channel"] == "courier"
    assert mine["items"][0]["payload"]["phone"] == "136****0002"
    police_report = client.get(URL, headers=callers["police"].headers).json()["items"][0]["id"]
    hidden = client.get(f"{URL}/{police_report}", headers=callers["courier"].headers)
    assert hidden.status_code == 404
    grid = client.get(f"{URL}/{police_report}", headers=callers["grid_worker"].headers)
    assert grid.status_code == 200 and grid.json()["payload"]["id_number"].count("*") == 8
    far = client.get(f"{URL}/{police_report}", headers=callers["far_grid"].headers)
    assert far.status_code == 404
