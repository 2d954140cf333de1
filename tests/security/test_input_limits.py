"""Bad input and resource limits (issue 9), generated from the OpenAPI document where it can be.

- Every string and list of every request body declares a cap (maxLength / maxItems).
- A NUL character (U+0000, which PostgreSQL refuses in text) in any string field of any write
  route's body, in any query parameter, or in the path is a 4xx naming it, never a 500.
- Files: a NUL or an over-long cell in an imported CSV refuses the file, naming row and column.
- A request body over the limit is a 413 with a clear message; see test_body_limit.py.
- What the database refuses (unique, foreign key, check) is a 409/422 naming no value and no SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.access.principal import Role
from geo.accounts import tokens
from tests.db import request_sessions
from tests.residents.conftest import point_in
from tests.security.conftest import OWN_CELL, Caller
from tests.security.openapi_walk import (
    WRITE_METHODS,
    body_with,
    field_name,
    fields,
    is_file,
    is_free_text,
    operations,
)
from tests.security.samples import dependency_overrides

NUL_TEXT = "王\x00秀英"
BOUNDED_FORMATS = {"date", "date-time"}  # parsed: nothing of unbounded size is kept


@pytest.fixture
def doc() -> dict:
    return create_app().openapi()


@pytest.fixture
def http(session: Session) -> Iterator[TestClient]:
    """The app on the test's session (the intake's own unit of work too)."""
    app = create_app()

    # what the test wrote (accounts, login sessions) outlives a rollback
    app.dependency_overrides[get_session] = request_sessions(session, before=Session.commit)
    app.dependency_overrides.update(dependency_overrides(session))
    with TestClient(app) as client:
        yield client


def bounded(node: dict) -> bool:
    """A string bounded without maxLength: one of a list, a parsed date, or a file."""
    return (
        bool({"enum", "const"} & set(node))
        or node.get("format") in BOUNDED_FORMATS
        or (is_file(node))
    )


def headers_for(session: Session, callers: list[Caller], role: Role | None) -> dict[str, str]:
    if role is None:
        return {}
    account = next(c.account for c in callers if c.role == role and c.own)
    return {"Authorization": f"Bearer {tokens.start_session(session, account).access_token}"}


def send(client: TestClient, op, headers: dict[str, str], body) -> object:
    media_type, _ = op.body()
    kwargs: dict = {"headers": headers}
    if media_type == "application/json":
        kwargs["json"] = body
    else:  # forms: one field; a multipart form also gets a small file
        kwargs["data"] = body
        if media_type == "multipart/form-data":
            kwargs["files"] = {"file": ("list.csv", "姓名,身份证号\n".encode(), "text/csv")}
    return client.request(op.method, op.url(), **kwargs)


# --- caps ----------------------------------------------------------------------------------------


def test_every_string_and_list_of_a_request_body_declares_a_cap(doc):
    uncapped = []
    bodies = 0
    for op in operations(doc, WRITE_METHODS):
        if op.body() is None:
            continue
        bodies += 1
        for path, node in fields(doc, op.body()[1]):
            where = f"{op.method} {op.path} {'.'.join(map(str, path)) or 'body'}"
            if node["type"] == "array" and "maxItems" not in node:
                uncapped.append(f"{where}: a list without maxItems")
            elif node["type"] == "string" and "maxLength" not in node and not bounded(node):
                uncapped.append(f"{where}: a string without maxLength")
    assert bodies >= 20  # every write route with a body, Open311's form and the file upload too
    assert not uncapped, "add max_length (geo/core/inputs.py has the shared caps):\n" + "\n".join(
        uncapped
    )


def test_tags_are_capped_in_number_and_length(http, session, callers):
    """Today 20 tags of 50,000 characters each were accepted and kept forever."""
    account = next(c.account for c in callers if c.role == Role.grid_worker and c.own)
    headers = {"Authorization": f"Bearer {tokens.start_session(session, account).access_token}"}
    report = {"name": "王秀英", "tags": ["太极拳" * 10_000] * 20}
    response = http.post(
        "/api/v1/intake/reports",
        json={"channel": "grid_worker", "report": report},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    assert "report.tags.0" in response.json()["detail"]
    too_many = {"name": "王秀英", "tags": [f"t{i}" for i in range(21)]}
    response = http.post(
        "/api/v1/intake/reports",
        json={"channel": "grid_worker", "report": too_many},
        headers=headers,
    )
    assert response.status_code == 422 and "report.tags" in response.json()["detail"]
    assert session.scalar(text("SELECT count(*) FROM intake_report WHERE name = '王秀英'")) == 0


# --- NUL characters ----------------------------------------------------------------------------


def test_a_nul_in_any_string_field_of_any_write_route_is_a_4xx_naming_it(
    doc, http, session, callers
):
    problems = []
    tried = 0
    for op in operations(doc, WRITE_METHODS):
        if op.body() is None:
            continue
        headers = headers_for(session, callers, op.caller_role())
        for path, node in fields(doc, op.body()[1]):
            if node["type"] != "string" or is_file(node):
                continue
            tried += 1
            name = field_name(path)
            response = send(http, op, headers, body_with(path, NUL_TEXT))
            where = f"{op.method} {op.path} {'.'.join(map(str, path))}: {response.status_code}"
            if not 400 <= response.status_code < 500:
                problems.append(f"{where} {response.text[:200]}")
            elif name not in response.text:
                problems.append(
                    f"{where}, the answer does not name {name!r}: {response.text[:200]}"
                )
            elif is_free_text(node) and "NUL" not in response.text:
                problems.append(f"{where}, the answer does not say NUL: {response.text[:200]}")
    assert tried >= 80
    assert not problems, f"{len(problems)} of {tried}:\n" + "\n".join(problems)


def test_a_nul_in_a_case_description_is_a_422_not_a_500(http):
    """The reported attack: PostgreSQL refuses NUL in text, and the insert was a 500."""
    response = http.post(
        "/api/v1/cases",
        json={"category": "medical", "description": "老人摔倒\u0000", "lon": 128.9, "lat": 47.7},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == ("description: must not contain a NUL character (\\u0000)")
    assert "老人摔倒" not in response.text  # the rejected value is never echoed


def test_a_nul_in_any_query_parameter_is_a_4xx_naming_it(doc, http, session, callers):
    problems = []
    tried = 0
    for op in operations(doc):
        headers = headers_for(session, callers, op.caller_role())
        for p in op.op.get("parameters", []):
            if p["in"] != "query":
                continue
            tried += 1
            response = http.request(
                op.method, op.url(), params={p["name"]: NUL_TEXT}, headers=headers
            )
            where = f"{op.method} {op.path} ?{p['name']}: {response.status_code}"
            if not 400 <= response.status_code < 500 or p["name"] not in response.text:
                problems.append(f"{where} {response.text[:200]}")
    assert tried >= 60
    assert not problems, "\n".join(problems)


def test_a_nul_in_the_path_is_a_422(http, session, callers):
    headers = headers_for(session, callers, Role.admin)
    for url in ("/api/v1/admin/users/t-admin%00own", "/open311/v2/services/med%00ical.json"):
        response = http.get(url, headers=headers)
        assert response.status_code in (400, 422), (url, response.text)
        assert "NUL" in response.text


def test_open311_answers_a_nul_in_its_own_error_format(http):
    response = http.post(
        "/open311/v2/requests.json",
        data={"service_code": "medical", "lat": "47.7", "long": "128.9", "description": "摔倒\x00"},
    )
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400
    assert response.json()[0]["description"].startswith("description: must not contain a NUL")
    query = http.get("/open311/v2/requests.json", params={"service_code": "x\x00"})
    assert query.status_code == 400 and "service_code" in query.json()[0]["description"]


def test_a_nul_in_an_imported_file_refuses_the_file_naming_row_and_column(http, session, callers):
    headers = headers_for(session, callers, Role.community_staff)
    before = session.scalar(text("SELECT count(*) FROM intake_report"))
    rows = "姓名,手机号,备注\n王秀英,13812345678,好\n李\x00四,13912345678,\n"
    response = http.post(
        "/api/v1/residents/import",
        data={"channel": "grid_worker", "commit": "true", "skip_rejected": "true"},
        files={"file": ("list.csv", rows.encode("utf-8"), "text/csv")},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("row 3, column 姓名: must not contain a NUL")
    long_note = "姓名,备注\n王秀英," + "很" * 501 + "\n"
    response = http.post(
        "/api/v1/residents/import",
        data={"channel": "grid_worker"},
        files={"file": ("list.csv", long_note.encode("utf-8"), "text/csv")},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "row 2, column 备注: 501 characters, at most 500"
    assert session.scalar(text("SELECT count(*) FROM intake_report")) == before


# --- what the database refuses ------------------------------------------------------------------


def test_a_unique_violation_is_a_409_naming_no_value_and_no_sql(
    doc, http, session, callers, caplog
):
    """Two admins create the same account at once: the service's check passes for both and
    the database's unique index refuses the second (simulated: the row appears between the
    check and the insert, through a trigger on the owner's connection)."""
    session.execute(
        text("""
        CREATE FUNCTION pg_temp.twin() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.name = 'twin.zhao' AND pg_trigger_depth() = 1
            THEN
                INSERT INTO account (name, display_name, role) VALUES (NEW.name, '赵秀兰', 'planner');
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER twin BEFORE INSERT ON account FOR EACH ROW EXECUTE FUNCTION pg_temp.twin();
    """)
    )
    session.commit()
    headers = headers_for(session, callers, Role.admin)
    with caplog.at_level(logging.WARNING):
        response = http.post(
            "/api/v1/admin/users",
            headers=headers,
            json={
                "name": "twin.zhao",
                "role": "planner",
                "display_name": "赵秀兰",
                "phone": "13812345678",
            },
        )
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail.startswith("this conflicts with an existing record (a duplicate)")
    for secret in ("twin.zhao", "赵秀兰", "13812345678", "INSERT", "account (", "%("):
        assert secret not in response.text
        assert secret not in caplog.text


def test_a_number_out_of_the_databases_range_is_a_422(http, session, callers):
    """An id past PostgreSQL's integer: refused by the schema where it is declared, and by the
    error table where it reaches the database (a path or query id)."""
    body = {
        "category": "medical",
        "description": "老人摔倒",
        "lon": 128.9,
        "lat": 47.7,
        "reporter": {"resident_id": 2**31},
    }
    response = http.post("/api/v1/cases", json=body)
    assert response.status_code == 422 and "reporter.resident_id" in response.json()["detail"]
    headers = headers_for(session, callers, Role.grid_worker)
    for url in ("/api/v1/residents/99999999999", "/api/v1/concerns?resident_id=99999999999"):
        response = http.get(url, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.json() == {"detail": "a number is out of range"}


def test_numbers_out_of_range_in_a_report_reject_that_report_not_the_request(
    http, session, callers
):
    """A household of 10**17 (smallint column) or an age of "inf" (a CSV cell) was a 500 while
    the rejected report was stored; now each report is rejected with its reason."""
    headers = headers_for(session, callers, Role.grid_worker)
    lon, lat = point_in(session, OWN_CELL)
    here = {"lon": lon, "lat": lat, "crs": "wgs84"}
    reports = [
        {"name": "王秀英", "household_size": 10**17, **here},
        {"name": "李四", "household_size": 2, **here},
    ]
    response = http.post(
        "/api/v1/intake/reports",
        json={"channel": "grid_worker", "reports": reports},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["reports"]
    assert first["decision"] == "rejected" and "between 1 and 20" in first["reason"]
    assert second["decision"] == "new", second
    rows = (
        f"姓名,年龄,同住人数,经度,纬度,坐标系\n王秀英,inf,2,{lon},{lat},wgs84\n"
        f"李四,70,99999999999999999,{lon},{lat},wgs84\n"
    )
    response = http.post(
        "/api/v1/residents/import",
        data={"channel": "grid_worker", "commit": "true", "skip_rejected": "true"},
        files={"file": ("list.csv", rows.encode("utf-8"), "text/csv")},
        headers=headers_for(session, callers, Role.community_staff),
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["rejected"] == 2
    reasons = " ".join(r.get("reason") or "" for r in response.json()["rows"])
    assert "age 'inf' is not a number" in reasons
    assert "household_size must be between 1 and 20" in reasons
