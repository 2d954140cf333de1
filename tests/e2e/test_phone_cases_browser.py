"""A grid worker's cases on the phone (/m/cases) in headless Chromium at 390 x 844 against the demo
site (real uvicorn, real database), every non-loopback request blocked, the service worker
allowed: from the home screen's count to the list, a case opened, accepted and dispatched online;
then offline, the page reloaded from the service worker's cache, handling started (the step waits
in the outbox) and a second case accepted while the dispatcher escalates it meanwhile; back
online the outbox sends both once: the first is written exactly once, the second is refused with
the 412 in words and kept on the phone, never silently lost."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.browser import offline_page
from tests.e2e.test_console_browser import _bearer, _file_case
from tests.e2e.test_phone_browser import _wait_for_worker
from tests.e2e.test_user_maps_browser import assert_clean

pytestmark = pytest.mark.browser


def _state(site, case_id: int) -> tuple[str, int]:
    with site.engine.connect() as conn:
        status, version = conn.execute(
            text("SELECT status::text, version FROM cases WHERE id = :i"), {"i": case_id}
        ).one()
    return status, version


def _events(site, case_id: int, action: str) -> int:
    with site.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM case_event WHERE case_id = :i AND action = :a"),
                {"i": case_id, "a": action},
            ).scalar()
            or 0
        )


def _shows_status(page, status: str) -> None:
    """Wait for the case page drawn afresh (the page reloads itself) with `status`."""
    page.locator(f'#case-status[data-status="{status}"]').wait_for(timeout=20_000)


def test_grid_worker_handles_a_case_one_step_offline_sent_once(site, browser):
    worker_api = _bearer(site, site.names["grid_worker"])
    case = _file_case(site, worker_api, "井盖松动（手机端事件测试）")
    other = _file_case(site, worker_api, "路灯闪烁（离线期间被升级）")
    cid, oid = case["id"], other["id"]
    with offline_page(browser, viewport=(390, 844), service_workers=True) as p:
        page, context = p.page, p.page.context
        page.goto(site.base + "/m/")
        page.fill("input[name=username]", site.names["grid_worker"])
        page.fill("input[name=password]", site.password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == site.base + "/m/"
        _wait_for_worker(page)
        with page.expect_navigation():
            page.click("#tile-cases")  # the home screen's count of open cases
        assert page.url == site.base + "/m/cases"
        row = page.locator(f"#case-{cid}")
        assert "待我办理：受理" in row.inner_text() and "剩余" in row.inner_text()
        page.goto(f"{site.base}/m/cases/{oid}")  # seen once: kept for a walk without signal
        page.goto(f"{site.base}/m/cases")
        with page.expect_navigation():
            page.click(f"#case-{cid} a")
        assert page.locator("h1").inner_text() == f"事件 #{cid}"
        page.frame_locator("iframe.cellmap").locator(".leaflet-container").wait_for(timeout=15_000)
        p.screenshot("phone-case-390x844")
        assert_clean(p)

        # Online: accept, then dispatch (to the cell's grid worker), each sent at once.
        page.fill("#accept-note", "已电话联系居民，马上到场")
        page.click("form.action-accept button[type=submit]")
        _shows_status(page, "accepted")
        assert "已发送" in page.locator("#flash").inner_text()
        page.click("form.action-dispatch button[type=submit]")
        _shows_status(page, "dispatched")
        assert _state(site, cid)[0] == "dispatched" and _events(site, cid, "accept") == 1

        # Offline: the page from the cache, handling started; the step waits in the outbox.
        _wait_for_worker(page)
        context.set_offline(True)
        page.reload()
        assert page.locator("#case-status").get_attribute("data-status") == "dispatched"
        assert "离线" in page.locator("#net").inner_text()
        page.fill("#start-note", "到现场，井盖已临时围挡（离线记录）")
        page.click("form.action-start button[type=submit]")
        page.locator("#case-queued").wait_for(state="visible")
        assert "等待发送" in page.locator("#case-queued").inner_text()
        assert page.locator("#case-forms").is_hidden()  # one step at a time
        assert _state(site, cid)[0] == "dispatched"  # nothing reached the server
        # The second case, accepted offline from its cached page...
        page.goto(f"{site.base}/m/cases/{oid}")
        page.click("form.action-accept button[type=submit]")
        page.locator("#case-queued").wait_for(state="visible")
        assert page.locator("#outbox-count").inner_text() == "2"
        # ... while the dispatcher escalates it to the community.
        dispatcher = _bearer(site, site.names["dispatcher"])
        version = _state(site, oid)[1]
        escalated = httpx.post(
            f"{site.base}/api/v1/cases/{oid}/transitions",
            json={"action": "escalate", "note": "居民直接打了热线"},
            headers={**dispatcher, "If-Match": f'"case-{oid}-v{version}"'},
        )
        assert escalated.status_code == 200, escalated.text

        # Back online, on the first case's page: the outbox sends by itself, the page follows.
        page.goto(f"{site.base}/m/cases/{cid}")
        context.set_offline(False)
        _shows_status(page, "in_handling")
        assert "已发送" in page.locator("#flash").inner_text()
        assert "到现场，井盖已临时围挡" in page.locator("#timeline").inner_text()
        page.goto(site.base + "/m/outbox")
        page.locator("#outbox-list li.item").nth(3).wait_for(timeout=10_000)
        started = page.locator("#outbox-list li.item", has_text=f"事件 #{cid} 开始处置")
        refused = page.locator("#outbox-list li.item", has_text=f"事件 #{oid} 受理")
        assert started.get_attribute("data-state") == "sent" and "回执" in started.inner_text()
        assert refused.get_attribute("data-state") == "failed"
        words = refused.inner_text()
        assert "412" in words and "已被更新" in words and "社区协调办" in words
        assert page.locator("#outbox-count").inner_text() == "1"  # kept until deleted
        p.screenshot("phone-case-outbox-390x844")
        page.click("#outbox-send")  # sending again sends nothing twice
        page.wait_for_timeout(500)
        assert _events(site, cid, "start") == 1 and _state(site, cid)[0] == "in_handling"
        assert _events(site, oid, "accept") == 0  # refused, and kept on the phone
        assert _state(site, oid)[0] == "dispatched"
        assert p.blocked == [] and p.errors == []
