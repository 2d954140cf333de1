"""Secrets fail closed, written as the attacks (issue 9, hole 6; issue 11).

- A server started without HOUNIAO_ENV signed tokens with the repository's development key,
  which anyone can read: now the development keys work only with HOUNIAO_ENV=development.
- Keys that look set but are guessable ('x' * 40, an all-zero AES key, too short) were accepted.
- `HOUNIAO_ENV=production houniao serve` with the development keys said "startup complete",
  listened and answered 500 to every request; now it exits with one line before listening.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time

import pytest

from geo.core.config import SecuritySettings
from tests import cityclock
from tests.db import test_database_url
from tests.live import HOUNIAO, free_port
from tests.security.test_settings import STRONG

REAL_KEYS = {k: v for k, v in STRONG.items() if k != "env"}
ZERO_AES = {
    "encryption_keys": {"k1": base64.b64encode(bytes(32)).decode()},
    "encryption_key_id": "k1",
}
TEXT_AES = {
    "encryption_keys": {"k1": base64.b64encode(b"our-city-key-for-2026-residents!").decode()},
    "encryption_key_id": "k1",
}
REPEATED_AES = {
    "encryption_keys": {"k1": base64.b64encode(b"\x01\x02" * 16).decode()},
    "encryption_key_id": "k1",
}


def test_unset_env_refuses_the_repository_keys(monkeypatch):
    monkeypatch.delenv("HOUNIAO_ENV", raising=False)
    with pytest.raises(ValueError, match="HOUNIAO_ENV is not set.*HOUNIAO_SECRET_KEY"):
        SecuritySettings()


def test_unset_env_with_real_keys_is_held_to_production_rules(monkeypatch):
    monkeypatch.delenv("HOUNIAO_ENV", raising=False)
    s = SecuritySettings(**REAL_KEYS)
    assert not s.is_development and s.secure_cookies
    with pytest.raises(ValueError, match="ACCESS_TOKEN_MINUTES"):
        SecuritySettings(**REAL_KEYS, access_token_minutes=600)


def test_development_named_explicitly_uses_the_repository_keys():
    s = SecuritySettings(env="development")
    assert s.is_development and not s.secure_cookies


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"secret_key": "x" * 40}, "HOUNIAO_SECRET_KEY is not random"),
        ({"hmac_key": "x" * 40}, "HOUNIAO_HMAC_KEY is not random"),
        ({"secret_key": "ab" * 24}, "HOUNIAO_SECRET_KEY is not random"),
        ({"secret_key": os.urandom(10).hex()}, "HOUNIAO_SECRET_KEY is too short"),
        ({"previous_secret_keys": ["x" * 40]}, r"HOUNIAO_PREVIOUS_SECRET_KEYS\[0\] is not random"),
        (ZERO_AES, "all zero"),
        (TEXT_AES, "plain text"),
        (REPEATED_AES, "not random"),
    ],
    ids=[
        "x40-secret",
        "x40-hmac",
        "repeated-secret",
        "short-secret",
        "x40-previous-secret",
        "zero-aes",
        "text-aes",
        "repeated-aes",
    ],
)
def test_guessable_keys_are_refused_in_every_environment(env, override, problem):
    with pytest.raises(ValueError, match=problem):
        SecuritySettings(**{**REAL_KEYS, "env": env, **override})


def test_the_refusal_names_settings_never_their_values(monkeypatch):
    from geo.core.config import SettingsError, security_settings

    weak = "x" * 40
    monkeypatch.setenv("HOUNIAO_SECRET_KEY", weak)
    security_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            security_settings()
    finally:
        monkeypatch.undo()
        security_settings.cache_clear()
    message = str(caught.value)
    assert "HOUNIAO_SECRET_KEY" in message and weak not in message and "\n" not in message


# --- the real server: refuses before it listens ----------------------------------------------

BAD_STARTS = {
    "production-with-development-keys": {"HOUNIAO_ENV": "production"},
    "env-unset-with-development-keys": {"HOUNIAO_ENV": None},
    "development-with-a-guessable-key": {
        "HOUNIAO_ENV": "development",
        "HOUNIAO_SECRET_KEY": "x" * 40,
    },
}


def _start(command: list[str], port: int, env_changes: dict[str, str | None]):
    """Run a server command; (exit code, stdout, stderr, whether the port ever accepted)."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url().render_as_string(hide_password=False),
        "HOUNIAO_SCHEDULER": "0",
    }
    # A frozen-clock run's subprocess hook refuses HOUNIAO_ENV=production (tests/cityclock.py);
    # the refusal tested here happens before any clock is read.
    env.pop(cityclock.ENV_OFFSET, None)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    listened = False
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                listened = True
                break
            except OSError:
                time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.terminate()
        out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err, listened


@pytest.mark.parametrize("changes", list(BAD_STARTS.values()), ids=list(BAD_STARTS))
def test_houniao_serve_exits_before_listening_saying_why(changes):
    port = free_port()
    code, out, err, listened = _start([HOUNIAO, "serve", "--port", str(port)], port, changes)
    assert not listened, "the server listened with unsafe secrets"
    assert code == 2, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: refusing to start") and "HOUNIAO_SECRET_KEY" in lines[0]
    assert "startup complete" not in out + err and "Traceback" not in err
    assert "x" * 40 not in out + err  # never the value itself


def test_any_uvicorn_launch_fails_its_startup_before_listening():
    """Started by uvicorn directly (not `houniao serve`): the app's startup refuses."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port)]
    code, out, err, listened = _start(command, port, BAD_STARTS["production-with-development-keys"])
    assert not listened and code != 0
    assert "HOUNIAO_SECRET_KEY" in err and "Application startup failed" in err
    assert "dev-only" not in out + err  # the message names settings, never values
