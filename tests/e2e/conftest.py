"""End-to-end tests: real clients against the running app. The README walk (marker `walk`),
browsers (headless Chromium, marker `browser`) and GDAL's command-line tools (marker `gdal`);
each file carries its own marker, so a run can leave a kind out (scripts/test's second run)."""

from __future__ import annotations

import pytest

from tests.browser import launch_chromium
from tests.spatial.conftest import inside  # noqa: F401 - a fixture shared with tests/spatial


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b
