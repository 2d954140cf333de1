"""The grid worker's phone app (/m/) in headless Chromium at 390 x 844 against the demo site
(real uvicorn, real database), every non-loopback request blocked, the service worker allowed:
sign in and land on /m/; go offline; reload (the shell comes from the service worker's cache);
log a concern and register a resident with the phone's GPS (they wait in the outbox); come
back online; the outbox sends them by itself, in order, and the database holds each exactly
once, with the receipts shown on the phone."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.browser import offline_page, wait_until
from tests.e2e.test_user_maps_browser import assert_clean
from tests.site import OWN_CELL

pytestmark = pytest.mark.browser
MARKER = "路灯坏了三天（离线记录测试）"
NEWCOMER = "离线登记测试"


def _rows(site) -> int:
    with site.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM concern_entry WHERE text = :t"), {"t": MARKER}
            ).scalar()
            or 0
        )


def _registered(site) -> int:
    with site.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM resident WHERE name = :n"), {"n": NEWCOMER}
            ).scalar()
            or 0
        )


def _point_in_own_cell(site) -> tuple[float, float]:
    cell = httpx.get(f"{site.base}/api/v1/cells/{OWN_CELL}").json()
    ring = cell["geometry"]["coordinates"][0]
    lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    placed = httpx.get(f"{site.base}/api/v1/locate", params={"lon": lon, "lat": lat}).json()
    assert placed["cell_code"] == OWN_CELL, placed
    return lon, lat


def _wait_for_worker(page) -> None:
    # The worker controls the page once its install has fetched the shell (eleven server-rendered
    # pages and scripts): seconds on a busy 2-core machine, so the wait is generous.
    wait_until(page, "navigator.serviceWorker.controller !== null", timeout=60)
    wait_until(
        page,
        "caches.keys().then(k => k.length > 0)",  # a promise: evaluate awaits it
        timeout=20,
    )


def test_offline_concern_is_queued_and_sent_exactly_once(site, browser):
    lon, lat = _point_in_own_cell(site)
    with offline_page(browser, viewport=(390, 844), service_workers=True) as p:
        page, context = p.page, p.page.context
        context.grant_permissions(["geolocation"], origin=site.base)
        context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
        page.goto(site.base + "/m/")
        assert "/maps/login" in page.url  # the existing cookie sign-in
        page.fill("input[name=username]", site.names["grid_worker"])
        page.fill("input[name=password]", site.password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == site.base + "/m/"  # a grid worker lands on the phone app
        assert "今日工作" in page.content() and "年" in page.locator(".who").inner_text()
        page.frame_locator("iframe.cellmap").locator(".leaflet-container").wait_for(timeout=15_000)
        _wait_for_worker(page)
        p.screenshot("phone-home-390x844")
        assert_clean(p)

        page.goto(site.base + "/m/concerns")
        _wait_for_worker(page)
        context.set_offline(True)
        page.reload()  # offline: the shell and the page come from the service worker's cache
        assert page.locator("h1").inner_text() == "民情记录本"
        assert "离线" in page.locator("#net").inner_text()
        # Three taps: a category, the GPS, save (and the words typed).
        page.click('label[for="c-cat-transport"]')
        page.fill("#c-text", MARKER)
        page.click("#concern-form button.locate")
        wait_until(page, "document.querySelector('#c-where').textContent.includes('WGS84')")
        assert "已定位" in page.locator("#c-where").inner_text()
        page.click("#concern-form button[type=submit]")
        wait_until(page, "document.querySelector('#flash').textContent.includes('待发送')")
        assert "离线" in page.locator("#flash").inner_text()
        # A resident registered offline too: the form in the intake's fields, the GPS point.
        page.goto(site.base + "/m/register")  # offline: cached
        page.fill("#r-name", NEWCOMER)
        page.select_option("#r-sex", "女")
        page.fill("#r-birth", "1952")
        page.fill("#r-origin", "广东广州")
        page.click("#register-form button.locate")
        wait_until(page, "document.querySelector('#r-where').textContent.includes('WGS84')")
        page.click("#register-form button[type=submit]")
        wait_until(page, "document.querySelector('#flash').textContent.includes('待发送')")
        page.goto(site.base + "/m/outbox")  # still offline: cached
        items = page.locator("#outbox-list li.item")
        items.nth(1).wait_for(timeout=10_000)
        assert [items.nth(i).get_attribute("data-state") for i in range(2)] == ["waiting"] * 2
        assert "等待发送" in items.first.inner_text() and MARKER in items.first.inner_text()
        assert page.locator("#outbox-count").inner_text() == "2"
        p.screenshot("phone-outbox-offline-390x844")
        assert _rows(site) == 0 and _registered(site) == 0  # nothing reached the server

        context.set_offline(False)  # the 'online' event: the outbox sends by itself
        wait_until(
            page,
            "document.querySelectorAll('#outbox-list li.item[data-state=\"sent\"]').length === 2",
            timeout=30,
        )
        for i in range(2):
            sent = page.locator("#outbox-list li.item").nth(i).inner_text()
            assert "已发送" in sent and "回执" in sent and "服务器编号" in sent
        assert "登记 #" in page.locator("#outbox-list li.item").nth(1).inner_text()
        assert _rows(site) == 1 and _registered(site) == 1
        page.reload()  # a second look sends nothing again
        page.locator("#outbox-list li.item").first.wait_for(timeout=10_000)
        page.click("#outbox-send")
        page.wait_for_timeout(500)
        assert _rows(site) == 1 and _registered(site) == 1
        with site.engine.connect() as conn:
            cell = conn.execute(
                text("SELECT cell_code FROM concern_entry WHERE text = :t"), {"t": MARKER}
            ).scalar()
        assert cell == OWN_CELL  # placed by the phone's GPS (WGS84)
        p.screenshot("phone-outbox-sent-390x844")
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(site.base + "/m/")
        p.screenshot("phone-home-1280x800")
        assert p.blocked == [] and p.errors == []


def _stay_past_departure(site) -> tuple[int, str]:
    """A stay of last season in my cell whose departure nobody confirmed: the demo confirms
    every one, so one confirmation is taken back on the site's database (the report stays; the
    phone's confirmation is the newer report). Its id and expected departure date."""
    with site.engine.begin() as conn:
        stay_id, expected = conn.execute(
            text(
                "SELECT s.id, s.expected_departure::text FROM stay s"
                " JOIN resident r ON r.id = s.resident_id"
                " WHERE s.cell_code = :c AND r.status = 'active' AND s.season = 2026"
                " AND s.expected_departure IS NOT NULL AND s.departed_on IS NOT NULL"
                " AND s.last_reported_on <= s.expected_departure ORDER BY s.id LIMIT 1"
            ),
            {"c": OWN_CELL},
        ).one()
        conn.execute(
            text("UPDATE stay SET departed_on = NULL, departure_confirmed_by = NULL WHERE id = :s"),
            {"s": stay_id},
        )
    return stay_id, expected


def test_departure_confirmed_offline_once_and_another_cells_archive_is_404(site, browser):
    stay_id, expected = _stay_past_departure(site)
    with site.engine.connect() as conn:
        elsewhere = conn.execute(
            text("SELECT resident_id FROM stay WHERE cell_code <> :c ORDER BY id LIMIT 1"),
            {"c": OWN_CELL},
        ).scalar()
    with offline_page(browser, viewport=(390, 844), service_workers=True) as p:
        page, context = p.page, p.page.context
        page.goto(site.base + "/m/")
        page.fill("input[name=username]", site.names["grid_worker"])
        page.fill("input[name=password]", site.password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        # Editing the URL to another cell's archive: not found, as if it did not exist.
        answer = page.goto(f"{site.base}/m/residents/{elsewhere}")
        assert answer is not None and answer.status == 404

        page.goto(site.base + "/m/departures")
        _wait_for_worker(page)
        page.locator(f"#dep-{stay_id}").wait_for(timeout=10_000)
        p.screenshot("phone-departures-390x844")
        context.set_offline(True)
        page.reload()  # offline: the page as last seen, from the service worker's cache
        page.fill(f"#dep-note-{stay_id}", "邻居说已回南方（离线确认）")
        page.click(f"#dep-{stay_id} button[type=submit]")
        wait_until(page, "document.querySelector('#flash').textContent.includes('待发送')")
        with site.engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT departed_on FROM stay WHERE id = :s"), {"s": stay_id}
                ).scalar()
                is None
            )  # nothing reached the server

        page.goto(site.base + "/m/outbox")
        context.set_offline(False)
        wait_until(
            page,
            "[...document.querySelectorAll('#outbox-list li.item')]"
            ".some(li => li.dataset.state === 'sent' && li.innerText.includes('确认离开'))",
            timeout=30,
        )
        page.reload()
        page.locator("#outbox-list li.item").first.wait_for(timeout=10_000)
        page.click("#outbox-send")  # sending again sends nothing twice
        page.wait_for_timeout(500)
        with site.engine.connect() as conn:
            departed, by = conn.execute(
                text("SELECT departed_on::text, departure_confirmed_by FROM stay WHERE id = :s"),
                {"s": stay_id},
            ).one()
        assert departed == expected and by == site.names["grid_worker"]
        assert p.blocked == [] and p.errors == []
