"""The service card in headless Chromium with every external request blocked: the map draws."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from api.app import create_app
from api.deps import get_session
from tests.browser import launch_chromium, offline_page, serve_app
from tests.db import request_sessions

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(engine) -> Iterator[str]:
    app = create_app()

    app.dependency_overrides[get_session] = request_sessions(engine)
    with serve_app(app) as url:
        yield url


def test_card_map_draws_offline(base_url, inside):
    with launch_chromium() as browser, offline_page(browser, viewport=(390, 844)) as p:
        p.page.goto(f"{base_url}/card?lon={inside[0]}&lat={inside[1]}")
        p.page.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
        # The cell outline, the line to the service area and the two circle markers.
        assert p.page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 4
        assert p.page.locator(".hn-qr svg").count() == 1
        assert p.blocked == [] and p.failed == [] and p.errors == []
        assert [m for m in p.console_errors if "Content Security Policy" in m] == []
        p.screenshot("service_card")
        # What a phone's camera reads from the screen: the grid worker's vCard.
        shot = p.page.locator(".hn-qr svg").screenshot()
        (code,) = zxingcpp.read_barcodes(np.asarray(Image.open(io.BytesIO(shot)).convert("L")))
        assert code.text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
        name = p.page.locator(".hn-worker .hn-name").first.inner_text()
        phone = p.page.locator(".hn-worker a.hn-tel").first.inner_text()
        assert f"FN:{name}\r\n" in code.text and f"VOICE:{phone}\r\n" in code.text
