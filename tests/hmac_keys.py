"""Switch this process's HMAC keys (as an API restarted with other settings would have them)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator

import pytest

from geo.core.config import DEV_HMAC_KEY, LEGACY_HMAC_KEY_ID, security_settings

A = LEGACY_HMAC_KEY_ID  # the development HOUNIAO_HMAC_KEY: bare hashes
B = "k2"
KEY_B = secrets.token_urlsafe(32)
A_AND_B = {A: DEV_HMAC_KEY, B: KEY_B}
B_ONLY = {B: KEY_B}

UseKeys = Callable[[dict[str, str], str], None]


@pytest.fixture
def use_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[UseKeys]:
    """`use_keys(keys, active)`: HOUNIAO_HMAC_KEYS and HOUNIAO_HMAC_KEY_ID from now on; the
    development key again after the test."""

    def use(keys: dict[str, str], active: str) -> None:
        monkeypatch.setenv("HOUNIAO_HMAC_KEYS", json.dumps(keys))
        monkeypatch.setenv("HOUNIAO_HMAC_KEY_ID", active)
        security_settings.cache_clear()

    try:
        yield use
    finally:
        monkeypatch.undo()
        security_settings.cache_clear()
