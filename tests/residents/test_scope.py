"""Who sees what: grid workers their cells, staff their community or street, dispatchers counts
per cell, planners suppressed aggregates, channels nothing of archives - in the query (404
outside the scope) and again in the database (row-level security as the application role)."""

from __future__ import annotations

from sqlalchemy import select, text

from geo.access.principal import apply_rls
from geo.audit.models import AuditEvent
from geo.residents.models import Resident
from tests.residents.conftest import CELL, FAR, NEIGHBOUR, take_in
from tests.security.conftest import APP_ROLE, principal


def people(session, here):
    lon, lat = here["point"]
    ids = {}
    for name, phone, where in [
        ("钟秀英", "13300000001", {"lon": lon, "lat": lat}),
        ("钟建国", "13300000002", {"address": here["address2"]}),
        (
            "谭玉兰",
            "13300000003",
            {"lon": here["neighbour_point"][0], "lat": here["neighbour_point"][1]},
        ),
        ("姚春生", "13300000004", {"lon": here["far_point"][0], "lat": here["far_point"][1]}),
    ]:
        (o,) = take_in(
            session,
            "grid_worker",
            [{"name": name, "phone": phone, "birth_year": 1950, **where}],
            crs="wgs84",
        )
        ids[name] = o.resident_id
    session.commit()
    return ids


def names(client, caller, **params):
    r = client.get("/api/v1/residents", params=params, headers=caller.headers)
    assert r.status_code == 200, r.text
    return {i["name"] for i in r.json()["items"]}


def test_person_roles_see_their_scope_masked(client, session, callers, here):
    ids = people(session, here)
    assert names(client, callers["grid_worker"]) == {"钟秀英", "钟建国"}
    assert names(client, callers["neighbour_grid"]) == {"谭玉兰"}
    assert names(client, callers["community_staff"]) == {"钟秀英", "钟建国", "谭玉兰"}
    assert names(client, callers["street_staff"]) == {"钟秀英", "钟建国", "谭玉兰"}
    assert names(client, callers["far_community"]) == {"姚春生"}
    body = client.get("/api/v1/residents", headers=callers["grid_worker"].headers).text
    assert "133****0001" in body and "13300000001" not in body
    own = client.get(f"/api/v1/residents/{ids['钟秀英']}", headers=callers["grid_worker"].headers)
    assert own.status_code == 200 and own.json()["stays"][0]["cell_code"] == CELL
    for who, name in [
        ("grid_worker", "姚春生"),
        ("neighbour_grid", "钟秀英"),
        ("far_community", "谭玉兰"),
    ]:
        r = client.get(f"/api/v1/residents/{ids[name]}", headers=callers[who].headers)
        assert r.status_code == 404 and name not in r.text
    merge = client.post(
        f"/api/v1/residents/{ids['钟秀英']}/merge",
        json={"other_id": ids["姚春生"]},
        headers=callers["grid_worker"].headers,
    )
    assert merge.status_code == 404
    session.commit()
    reads = session.scalars(
        select(AuditEvent.object_ids).where(AuditEvent.action == "resident.read")
    ).all()
    assert [str(ids["钟秀英"])] in reads


def test_other_roles_see_no_person(client, session, callers, here):
    people(session, here)
    for role in ("dispatcher", "planner", "admin", "courier"):
        assert client.get("/api/v1/residents", headers=callers[role].headers).status_code == 403
    counts = client.get("/api/v1/residents/counts", headers=callers["dispatcher"].headers)
    assert counts.status_code == 200
    by_cell = {c["cell_code"]: c["present"] for c in counts.json()["cells"]}
    assert by_cell[CELL] == 2 and by_cell[NEIGHBOUR] == 1 and by_cell[FAR] == 1
    assert "钟" not in counts.text and "133" not in counts.text
    mine = client.get("/api/v1/residents/counts", headers=callers["grid_worker"].headers).json()
    assert {c["cell_code"] for c in mine["cells"]} == {CELL}
    density = client.get("/api/v1/residents/density", headers=callers["planner"].headers)
    assert density.status_code == 200
    rows = density.json()["rows"]
    assert rows and all(r["residents"] in (None, 0) for r in rows)  # nobody: 0 (issue 11)
    lived = {r["cell_code"] for r in rows if r["residents"] is None}  # 1-2 per cell: suppressed
    assert {CELL, NEIGHBOUR, FAR} <= lived
    assert "钟" not in density.text and "lon" not in density.text
    assert (
        client.get("/api/v1/residents/density", headers=callers["grid_worker"].headers).status_code
        == 403
    )
    origins = client.get("/api/v1/residents/origins", headers=callers["planner"].headers).json()
    assert all(r["residents"] is None for r in origins["rows"])


def test_reveal_needs_a_purpose_and_is_audited(client, session, callers, here):
    ids = people(session, here)
    url = f"/api/v1/residents/{ids['钟秀英']}/reveal"
    body = {"field": "phone", "purpose": "emergency_contact", "reason": "老人摔倒联系家属"}
    ok = client.post(url, json=body, headers=callers["grid_worker"].headers)
    assert ok.status_code == 200 and ok.json()["value"] == "13300000001"
    assert (
        client.post(
            url, json={**body, "purpose": "curiosity"}, headers=callers["grid_worker"].headers
        ).status_code
        == 422
    )
    assert client.post(url, json=body, headers=callers["neighbour_grid"].headers).status_code == 404
    assert client.post(url, json=body, headers=callers["planner"].headers).status_code == 403
    session.commit()
    assert session.scalar(
        select(AuditEvent.fields).where(AuditEvent.action == "resident.reveal")
    ) == ["phone"]


def test_row_level_security_alone_keeps_other_cells_out(session, here):
    ids = people(session, here)
    from geo.access.principal import Role

    session.connection().exec_driver_sql(f'SET LOCAL ROLE "{APP_ROLE}"')
    apply_rls(session, principal(Role.grid_worker, CELL))
    seen = set(session.scalars(select(Resident.id)))  # no filter in the query: RLS only
    assert seen == {ids["钟秀英"], ids["钟建国"]}
    stays = session.scalar(text("SELECT count(*) FROM stay"))
    reports = session.scalar(text("SELECT count(*) FROM intake_report"))
    assert (stays, reports) == (2, 2)
    apply_rls(session, principal(Role.planner, CELL))
    assert session.scalar(text("SELECT count(*) FROM resident")) == 0
    counts = session.execute(text("SELECT sum(present) FROM resident_counts(city_today())"))
    assert counts.scalar() == 4  # the count-only aggregate still answers
