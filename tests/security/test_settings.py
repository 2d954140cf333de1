"""Security settings: built-in development defaults are refused in production."""

from __future__ import annotations

import base64
import os

import pytest

from geo.core.config import SecuritySettings

STRONG = {
    "env": "production",
    "secret_key": "s" * 20 + os.urandom(16).hex(),
    "hmac_key": "h" * 20 + os.urandom(16).hex(),
    "encryption_keys": {"2026a": base64.b64encode(os.urandom(32)).decode()},
    "encryption_key_id": "2026a",
}


def test_development_defaults_load():
    s = SecuritySettings()
    assert s.env in ("development", "test") and s.db_role


def test_production_with_real_secrets_loads():
    assert SecuritySettings(**STRONG).env == "production"


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"secret_key": "dev-only-secret-key-change-me-0123456789abcdef"}, "HOUNIAO_SECRET_KEY"),
        ({"secret_key": "short"}, "HOUNIAO_SECRET_KEY"),
        ({"hmac_key": "dev-only-hmac-key-change-me-0123456789abcdef"}, "HOUNIAO_HMAC_KEY"),
        (
            {
                "encryption_keys": {"dev1": "ZGV2LW9ubHktYWVzLWtleS0zMi1ieXRlcy0wMDAwMDA="},
                "encryption_key_id": "dev1",
            },
            "HOUNIAO_ENCRYPTION_KEYS",
        ),
        ({"db_role": ""}, "HOUNIAO_DB_ROLE"),
        ({"access_token_minutes": 600}, "ACCESS_TOKEN_MINUTES"),
    ],
)
def test_production_refuses_weak_settings(override, problem):
    with pytest.raises(ValueError, match=problem):
        SecuritySettings(**{**STRONG, **override})


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"encryption_keys": {"k": "bm90IDMyIGJ5dGVz"}, "encryption_key_id": "k"}, "32 bytes"),
        ({"encryption_keys": {"k": "***"}, "encryption_key_id": "k"}, "base64"),
        ({"encryption_key_id": "nope"}, "not among the key ids"),
        ({"db_role": "app; DROP TABLE account"}, "plain lower-case role name"),
        ({"env": "prod"}, "HOUNIAO_ENV"),
        ({"lockout_threshold": 0}, "LOCKOUT_THRESHOLD"),
    ],
)
def test_malformed_settings_are_refused_everywhere(override, problem):
    with pytest.raises(ValueError, match=problem):
        SecuritySettings(**override)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOUNIAO_ENV", "production")
    monkeypatch.setenv("HOUNIAO_SECRET_KEY", "dev-only-secret-key-change-me-0123456789abcdef")
    with pytest.raises(ValueError, match="refusing to start in production"):
        SecuritySettings()
