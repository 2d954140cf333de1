"""Fuzz every write route in process (schemathesis over the app's own OpenAPI document): valid
and invalid bodies, query strings and headers; no answer may be a 5xx or an unhandled error.

Each route is called as a role it admits, in the own scope of the route-matrix samples (real
cases, archives, reports and accounts), so generated requests reach the handlers and the
database rather than stopping at 403/404. The run is bounded and seeded (derandomised): the
same examples every run. `HOUNIAO_FUZZ_EXAMPLES` raises the count for a deeper local run.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.access.principal import Role
from geo.accounts import tokens
from tests.db import request_sessions
from tests.residents.conftest import point_in
from tests.security import samples as sample_values
from tests.security.conftest import OWN_CELL, Caller
from tests.security.openapi_walk import WRITE_METHODS, Operation, operations

EXAMPLES = int(os.environ.get("HOUNIAO_FUZZ_EXAMPLES", "4"))
# Routes that end the caller's own sessions: fuzzed with a fresh token per call anyway.
SKIP = {("POST", "/maps/logout")}  # answers a redirect and reads nothing


@pytest.fixture
def fuzz_app(session: Session, callers: list[Caller]) -> tuple[FastAPI, sample_values.Samples]:
    samples = sample_values.build(session, "t-channel-own")
    session.commit()
    app = create_app()

    # what earlier calls wrote stays; a failed call rolls back only itself
    app.dependency_overrides[get_session] = request_sessions(session, before=Session.commit)
    app.dependency_overrides.update(sample_values.dependency_overrides(session))
    return app, samples


def test_no_write_route_answers_a_5xx_to_generated_input(
    session: Session, callers: list[Caller], fuzz_app
):
    app, samples = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    doc = app.openapi()
    failures: list[str] = []
    calls = 0
    for op in operations(doc, WRITE_METHODS):
        if (op.method, op.path) in SKIP:
            continue
        api_op = schema[op.path][op.method]
        path_parameters = {
            p["name"]: samples.path_value(op.path, p["name"])
            for p in op.op.get("parameters", [])
            if p["in"] == "path"
        }
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = api_op.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            calls += _fuzz(op, strategy, session, callers, failures)
    assert calls >= 20 * EXAMPLES
    assert not failures, f"{len(failures)} of {calls} calls failed:\n" + "\n".join(failures[:30])


def _fuzz(
    op: Operation, strategy: Any, session: Session, callers: list[Caller], failures: list[str]
) -> int:
    role = op.caller_role()
    account = next((c.account for c in callers if c.role == role and c.own), None)
    calls = 0

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal calls
        for name in ("X-API-Key", "Authorization"):  # generated credentials: never valid
            (case.headers or {}).pop(name, None)
        headers = {}
        if account is not None:  # a fresh session each call: a fuzzed logout ends only its own
            headers["Authorization"] = (
                f"Bearer {tokens.start_session(session, account).access_token}"
            )
            session.commit()
        calls += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # noqa: BLE001 - an unhandled error in the app is the finding
            if _client_side(exc):
                return
            failures.append(f"{op.method} {op.path}: {type(exc).__name__}: {str(exc)[:300]}")
            return
        if response.status_code >= 500:
            failures.append(
                f"{op.method} {op.path}: {response.status_code} "
                f"{response.text[:200]} <- {case.body!r:.300}"
            )

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
        run()
    return calls


def _client_side(exc: Exception) -> bool:
    """Requests the HTTP client itself refuses to send (a header with a newline): not the app's."""
    name = type(exc).__name__
    return name in {"InvalidHeader", "LocalProtocolError", "InvalidURL", "UnicodeEncodeError"}


def test_the_fuzzer_sees_a_route_that_fails(session: Session, callers: list[Caller], fuzz_app):
    """The harness reports a 500: a route that breaks on any input is caught."""
    app, _ = fuzz_app

    @app.post("/api/v1/_broken", openapi_extra={"x-roles": ["admin"]})
    def broken(body: dict[str, Any]) -> None:
        raise RuntimeError("broken")

    app.openapi_schema = None
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    op = next(o for o in operations(app.openapi(), WRITE_METHODS) if o.path == "/api/v1/_broken")
    failures: list[str] = []
    strategy = schema[op.path]["POST"].as_strategy(generation_mode=GenerationMode.POSITIVE)
    _fuzz(op, strategy, session, callers, failures)
    assert failures and "RuntimeError" in failures[0]
    assert Role.admin == op.caller_role()


# --- depth: one field of a valid body replaced by anything -------------------------------------


def valid_bodies(session: Session, samples: sample_values.Samples) -> dict[tuple[str, str], Any]:
    """A valid body per write route that reaches the database (`headers` where it needs them):
    the fuzzer breaks one field at a time, so the rest still carries the request deep."""
    lon, lat = point_in(session, OWN_CELL)
    resident, report = int(samples.path["resident_id"]), int(samples.path["report_id"])
    place = {"lon": lon, "lat": lat, "crs": "wgs84"}
    report_in = {
        "external_id": "fz-1",
        "name": "王秀英",
        "sex": "女",
        "phone": "13812345678",
        "birth_year": 1950,
        "origin": "广东广州",
        "occupation": "教师",
        "tags": ["太极"],
        "address": "伊美区",
        **place,
        "arrived_on": "2026-06-01",
        "expected_departure": "2026-09-30",
        "housing_type": "租住",
        "household_size": 2,
        "note": "子女在外地",
    }
    return {
        ("POST", "/api/v1/cases"): {
            "category": "medical",
            "description": "老人摔倒需要帮助",
            **place,
            "address": "伊美区",
            "reporter": {"name": "王秀英", "phone": "13812345678", "resident_id": resident},
            "attachments": [{"name": "a.jpg", "content_type": "image/jpeg", "size": 10}],
        },
        ("POST", "/api/v1/cases/{case_id}/transitions"): {
            "action": "accept",
            "note": "收到",
            "grade": "simple",
        },
        ("POST", "/api/v1/cases/{case_id}/reveal-phone"): {
            "purpose": "case_handling",
            "reason": "回访确认",
        },
        ("POST", "/api/v1/intake/reports"): {"channel": "grid_worker", "report": report_in},
        ("PATCH", "/api/v1/residents/{resident_id}"): {
            **report_in,
            "crs": None,
            "lon": None,
            "lat": None,
            "address": None,
            "external_id": None,
            "arrived_on": None,
        },
        ("POST", "/api/v1/residents/review/{report_id}"): {"action": "new", "note": "另一人"},
        ("POST", "/api/v1/residents/{resident_id}/split"): {"report_ids": [report], "note": "x"},
        ("POST", "/api/v1/residents/{resident_id}/merge"): {"other_id": resident, "note": "x"},
        ("POST", "/api/v1/stays/{stay_id}/departure"): {
            "departed_on": "2026-06-02",
            "note": "走了",
        },
        ("POST", "/api/v1/concerns"): {
            "category": "medical",
            "text": "想找社区医生",
            **place,
            "follow_up": "明天联系",
        },
        ("PATCH", "/api/v1/concerns/{entry_id}"): {"follow_up": "已联系", "status": "following"},
        ("POST", "/api/v1/concerns/{entry_id}/case"): {
            "category": "medical",
            "description": "转为事件办理",
        },
        ("PUT", "/api/v1/health-checks/{resident_id}/{season}"): {
            "status": "invited",
            "invited_on": "2026-06-01",
        },
        ("POST", "/api/v1/admin/users"): {
            "name": "fuzz.user",
            "role": "grid_worker",
            "display_name": "王",
            "cells": [OWN_CELL],
            "phone": "13812345678",
        },
        ("PATCH", "/api/v1/admin/users/{name}"): {"display_name": "王", "department": "卫健委"},
        ("POST", "/open311/v2/requests.json"): {
            "service_code": "medical",
            "lat": str(lat),
            "long": str(lon),
            "description": "老人摔倒",
            "first_name": "秀英",
            "last_name": "王",
            "phone": "13812345678",
        },
    }


def leaves(body: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every value of a body, containers included (so a whole list can be replaced)."""
    out = [path] if path else []
    if isinstance(body, dict):
        for k, v in body.items():
            out += leaves(v, (*path, k))
    elif isinstance(body, list):
        for i, v in enumerate(body):
            out += leaves(v, (*path, i))
    return out


def replaced(body: Any, path: tuple, value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is DROP and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = None if value is DROP else value
    return body


DROP = object()
ANYTHING = st.one_of(
    st.text(max_size=40),  # any code point, NUL and lone surrogates' neighbours included
    st.text(alphabet="\x00\ufeff\u202e 0123456789-:.eE+", max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.just(DROP),
    st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.sampled_from(
        [
            "2026-02-30",
            "9999-12-31",
            "0001-01-01",
            "1" * 400,
            "wgs84",
            "gcj02",
            "NaN",
            "-1",
            "0",
            str(2**31),
            "13800000000",
            "110101194901011234",
        ]
    ),
)


def test_no_write_route_answers_a_5xx_to_one_bad_field_in_a_valid_body(
    session: Session, callers: list[Caller], fuzz_app
):
    app, samples = fuzz_app
    bodies = valid_bodies(session, samples)
    doc = app.openapi()
    by_route = {(o.method, o.path): o for o in operations(doc, WRITE_METHODS)}
    failures: list[str] = []
    calls = 0
    with TestClient(app) as client:
        for route, body in bodies.items():
            op = by_route[route]
            url = op.url(dict(samples.path, name="t-channel-own"))
            calls += _mutate(client, op, url, body, session, callers, failures)
    assert calls >= len(bodies) * EXAMPLES
    assert not failures, f"{len(failures)} of {calls} calls failed:\n" + "\n".join(failures[:30])


def _mutate(
    client: TestClient,
    op: Operation,
    url: str,
    body: dict[str, Any],
    session: Session,
    callers: list[Caller],
    failures: list[str],
) -> int:
    role = op.caller_role()
    account = next((c.account for c in callers if c.role == role and c.own), None)
    form = "application/json" not in op.op["requestBody"]["content"]
    calls = 0

    @settings(
        max_examples=EXAMPLES * 3,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(path=st.sampled_from(leaves(body)), value=ANYTHING)
    def run(path: tuple, value: Any) -> None:
        nonlocal calls
        calls += 1
        headers = {"If-Match": "*"}
        if account is not None:
            headers["Authorization"] = (
                f"Bearer {tokens.start_session(session, account).access_token}"
            )
            session.commit()
        sent = replaced(body, path, value)
        if form:
            sent = {k: str(v) for k, v in sent.items() if v is not None}
        where = f"{op.method} {op.path} {'.'.join(map(str, path))}={value!r:.80}"
        if not form:  # as a hostile client writes it: NaN and Infinity literals included
            headers["Content-Type"] = "application/json"
        try:
            response = client.request(
                op.method,
                url,
                headers=headers,
                **({"data": sent} if form else {"content": json.dumps(sent)}),
            )
        except Exception as exc:  # noqa: BLE001 - an unhandled error in the app is the finding
            failures.append(f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
            return
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:200]}")

    run()
    return calls
