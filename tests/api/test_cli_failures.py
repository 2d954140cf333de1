"""Expected failures of the `houniao` CLI: one line on stderr, exit code 2, no traceback, and
nothing personal or secret in the message (through the installed entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from api.cli.errors import expected_failure
from geo.core.migrate import revisions
from tests.db import test_database_url

HOUNIAO = str(Path(sys.executable).with_name("houniao"))


@pytest.fixture
def run(engine):
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def _run(*args: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [HOUNIAO, *map(str, args)], capture_output=True, text=True, env=env, timeout=120
        )

    return _run


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "╭" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ("users", "add", "Ev7 Bad", "--role", "planner", "--password", "Secret-Pass-123!"),
            "login name must be",
        ),
        (("users", "add", "anyone", "--role", "public"), "anyone without an account"),
        (("users", "list", "--role", "bogus"), "role must be one of"),
        (("kpis", "--from", "2026-13"), "months are written YYYY-MM"),
        (("kpis", "--to", "2026-00"), "months are written YYYY-MM"),
        (("kpis", "--month", "2026-13"), "months are written YYYY-MM"),
        (("kpis", "--season", "20x"), "Invalid value for '--season'"),
        (("users", "list", "--bogus"), "No such option: --bogus"),
        (("locate", "129.0"), "Missing argument 'lat'. (see `houniao locate --help`)"),
        (("db", "upgrade", "bogus"), "unknown revision 'bogus'"),
        (("db", "downgrade", "nowhere"), "unknown revision 'nowhere'"),
        (("locate", "129.0", "47.7", "--crs", "EPSG:3857"), "accepted values"),
    ],
)
def test_expected_failures_are_one_line_and_exit_2(run, args, fragment) -> None:
    line = one_line_error(run(*args))
    assert fragment in line
    assert "$argon2" not in line and "Secret-Pass" not in line


@pytest.mark.parametrize(
    "args",
    [
        ("users", "list"),
        ("locate", "128.9", "47.7"),
        ("kpis",),
        ("releases", "list"),
        ("audit", "verify"),
        ("db", "upgrade"),
    ],
)
def test_development_keys_without_houniao_env_are_one_line_saying_what_to_do(args) -> None:
    """Every command, not only `serve`: the development keys are refused without a traceback."""
    env = {k: v for k, v in os.environ.items() if k != "HOUNIAO_ENV"}
    env["DATABASE_URL"] = test_database_url().render_as_string(hide_password=False)
    result = subprocess.run([HOUNIAO, *args], capture_output=True, text=True, env=env, timeout=60)
    line = one_line_error(result)
    assert "HOUNIAO_ENV=development" in line and "HOUNIAO_SECRET_KEY" in line


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"HOUNIAO_ENV": "production", "HOUNIAO_SECRET_KEY": "Sekrit-Value-42"}, "too short"),
        ({"HOUNIAO_ENCRYPTION_KEYS": '{"k1": "Sekrit-Value-42"'}, "HOUNIAO_ENCRYPTION_KEYS"),
        ({"HOUNIAO_ENCRYPTION_KEYS": '{"k1": "Sekrit-Value-42"}'}, "not valid base64"),
    ],
)
def test_unsafe_or_unreadable_settings_never_echo_the_key(settings, fragment) -> None:
    env = {**os.environ, **settings}
    env["DATABASE_URL"] = test_database_url().render_as_string(hide_password=False)
    result = subprocess.run(
        [HOUNIAO, "users", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    line = one_line_error(result)
    assert fragment in line and "Sekrit" not in line


def test_export_into_a_missing_folder_or_a_csv_is_refused_before_writing(run, tmp_path) -> None:
    assert "does not exist" in one_line_error(run("export", "gpkg", tmp_path / "no" / "x.gpkg"))
    assert "ends in .gpkg" in one_line_error(run("export", "gpkg", tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_db_upgrade_says_what_it_did(run) -> None:
    result = run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"is at {revisions()[-1]}; nothing to do" in result.stderr
    assert test_database_url().database in result.stderr


def test_a_refused_row_is_named_by_its_rule_never_by_its_values(session) -> None:
    """The generic mapping (for rows no service validated first): the DETAIL, which echoes the
    row (here an argon2 hash), never reaches the message."""
    with pytest.raises(sqlalchemy.exc.IntegrityError) as caught, session.begin_nested():
        session.execute(
            text(
                "INSERT INTO account (name, display_name, role, password_hash)"
                " VALUES ('Ev7 Bad', '', 'planner', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA')"
            )
        )
    assert "$argon2" in str(caught.value)  # what the traceback used to show
    message = expected_failure(caught.value)
    assert message is not None and "$argon2" not in message and "Ev7" not in message
    assert "table account" in message and "name_format" in message


def test_a_database_that_does_not_answer_is_one_line(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"}
    result = subprocess.run(
        [HOUNIAO, "releases", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    line = one_line_error(result)
    assert "cannot reach the database" in line and "hunter2" not in line


def test_an_unexpected_error_keeps_its_traceback_without_local_variables() -> None:
    assert expected_failure(ZeroDivisionError()) is None
    from api.cli.main import app

    assert app.pretty_exceptions_show_locals is False  # locals may hold passwords
