"""The dispatcher console in headless Chromium against the demo site (real uvicorn, real
database), every non-loopback request blocked: sign in, open a case from the queue, dispatch it
from the side panel; a case filed meanwhile appears in the queue without a reload."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.browser import offline_page, wait_until
from tests.e2e.test_user_maps_browser import assert_clean
from tests.site import OWN_CELL

pytestmark = pytest.mark.browser


def _bearer(site, name: str) -> dict[str, str]:
    answer = httpx.post(
        site.base + "/api/v1/auth/token", data={"username": name, "password": site.password}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _file_case(site, headers: dict[str, str], description: str) -> dict:
    cell = httpx.get(f"{site.base}/api/v1/cells/{OWN_CELL}").json()
    (x0, y0), (x1, y1) = (
        cell["geometry"]["coordinates"][0][0],
        cell["geometry"]["coordinates"][0][2],
    )
    filed = httpx.post(
        site.base + "/api/v1/cases",
        json={
            "category": "public_facility",
            "description": description,
            "lon": (x0 + x1) / 2,
            "lat": (y0 + y1) / 2,
        },
        headers=headers,
    )
    assert filed.status_code == 201, filed.text
    return filed.json()["case"]


def test_dispatcher_signs_in_opens_a_case_and_dispatches_it(site, browser):
    api = _bearer(site, site.names["dispatcher"])
    case = _file_case(site, api, "路灯不亮 street light out (console test)")
    case_id = case["id"]
    accepted = httpx.post(
        f"{site.base}/api/v1/cases/{case_id}/transitions",
        json={"action": "accept"},
        headers={**api, "If-Match": f'"case-{case_id}-v{case["properties"]["version"]}"'},
    )
    assert accepted.status_code == 200, accepted.text

    with offline_page(browser, viewport=(1280, 800)) as p:
        page = p.page
        page.goto(site.base + "/console")
        assert "/maps/login" in page.url  # the existing cookie sign-in, then back here
        page.fill("input[name=username]", site.names["dispatcher"])
        page.fill("input[name=password]", site.password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url.endswith("/console")
        link = page.locator(f"#case-row-{case_id} a.open-case")
        link.wait_for(timeout=10_000)
        wait_until(page, "window.htmx !== undefined && document.readyState === 'complete'")
        # Keyboard: the queue's link takes focus and Enter opens the case in the side panel.
        link.focus()
        page.keyboard.press("Enter")
        page.locator(f'#panel article.case[data-case="{case_id}"]').wait_for(timeout=10_000)
        assert page.url.endswith(f"/console/cases/{case_id}")
        panel = page.locator("#panel").inner_text()
        assert "事件 #" in panel and "年" in panel and "已受理" in panel
        # The live map beside the queue draws the open cases (the frame, same origin only).
        frame = page.frame_locator("#live-map")
        frame.locator(".leaflet-container").wait_for(timeout=15_000)
        # Dispatch from the panel's form: worker, note, button.
        page.select_option("#dispatch-worker", index=0)
        page.fill("#dispatch-note", "请网格员今天上门查看")
        page.click('button[data-action="dispatch"]')
        page.locator("#notice").wait_for(timeout=10_000)
        assert "已办理：分派" in page.locator("#notice").inner_text()
        assert page.evaluate("document.activeElement.id") == "notice"  # focus follows the answer
        with site.engine.connect() as conn:
            status, worker = conn.execute(
                text("SELECT status::text, assigned_worker_id FROM cases WHERE id = :i"),
                {"i": case_id},
            ).one()
        assert status == "dispatched" and worker is not None
        assert "处置" in page.locator("#panel").inner_text()  # the grid worker's next step

        # Live: a case filed elsewhere now appears in the queue without a reload.
        fresh = _file_case(site, api, "长椅损坏 broken bench (console live test)")
        page.locator(f"#case-row-{fresh['id']}").wait_for(timeout=10_000)
        p.screenshot("console-1280x800")

        # A stale form: the new case changes through the API while its panel is open; the
        # console's answer is the 412 explained with the fresh case, not a lost update.
        page.locator(f"#case-row-{fresh['id']} a.open-case").click()
        page.locator(f'#panel article.case[data-case="{fresh["id"]}"]').wait_for(timeout=10_000)
        page.fill("#accept-note", "已核实")
        version = fresh["properties"]["version"]
        moved = httpx.post(
            f"{site.base}/api/v1/cases/{fresh['id']}/transitions",
            json={"action": "accept", "note": "另一位调度员已受理"},
            headers={**api, "If-Match": f'"case-{fresh["id"]}-v{version}"'},
        )
        assert moved.status_code == 200, moved.text
        page.click('button[data-action="accept"]')
        page.locator("#notice").wait_for(timeout=10_000)
        notice = page.locator("#notice").inner_text()
        assert "412" in notice and "未办理「受理」" in notice
        assert "另一位调度员已受理" in page.locator("#panel").inner_text()
        with site.engine.connect() as conn:
            accepts = conn.execute(
                text("SELECT count(*) FROM case_event WHERE case_id = :i AND action = 'accept'"),
                {"i": fresh["id"]},
            ).scalar()
        assert accepts == 1
        assert "已核实" in notice  # what was typed is not lost
        assert_clean(p)
        p.screenshot("console-412")
        page.set_viewport_size({"width": 390, "height": 844})  # one column on a phone / at zoom
        p.screenshot("console-390x844")
