"""`houniao users`, `houniao privacy`, demo accounts and retention, through the real CLI."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import privacy as privacy_cli
from api.cli import users as users_cli
from api.cli.main import app as cli
from geo.access.principal import Principal, Role
from geo.accounts import apikeys, login
from geo.accounts import service as accounts
from geo.accounts.models import Account
from geo.audit.models import AuditEvent
from geo.core.errors import InvalidInput
from geo.demo import accounts as demo
from geo.privacy import crypto, retention
from geo.spatial.places.models import ServiceArea


@pytest.fixture
def run(session, monkeypatch):
    @contextmanager
    def scope():
        yield session
        session.commit()

    for module in (users_cli, privacy_cli):
        monkeypatch.setattr(module, "open_session", scope)

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args))

    return invoke


def _json(output: str):
    start = output.index("{") if output.lstrip().startswith("{") else output.index("[")
    return json.loads(output[start : output.rindex("}" if output[start] == "{" else "]") + 1])


def test_users_add_prints_a_generated_password_and_scopes_the_account(run, session):
    result = run(
        "users",
        "add",
        "wang.grid",
        "--role",
        "grid_worker",
        "--cell",
        "230717001001001",
        "--cell",
        "230717001001002",
        "--display-name",
        "王网格",
    )
    assert result.exit_code == 0, result.output
    assert "password of wang.grid" in result.output
    account = session.scalar(select(Account).where(Account.name == "wang.grid"))
    assert account.cells == ["230717001001001", "230717001001002"]
    password = result.output.split()[-1]
    assert login.authenticate(session, "wang.grid", password).access_token


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "grid_worker"], "needs --cell"),
        (["--role", "grid_worker", "--cell", "230717999999999"], "no grid_cell 230717999999999"),
        (["--role", "community_staff", "--community", "2307170010"], "has 12 digits"),
        (["--role", "planner", "--cell", "230717001001001"], "has no cells scope"),
        (["--role", "department", "--department", "astrology"], "no department"),
        (["--role", "channel", "--channel", "pigeon"], "channel must be one of"),
        (["--role", "overlord"], "role must be one of"),
        (["--role", "planner", "--password", "123"], "at least 10"),
        (["--role", "centre_staff"], "needs --area"),
        (["--role", "centre_staff", "--area", "999999999"], "no service area 999999999"),
        (["--role", "centre_staff", "--area", "twelve"], "named by its id"),
        (["--role", "planner", "--area", "1"], "has no area scope"),
    ],
)
def test_users_add_refuses_bad_scopes(run, args, message):
    result = run("users", "add", "bad-user", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_channel_account_gets_an_api_key_and_keys_rotate_and_revoke(run, session):
    result = run("users", "add", "rider-co", "--role", "channel", "--channel", "delivery_rider")
    assert result.exit_code == 0, result.output
    key = result.output.split()[-1]
    assert apikeys.principal_from_api_key(session, key).channel == "delivery_rider"
    rotated = run("users", "rotate-key", "rider-co")
    assert rotated.exit_code == 0
    new_key = rotated.output.split()[-1]
    assert new_key != key and apikeys.principal_from_api_key(session, new_key)
    from geo.core.errors import Unauthorized

    with pytest.raises(Unauthorized):
        apikeys.principal_from_api_key(session, key)
    assert run("users", "revoke-key", "rider-co").exit_code == 0
    with pytest.raises(Unauthorized):
        apikeys.principal_from_api_key(session, new_key)
    shown = _json(run("users", "show", "rider-co").output)
    assert shown["api_keys"] == [] and shown["role"] == "channel"


def test_disable_list_set_role_reset_password(run, session):
    run(
        "users",
        "add",
        "li.community",
        "--role",
        "community_staff",
        "--community",
        "230717001001",
        "--password",
        "Community-2026!",
    )
    listed = _json(run("users", "list").output)
    assert any(
        u["name"] == "li.community" and u["scope"] == {"community": "230717001001"} for u in listed
    )
    changed = run(
        "users", "set-role", "li.community", "--role", "street_staff", "--street", "230717001"
    )
    assert changed.exit_code == 0, changed.output
    assert _json(changed.output)["scope"] == {"street": "230717001"}
    assert run("users", "disable", "li.community").exit_code == 0
    from geo.core.errors import Unauthorized

    with pytest.raises(Unauthorized):
        login.authenticate(session, "li.community", "Community-2026!")
    assert run("users", "enable", "li.community").exit_code == 0
    reset = run("users", "reset-password", "li.community")
    new = reset.output.split()[-1]
    assert login.authenticate(session, "li.community", new).access_token
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.actor_role == "system"))
    )
    assert {"account.create", "account.update", "account.password"} <= actions


def test_demo_accounts_one_per_role_loudly(run, session):
    result = run("users", "demo")
    assert result.exit_code == 0, result.output
    assert "DEMO ACCOUNTS" in result.output
    names = {a.name: a for a in session.scalars(select(Account).where(Account.name.like("demo-%")))}
    assert {a.role for a in names.values()} == {r.value for r in Role}
    assert names["demo-grid"].cells == ["230717001001001"]
    assert names["demo-community"].community_code == "230717001001"
    assert names["demo-street"].street_code == "230717001"
    assert names["demo-health"].department == "health"
    assert names["demo-rider"].channel == "delivery_rider"
    # No activity spaces in the test database: the first service area of the demo community.
    first_area = session.scalar(
        select(ServiceArea.id)
        .where(ServiceArea.community_code == demo.DEMO_CELL[:12])
        .order_by(ServiceArea.id)
    )
    assert first_area is not None and names["demo-centre"].service_area_id == first_area
    again = run("users", "demo")
    assert "exist already" in again.output
    assert demo.create_demo_accounts(session) == []


def test_demo_accounts_refused_in_production(session, monkeypatch):
    from geo.core.config import security_settings

    monkeypatch.setattr(security_settings(), "env", "production")
    with pytest.raises(RuntimeError, match="never created in production"):
        demo.create_demo_accounts(session)


def test_privacy_check_validates_and_masks(run):
    ok = run("privacy", "check", "--id-number", "11010519491231002X", "--mobile", "13812345678")
    assert ok.exit_code == 0 and "110105********002X" in ok.output and "138****5678" in ok.output
    assert "11010519491231002X" not in ok.output
    bad = run("privacy", "check", "--id-number", "110105194912310021")
    assert bad.exit_code == 2 and "should be X" in bad.output


def test_rotate_keys_command(run, session, monkeypatch):
    old = crypto.Keyring({"old": b"o" * 32}, "old")
    new = crypto.Keyring({"old": b"o" * 32, "new": b"n" * 32}, "new")
    session.add(
        Account(
            name="t-phone",
            role="planner",
            display_name="",
            phone_enc=crypto.encrypt("13812345678", context="account.phone", keyring=old),
        )
    )
    session.flush()
    monkeypatch.setattr(crypto, "_default", new)
    dry = run("privacy", "rotate-keys", "--dry-run")
    assert dry.exit_code == 0 and _json(dry.output)["to_re_encrypt"]["account.phone_enc"] >= 1
    done = run("privacy", "rotate-keys")
    assert done.exit_code == 0, done.output
    token = session.scalar(select(Account.phone_enc).where(Account.name == "t-phone"))
    assert crypto.key_id(token) == "new"


def test_retention_cutoff_and_purge_of_disabled_staff(run, session):
    assert retention.cutoff(date(2026, 11, 26), 3) == date(2024, 5, 1)
    assert retention.cutoff(date(2026, 4, 30), 1) == date(2025, 5, 1)
    with pytest.raises(ValueError):
        retention.cutoff(date(2026, 1, 1), 0)
    system = Principal.system("t")
    accounts.create_account(
        session,
        system,
        name="t-gone",
        role="planner",
        password="Retired-Staff-1",
        phone="13812345678",
        id_number="11010519491231002X",
    )
    accounts.create_account(
        session,
        system,
        name="t-stays",
        role="planner",
        password="Current-Staff-1",
        phone="13912345678",
    )
    accounts.update_account(
        session, system, "t-gone", is_active=False, now=datetime(2022, 9, 1, tzinfo=UTC)
    )
    session.commit()  # the dry run rolls back its own transaction
    dry = run("privacy", "purge", "--dry-run", "--today", "2026-11-26")
    assert dry.exit_code == 0, dry.output
    assert _json(dry.output)["counts"]["account_personal_data"] == 1
    gone = session.scalar(select(Account).where(Account.name == "t-gone"))
    assert gone.phone_enc is not None  # dry run changed nothing
    done = run("privacy", "purge", "--today", "2026-11-26")
    assert done.exit_code == 0
    session.refresh(gone)
    assert gone.phone_enc is None and gone.id_number_hash is None
    kept = session.scalar(select(Account).where(Account.name == "t-stays"))
    assert kept.phone_enc is not None
    assert session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "privacy.purge"))


def test_duplicate_personal_numbers_are_refused(session):
    system = Principal.system("t")
    accounts.create_account(
        session,
        system,
        name="t-one",
        role="planner",
        password="Planner-One-2026",
        phone="13812345678",
    )
    from geo.core.errors import Conflict

    with pytest.raises(Conflict, match="phone"):
        accounts.create_account(
            session,
            system,
            name="t-two",
            role="planner",
            password="Planner-Two-2026",
            phone="+86 138 1234 5678",
        )
    with pytest.raises(InvalidInput):
        accounts.create_account(
            session,
            system,
            name="t-three",
            role="planner",
            password="Planner-Three-2026",
            id_number="110105194912310021",
        )
