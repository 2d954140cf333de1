"""Row-level security on cases, with the application's own filters out of the way: the queries
run as the application role (`houniao_app`) with the access layer's session settings."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geo.access.principal import Principal, apply_rls
from geo.cases import open311, queries, service
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.cases.scope import allow_public_ids
from geo.core.config import security_settings
from tests.cases.conftest import CELL


def _as_app(session, me: Principal) -> None:
    session.execute(text(f'SET LOCAL ROLE "{security_settings().db_role}"'))
    apply_rls(session, me)


def _visible(session, case_id: int) -> int:
    """Raw count, no application filter: only RLS decides."""
    return session.execute(
        text("SELECT count(*) FROM cases WHERE id = :i"), {"i": case_id}
    ).scalar()


@pytest.fixture
def case_id(new_case) -> int:
    return new_case("in_handling")["properties"]["id"]


@pytest.mark.parametrize(
    "who,seen",
    [
        ("dispatcher", 1),
        ("street_staff", 1),
        ("community_staff", 1),
        ("grid_worker", 1),
        ("channel", 1),
        ("other_grid", 0),
        ("other_channel", 0),
        ("department", 0),
        ("planner", 0),
        ("admin", 0),
        ("public", 0),
    ],
)
def test_rls_alone_limits_rows_per_role(session, callers, case_id, who, seen):
    _as_app(session, callers[who].principal)
    assert _visible(session, case_id) == seen
    events = session.execute(
        text("SELECT count(*) FROM case_event WHERE case_id = :i"), {"i": case_id}
    ).scalar()
    assert (events > 0) == bool(seen)


def test_department_sees_a_case_once_summoned(session, callers, case_id):
    d = callers["dispatcher"].principal
    service.transition(session, d, case_id, TransitionRequest(action="escalate"))
    service.transition(session, d, case_id, TransitionRequest(action="escalate"))
    service.transition(
        session, callers["street_staff"].principal, case_id, TransitionRequest(action="start")
    )
    service.transition(
        session, d, case_id, TransitionRequest(action="summon", departments=["health"])
    )
    _as_app(session, callers["department"].principal)  # 卫健委 = health by its short name
    assert _visible(session, case_id) == 1
    apply_rls(session, callers["other_department"].principal)
    assert _visible(session, case_id) == 0


def test_public_reads_only_the_ids_it_holds(session, callers, case_id):
    public_id = session.execute(
        text("SELECT public_id FROM cases WHERE id = :i"), {"i": case_id}
    ).scalar()
    _as_app(session, Principal.anonymous())
    assert session.execute(text("SELECT count(*) FROM cases")).scalar() == 0
    allow_public_ids(session, [public_id])
    assert session.execute(text("SELECT count(*) FROM cases")).scalar() == 1
    assert open311.get_request(session, public_id)["service_request_id"] == public_id


def test_the_whole_workflow_runs_as_the_application_role(session, callers, inside):
    gw = callers["grid_worker"].principal
    _as_app(session, gw)
    created = service.create_case(
        session,
        gw,
        CaseCreate(
            category="housing",
            description="暖气不热",
            lon=inside[0],
            lat=inside[1],
            reporter={"phone": "13712345678"},
        ),
    )
    cid = created["case"]["id"]
    for action in ("accept", "dispatch", "start"):
        service.transition(session, gw, cid, TransitionRequest(action=action))
    assert queries.get_case(session, gw, cid)["properties"]["status"] == "in_handling"
    assert [e["action"] for e in queries.timeline(session, gw, cid)][-1] == "start"
    # a public filer, through RLS: it may insert and read back its own case only
    apply_rls(session, Principal.anonymous())
    out = service.create_case(
        session,
        Principal.anonymous(),
        CaseCreate(category="transport", description="公交站牌损坏", lon=inside[0], lat=inside[1]),
    )
    assert out["case"]["status"] == "open" and out["possible_duplicates"] == []
    assert _visible(session, cid) == 0


def test_app_role_cannot_rewrite_history_or_the_catalogue(session, callers, case_id):
    _as_app(session, callers["dispatcher"].principal)
    for sql in (
        "UPDATE case_event SET note = 'x' WHERE case_id = :i",
        "UPDATE case_category SET name_zh = 'x'",
        "DELETE FROM cases WHERE id = :i",
    ):
        with pytest.raises(Exception, match="permission denied"), session.begin_nested():
            session.execute(text(sql), {"i": case_id})


def test_planner_gets_aggregates_but_no_rows(session, callers, case_id):
    _as_app(session, callers["planner"].principal)
    assert _visible(session, case_id) == 0
    facts = session.execute(
        text("SELECT count(*) FROM case_kpi_facts() WHERE cell_code = :c"), {"c": CELL}
    ).scalar()
    assert facts >= 1
    cols = session.execute(text("SELECT * FROM case_kpi_facts() LIMIT 1")).keys()
    assert not {"description", "reporter_name", "reporter_phone_enc", "geom"} & set(cols)


@pytest.fixture
def app_role_client(session, callers, cases_client):
    """HTTP through the app as the application role: RLS decides, as in production."""
    session.commit()
    session.get_bind().exec_driver_sql(f'SET LOCAL ROLE "{security_settings().db_role}"')
    return cases_client


def test_http_paths_hold_under_rls(app_role_client, callers, inside):
    c = app_role_client
    filed = c.post(
        "/open311/v2/requests.json",
        data={
            "service_code": "tourism",
            "lat": inside[1],
            "long": inside[0],
            "description": "景区预约",
        },
    )
    assert filed.status_code == 201, filed.text
    rid = filed.json()[0]["service_request_id"]
    # another caller's request leaves its settings in this (shared, test) transaction: the
    # anonymous read below must set its own
    assert c.get("/api/v1/cases", headers=callers["other_grid"].headers).status_code == 200
    (req,) = c.get(f"/open311/v2/requests/{rid}.json").json()
    assert req["service_request_id"] == rid and req["status"] == "open"
    assert [
        r["service_request_id"]
        for r in c.get("/open311/v2/requests.json", params={"service_request_id": rid}).json()
    ] == [rid]
    anon = c.post(
        "/api/v1/cases",
        json={"category": "other", "description": "匿名上报", "lon": inside[0], "lat": inside[1]},
    )
    assert anon.status_code == 201, anon.text
    gw = callers["grid_worker"].headers
    mine = c.post(
        "/api/v1/cases",
        json={
            "category": "medical",
            "description": "网格员上报",
            "lon": inside[0],
            "lat": inside[1],
        },
        headers=gw,
    )
    assert mine.status_code == 201, mine.text
    cid, tag = mine.json()["case"]["id"], mine.headers["ETag"]
    for action in ("accept", "dispatch", "start"):
        r = c.post(
            f"/api/v1/cases/{cid}/transitions",
            json={"action": action},
            headers={**gw, "If-Match": tag},
        )
        assert r.status_code == 200, r.text
        tag = r.headers["ETag"]
    ids = {f["id"] for f in c.get("/api/v1/cases/open.geojson", headers=gw).json()["features"]}
    assert cid in ids
    other = c.get("/api/v1/cases/open.geojson", headers=callers["other_grid"].headers).json()
    assert cid not in {f["id"] for f in other["features"]}
    kpis = c.get("/api/v1/kpis", headers=callers["planner"].headers)
    assert kpis.status_code == 200 and kpis.json()["rows"]
