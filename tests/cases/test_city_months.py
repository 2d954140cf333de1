"""KPI months are Yichun's: a case filed at 23:30 on the last day of a month counts in that month,
one filed at 00:30 in the next, whatever the zone of the host or of the database session."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from geo.core import clock
from tests.cases.conftest import CELL


@pytest.mark.parametrize(
    ("at", "month", "next_month"),
    [
        pytest.param(t, m, n, marks=pytest.mark.city_clock(t), id=t)
        for t, m, n in [
            ("2027-01-31T23:30", "2027-01", "2027-02"),
            ("2027-02-28T23:30", "2027-02", "2027-03"),
            ("2027-03-01T00:30", "2027-03", "2027-04"),  # 16:30 UTC on 28 February
            ("2027-04-30T23:30", "2027-04", "2027-05"),  # also the last day of season 2026
        ]
    ],
)
@pytest.mark.parametrize("session_zone", ["Etc/GMT-14", "Etc/GMT+12"])
def test_a_case_counts_in_the_city_month_it_was_filed(
    cases_client, session, callers, inside, at, month, next_month, session_zone
):
    session.execute(text(f"SET LOCAL TimeZone = '{session_zone}'"))  # a date either side of ours
    dispatcher = callers["dispatcher"].headers

    def per_month() -> dict[str, int]:
        answer = cases_client.get(
            "/api/v1/kpis", params={"group_by": "month", "cell": CELL}, headers=dispatcher
        )
        assert answer.status_code == 200, answer.text
        return {r["month"]: r["cases"] for r in answer.json()["rows"]}

    def in_month(m: str) -> int:
        answer = cases_client.get(
            "/api/v1/kpis", params={"cell": CELL, "from": m, "to": m}, headers=dispatcher
        )
        return sum(r["cases"] for r in answer.json()["rows"])

    before = per_month()
    body = {
        "category": "medical",
        "description": "老人摔倒，需要上门看诊",
        "lon": inside[0],
        "lat": inside[1],
        "reporter": {"name": "李建国", "phone": "13900001234"},
    }
    created = cases_client.post("/api/v1/cases", json=body, headers=callers["channel"].headers)
    assert created.status_code == 201, created.text
    reported = datetime.fromisoformat(created.json()["case"]["properties"]["reported_at"])
    assert clock.month_of(reported) == month
    after = per_month()
    assert after.get(month, 0) == before.get(month, 0) + 1
    assert after.get(next_month, 0) == before.get(next_month, 0)
    assert in_month(month) == after[month]  # the from/to filter uses the same month
