"""`reporter.resident_id` on a new case links the case to an archive: only one the filer may see.

The attack: an anonymous filer with an unknown id got a 500 (foreign key); any filer could link
a case to an archive in another cell (and so tie a stranger's archive to a story). An id outside
the caller's scope is answered exactly as an unknown one, so ids cannot be probed either.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.residents.conftest import make_caller, point_in, take_in
from tests.security.conftest import OTHER_CELL, OWN_CELL

URL = "/api/v1/cases"


def case_body(session: Session, resident_id: int) -> dict[str, Any]:
    lon, lat = point_in(session, OWN_CELL)
    return {
        "category": "medical",
        "description": "老人摔倒，需要上门",
        "lon": lon,
        "lat": lat,
        "reporter": {"name": "王秀英", "resident_id": resident_id},
    }


@pytest.fixture
def archives(session: Session) -> dict[str, int]:
    """One archive in OWN_CELL, one in OTHER_CELL, and an id that belongs to no archive."""
    own, other = (
        take_in(
            session,
            "grid_worker",
            [
                {
                    "name": name,
                    "phone": phone,
                    "lon": lon,
                    "lat": lat,
                    "crs": "wgs84",
                    "arrived_on": "2026-06-01",
                }
            ],
        )[0]
        for name, phone, (lon, lat) in (
            ("王秀英", "13812345678", point_in(session, OWN_CELL)),
            ("赵秀兰", "13912345678", point_in(session, OTHER_CELL)),
        )
    )
    unknown = session.scalar(text("SELECT coalesce(max(id), 0) + 1000 FROM resident"))
    session.commit()
    return {"own": own.resident_id, "other": other.resident_id, "unknown": unknown}


@pytest.fixture
def filers(session: Session) -> dict[str, Any]:
    out = {
        "grid_worker": make_caller(session, "link-grid", "grid_worker", cells=[OWN_CELL]),
        "dispatcher": make_caller(session, "link-dispatcher", "dispatcher"),
        "channel": make_caller(session, "link-police", "channel", channel="police"),
    }
    session.commit()
    return out


def test_an_anonymous_filer_with_an_unknown_resident_id_gets_a_422_not_a_500(
    client, session, archives
):
    response = client.post(URL, json=case_body(session, archives["unknown"]))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("reporter.resident_id: no resident")


@pytest.mark.parametrize("who", ["anonymous", "grid_worker", "dispatcher", "channel"])
def test_an_archive_outside_the_scope_is_answered_as_an_unknown_id(
    client, session, archives, filers, who
):
    headers = {} if who == "anonymous" else filers[who].headers
    cases_before = session.scalar(text("SELECT count(*) FROM cases"))
    unknown = client.post(URL, json=case_body(session, archives["unknown"]), headers=headers)
    other = client.post(URL, json=case_body(session, archives["other"]), headers=headers)
    assert (unknown.status_code, other.status_code) == (422, 422), other.text
    # Same words but for the id itself: nothing tells an existing archive from a missing one.
    assert other.json()["detail"].replace(str(archives["other"]), "N") == unknown.json()[
        "detail"
    ].replace(str(archives["unknown"]), "N")
    assert session.scalar(text("SELECT count(*) FROM cases")) == cases_before


def test_a_grid_worker_links_an_archive_in_their_own_cell(client, session, archives, filers):
    response = client.post(
        URL, json=case_body(session, archives["own"]), headers=filers["grid_worker"].headers
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["case"]["properties"]["id"]
    linked = session.scalar(text("SELECT resident_id FROM cases WHERE id = :i"), {"i": case_id})
    assert linked == archives["own"]
