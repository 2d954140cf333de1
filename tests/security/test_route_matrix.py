"""Every route x every role x own/other scope, generated from the OpenAPI document.

Each operation declares who may call it (`x-roles`, set by `api.auth.access()` / `public()`) and,
for objects that live in a cell, `x-scope`. The matrix calls each operation anonymously and as
every role twice: scoped to OWN_CELL (where the sample objects live) and to OTHER_CELL. A new
route appears here by itself; one that declares no policy fails `test_every_route_declares`.

Expectations: anonymous on a protected route -> 401 with WWW-Authenticate; a role not declared
-> 403; a declared role -> neither (and no 5xx); a cell-scoped role from the other scope asking
for an object of the own scope -> 404 (never 403: existence does not leak). A refused answer
carries nothing but `detail`, and no response to a caller outside the sample's scope contains
the sample's marker text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select, text

from api.app import create_app
from api.auth import CurrentUser, access, route_policies
from api.deps import SessionDep
from geo.access.principal import PUBLIC, Role, scope_filter
from geo.accounts import tokens
from geo.core.errors import NotFound
from tests.security import samples as sample_values
from tests.security.conftest import (
    OTHER_CELL,
    OWN_CELL,
    Caller,
    as_app_role,
    as_owner,
    client_for,
)
from tests.security.test_rls import PROBE, create_probe

# Roles scoped to a place: the own caller's scope holds the samples, the other's does not (centre
# staff: the matrix area of OWN_CELL's community, which serves the samples' request, spaces and
# check centre; and that of OTHER_CELL's).
CELL_SCOPED = {Role.grid_worker, Role.community_staff, Role.street_staff, Role.centre_staff}
# Roles whose scope is not a place: the cell samples are never theirs.
OTHER_SCOPED = {Role.department, Role.channel}
REFUSAL_KEYS = {"detail", "retry_after"}

# --- a probe of personal data, as residents will be: with the filter, and with RLS alone ---------

probe_router = APIRouter(prefix="/api/v1/_probe", tags=["test probe"])
PROBE_ROLES = (Role.grid_worker, Role.community_staff, Role.street_staff)


@probe_router.get("/{probe_id}", **access(*PROBE_ROLES, scope="cell"))
def probe_filtered(session: SessionDep, me: CurrentUser, probe_id: int) -> dict[str, Any]:
    clause = scope_filter(
        me, cell=PROBE.c.cell_code, community=PROBE.c.community_code, street=PROBE.c.street_code
    )
    row = session.execute(select(PROBE).where(PROBE.c.id == probe_id, clause)).mappings().first()
    if row is None:
        raise NotFound(f"no record {probe_id}")
    return dict(row)


@probe_router.get("/{probe_id}/unfiltered", **access(*PROBE_ROLES, scope="cell"))
def probe_rls_only(session: SessionDep, me: CurrentUser, probe_id: int) -> dict[str, Any]:
    """The application's filter forgotten: row-level security is the only wall left."""
    row = session.execute(select(PROBE).where(PROBE.c.id == probe_id)).mappings().first()
    if row is None:
        raise NotFound(f"no record {probe_id}")
    return dict(row)


def app_with_probe() -> FastAPI:
    app = create_app()
    app.include_router(probe_router)
    return app


# --- the matrix ------------------------------------------------------------------------------


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    ]


def test_every_route_declares_an_access_policy():
    app = create_app()
    missing = [f"{m} {p}" for m, p, op in operations(app) if "x-roles" not in op]
    hidden = [f"{m} {p}" for m, p, roles in route_policies(app) if roles is None]
    assert not missing, "routes without **access(...) or **public() (api/auth.py): " + ", ".join(
        missing
    )
    assert not hidden, "routes outside the OpenAPI document without a policy: " + ", ".join(hidden)
    for m, p, op in operations(app):
        for role in op["x-roles"]:
            assert role == PUBLIC or role in set(Role), f"{m} {p}: unknown role {role}"


@pytest.fixture
def matrix(session, callers, app_client):
    create_probe(session)
    rows = dict(session.execute(select(PROBE.c.cell_code, PROBE.c.id)).all())
    secret = session.scalar(select(PROBE.c.secret).where(PROBE.c.cell_code == OWN_CELL))
    samples = sample_values.build(session, "t-channel-own")
    samples.path["probe_id"] = str(rows[OWN_CELL])
    samples.scoped.add("probe_id")
    samples.markers.update({secret, secret.split()[1], "13812345678"})
    session.commit()
    app = app_with_probe()
    app.dependency_overrides.update(sample_values.dependency_overrides(session))
    return app, app_client(app), samples


def _url(path: str, samples: sample_values.Samples) -> tuple[str, set[str]]:
    names = re.findall(r"{(\w+)}", path)
    url = path
    for name in names:
        value = samples.path_value(path, name)
        assert value is not None, (
            f"{path}: no sample for path parameter {name!r}; add one in tests/security/samples.py"
        )
        url = url.replace("{" + name + "}", value)
    return url, {n for n in names if n in samples.scoped}


def _request(op: dict[str, Any], path: str, samples) -> dict[str, Any]:
    params = {}
    for p in op.get("parameters", []):
        if p["in"] == "query" and p.get("required"):
            assert p["name"] in samples.query, (
                f"{path}: no sample for query parameter {p['name']!r} (tests/security/samples.py)"
            )
            params[p["name"]] = samples.query[p["name"]]
    params.update(samples.extra_query.get(path, {}))
    kwargs: dict[str, Any] = {"params": params}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        kwargs["json"] = {}
    elif content:
        kwargs["data"] = {}
    return kwargs


def _headers(session, caller: Caller | None) -> dict[str, str]:
    if caller is None:
        return {}
    pair = tokens.start_session(session, caller.account)
    return {"Authorization": f"Bearer {pair.access_token}"}


def _check(method, path, op, caller, response, scoped_params, samples) -> list[str]:
    roles = set(op["x-roles"])
    who = "anonymous" if caller is None else caller.label
    status, body = response.status_code, response.text
    where = f"{method} {path} as {who}: {status}"
    problems = []
    if status >= 500:
        return [f"{where} (server error) {body[:200]}"]
    refused = False
    if PUBLIC in roles:
        if status in (401, 403):
            problems.append(f"{where}, but the route is public")
    elif caller is None:
        refused = True
        if status != 401 or "www-authenticate" not in response.headers:
            problems.append(f"{where}, expected 401 with WWW-Authenticate")
    elif caller.role.value not in roles:
        refused = True
        if status != 403:
            problems.append(f"{where}, expected 403 (roles: {sorted(roles)})")
    elif status in (401, 403):
        problems.append(f"{where}, but {caller.role.value} is declared")
    elif scoped_params and caller.role in CELL_SCOPED:
        if caller.own and method == "GET" and not 200 <= status < 300:
            problems.append(f"{where}, expected 2xx for an object in its own scope")
        if not caller.own and status not in ((404,) if method == "GET" else (404, 422)):
            problems.append(f"{where}, expected 404 for an object outside its scope")
    if refused:
        try:
            keys = set(response.json())
        except ValueError:
            keys = {"<not json>"}
        if not keys <= REFUSAL_KEYS:
            problems.append(f"{where}: refusal carries more than detail: {sorted(keys)}")
    entitled = (
        caller is not None
        and caller.role.value in roles
        and (caller.own or caller.role not in CELL_SCOPED)
        and caller.role not in OTHER_SCOPED
    )
    if PUBLIC not in roles and not entitled:
        leaked = [m for m in samples.markers if m in body]
        if leaked:
            problems.append(f"{where}: leaked {leaked}")
    return problems


def test_route_x_role_x_scope_matrix(session, callers, matrix):
    app, client, samples = matrix
    everyone: list[Caller | None] = [None, *callers]
    problems: list[str] = []
    calls = 0
    for method, path, op in operations(app):
        url, scoped = _url(path, samples)
        kwargs = _request(op, path, samples)
        for caller in everyone:
            response = client.request(method, url, headers=_headers(session, caller), **kwargs)
            calls += 1
            problems += _check(method, path, op, caller, response, scoped, samples)
    assert calls >= 17 * 30
    assert not problems, f"{len(problems)} of {calls} calls wrong:\n" + "\n".join(problems)


def test_rls_alone_hides_other_scopes_through_the_api(session, callers):
    """The unfiltered probe route, with RLS switched off for the owner, would leak: proof that
    the 404s in the matrix come from the database when the filter is forgotten."""
    create_probe(session)
    other_id = session.scalar(select(PROBE.c.id).where(PROBE.c.cell_code == OTHER_CELL))
    session.commit()
    worker = next(c for c in callers if c.role == Role.grid_worker and c.own)
    owner_client = client_for(session, app_with_probe())  # as the owner: RLS bypassed
    url = f"/api/v1/_probe/{other_id}/unfiltered"
    leaked = owner_client.get(url, headers=_headers(session, worker))
    assert leaked.status_code == 200 and leaked.json()["cell_code"] == OTHER_CELL
    as_app_role(session)
    assert session.scalar(text("SELECT current_user")) != "postgres"
    app_client = client_for(session, app_with_probe())
    hidden = app_client.get(url, headers=_headers(session, worker))
    assert hidden.status_code == 404 and "王五" not in hidden.text


def test_the_matrix_catches_a_route_that_breaks_its_declaration(session, callers, matrix):
    """A route that declares grid workers but checks nothing, run as the owner (no RLS)."""
    _, _, samples = matrix
    leaky = APIRouter()

    @leaky.get(
        "/api/v1/_leaky/{probe_id}", openapi_extra={"x-roles": ["grid_worker"], "x-scope": "cell"}
    )
    def leaky_route(session: SessionDep, probe_id: int) -> dict[str, Any]:
        return dict(session.execute(select(PROBE).where(PROBE.c.id == probe_id)).mappings().one())

    app = create_app()
    app.include_router(leaky)
    as_owner(session)  # and no row-level security either
    client = client_for(session, app)
    ((method, path, op),) = [o for o in operations(app) if o[1].startswith("/api/v1/_leaky")]
    url, scoped = _url(path, samples)
    problems = []
    for caller in [None, *callers]:
        response = client.get(url, headers=_headers(session, caller))
        problems += _check(method, path, op, caller, response, scoped, samples)
    text_ = "\n".join(problems)
    assert "as anonymous: 200, expected 401" in text_
    assert "as planner/own: 200, expected 403" in text_
    assert "as grid_worker/other: 200, expected 404" in text_
    assert "leaked" in text_
