"""Centre-staff accounts (服务中心): scoped to one service area by its id, through the CLI and the
admin API; an unknown or missing area is refused with a message and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from api.cli import users as users_cli
from api.cli.main import app as cli
from geo.accounts import tokens
from geo.accounts.models import Account
from tests.security.conftest import bearer


@pytest.fixture
def area(session) -> int:
    return int(session.scalar(text("SELECT min(id) FROM service_area")))


@pytest.fixture
def run(session, monkeypatch):
    from contextlib import contextmanager

    @contextmanager
    def scope():
        yield session
        session.commit()

    monkeypatch.setattr(users_cli, "open_session", scope)
    return lambda *args: CliRunner().invoke(cli, list(args))


def test_cli_scopes_centre_staff_to_an_area_and_clears_it_on_a_new_role(run, session, area):
    made = run("users", "add", "li.centre", "--role", "centre_staff", "--area", str(area))
    assert made.exit_code == 0, made.output
    account = session.scalar(select(Account).where(Account.name == "li.centre"))
    assert account.service_area_id == area and account.community_code is None
    me = tokens.principal_for(account)
    assert me.area == area and me.scope() == {"area": area}
    assert '"area": ' + str(area) in run("users", "show", "li.centre").output
    moved = run(
        "users", "set-role", "li.centre", "--role", "community_staff", "--community", "230717001001"
    )
    assert moved.exit_code == 0, moved.output
    session.refresh(account)
    assert account.service_area_id is None and account.community_code == "230717001001"


def test_cli_refuses_an_unknown_area_and_writes_nothing(run, session):
    before = session.scalar(select(func.count()).select_from(Account))
    bad = run("users", "add", "no.centre", "--role", "centre_staff", "--area", "999999999")
    assert bad.exit_code == 2 and "no service area 999999999" in bad.output
    assert "Traceback" not in bad.output
    assert session.scalar(select(func.count()).select_from(Account)) == before


def test_database_refuses_a_centre_account_without_its_area(session):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="scope_service_area"), session.begin_nested():
        session.add(Account(name="raw.centre", role="centre_staff"))
        session.flush()


def test_admin_api_needs_a_known_area(session, app_client, callers, area):
    admin = next(c for c in callers if c.role == "admin" and c.own)
    headers = bearer(session, admin.account)
    client = app_client()
    url = "/api/v1/admin/users"
    for body, message in (
        ({"name": "c.one", "role": "centre_staff"}, "needs --area"),
        ({"name": "c.one", "role": "centre_staff", "area": 999999999}, "no service area"),
        ({"name": "c.one", "role": "centre_staff", "area": 0}, "area"),
        ({"name": "c.one", "role": "planner", "area": area}, "has no area scope"),
    ):
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"], r.text
    ok = client.post(
        url, json={"name": "c.one", "role": "centre_staff", "area": area}, headers=headers
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["scope"] == {"area": area} and ok.json()["role_label"] == "服务中心"
