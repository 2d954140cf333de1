"""The browser of the map tests; the demo site they open is the session fixture `site`
(tests/site.py)."""

from __future__ import annotations

import pytest

from tests.browser import launch_chromium
from tests.site import OWN_CELL, PASSWORD

__all__ = ["OWN_CELL", "PASSWORD"]


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b
