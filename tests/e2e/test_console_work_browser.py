"""Working together in the console, in headless Chromium against the demo site (every
non-loopback request blocked): two dispatchers at once (the soft lock names who is on a case; an
escalation by one reaches the other's queue within 5 s, live), bulk action on rows ticked by
keyboard, a department's inbox from summons to report-back, and a state change posted without
the CSRF token refused."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.browser import offline_page, wait_until
from tests.e2e.test_console_browser import _bearer, _file_case
from tests.e2e.test_user_maps_browser import assert_clean
from tests.live import houniao

pytestmark = pytest.mark.browser
SECOND_DISPATCHER = "t-dispatcher-2"


def _sign_in(page, site, name: str, path: str) -> None:
    page.goto(site.base + path)
    assert "/maps/login" in page.url  # the cookie sign-in, then back to `path`
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", site.password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith(path), page.url
    wait_until(page, "window.htmx !== undefined && document.readyState === 'complete'")


def _act(site, headers: dict[str, str], case_id: int, action: str, **fields) -> dict:
    """One transition through the API, on the case's current version."""
    current = httpx.get(f"{site.base}/api/v1/cases/{case_id}", headers=headers)
    assert current.status_code == 200, current.text
    version = current.json()["properties"]["version"]
    done = httpx.post(
        f"{site.base}/api/v1/cases/{case_id}/transitions",
        json={"action": action, **fields},
        headers={**headers, "If-Match": f'"case-{case_id}-v{version}"'},
    )
    assert done.status_code == 200, done.text
    return done.json()


def _case_row(site, case_id: int) -> tuple[str, str]:
    with site.engine.connect() as conn:
        status, tier = conn.execute(
            text("SELECT status::text, tier::text FROM cases WHERE id = :i"), {"i": case_id}
        ).one()
    return status, tier


@pytest.fixture(scope="module")
def second_dispatcher(site) -> str:
    added = houniao(
        site.database_url,
        *("users", "add", SECOND_DISPATCHER, "--role", "dispatcher", "--password", site.password),
    )
    assert added.returncode == 0, added.stderr[-2000:]
    return SECOND_DISPATCHER


def test_two_dispatchers_see_each_others_lock_and_escalation_live(site, browser, second_dispatcher):
    api = _bearer(site, site.names["dispatcher"])
    case_id = _file_case(site, api, "井盖松动 loose manhole cover (two consoles)")["id"]
    with (
        offline_page(browser, viewport=(1280, 800)) as first,
        offline_page(browser, viewport=(1280, 800)) as second,
    ):
        _sign_in(first.page, site, site.names["dispatcher"], "/console")
        _sign_in(second.page, site, second_dispatcher, "/console")
        row = f"#case-row-{case_id}"
        first.page.locator(f"{row} a.open-case").click()
        first.page.locator("#soft-lock .lock-mine").wait_for(timeout=10_000)
        # The second dispatcher opens the same case: told who is on it, not stopped.
        second.page.locator(f"{row} a.open-case").click()
        second.page.locator(f'#panel article.case[data-case="{case_id}"]').wait_for(timeout=10_000)
        other = second.page.locator("#soft-lock .lock-other")
        other.wait_for(timeout=10_000)
        assert site.names["dispatcher"] in other.inner_text()
        # Its queue row shows the lock too, after the next refresh.
        second.page.locator(f"{row} .lock-mark").wait_for(timeout=10_000)
        second.screenshot("console-soft-lock-1280x800")

        assert "网格即时办" in second.page.locator(row).inner_text()
        first.page.fill("#escalate-note", "网格员无法处理，升级到社区")
        first.page.click('button[data-action="escalate"]')
        first.page.locator("#notice").wait_for(timeout=10_000)
        assert "已办理：升级" in first.page.locator("#notice").inner_text()
        assert _case_row(site, case_id) == ("dispatched", "community")
        # Live: within 5 s the other console's queue shows the case at the community tier.
        wait_until(
            second.page,
            f"(document.querySelector('{row}') || {{innerText: ''}}).innerText.includes('社区协调办')",
            timeout=5,
        )
        assert_clean(first)
        assert_clean(second)


def test_rows_ticked_by_keyboard_are_accepted_in_bulk(site, browser):
    api = _bearer(site, site.names["dispatcher"])
    ids = [_file_case(site, api, f"路面积水 puddle (bulk {i})")["id"] for i in range(2)]
    with offline_page(browser, viewport=(1280, 800)) as p:
        page = p.page
        _sign_in(page, site, site.names["dispatcher"], "/console")
        for case_id in ids:  # focus a row's link, make it current with j/k, tick it with x
            page.locator(f"#case-row-{case_id}").wait_for(timeout=10_000)
            page.evaluate(
                "id => { document.querySelectorAll('#queue tr.current').forEach("
                "r => r.classList.remove('current'));"
                " document.getElementById('case-row-' + id).classList.add('current'); }",
                case_id,
            )
            page.locator("body").press("x")
            assert page.locator(f'#case-row-{case_id} input[name="cases"]').is_checked()
        page.select_option("#bulk-action", "accept")
        page.fill("#bulk-note", "批量受理（浏览器测试）")
        page.click("#bulk button[type=submit]")
        page.locator("#bulk-notice").wait_for(timeout=10_000)
        assert "2" in page.locator("#bulk-notice").inner_text()
        assert [_case_row(site, i)[0] for i in ids] == ["accepted", "accepted"]
        p.screenshot("console-bulk-1280x800")
        assert_clean(p)


def test_a_department_acknowledges_and_reports_back_from_its_inbox(site, browser):
    api = _bearer(site, site.names["dispatcher"])
    street = _bearer(site, site.names["street_staff"])
    case_id = _file_case(site, api, "河道垃圾堆积 rubbish in the creek (whistle)")["id"]
    _act(site, api, case_id, "escalate", note="社区")
    _act(site, api, case_id, "escalate", note="街道")
    _act(site, street, case_id, "start")
    _act(site, street, case_id, "summon", departments=["health"], note="请卫健部门到场")
    with offline_page(browser, viewport=(1280, 800)) as p:
        page = p.page
        page.goto(site.base + "/console")
        page.fill("input[name=username]", site.names["department"])
        page.fill("input[name=password]", site.password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url.endswith("/console/inbox")  # a department lands on its inbox
        row = page.locator(f'tr[data-case="{case_id}"]')
        row.wait_for(timeout=10_000)
        assert "待报到" in row.inner_text()
        p.screenshot("console-inbox-1280x800")
        row.locator("a.open-case").click()
        page.locator(f'#panel article.case[data-case="{case_id}"]').wait_for(timeout=10_000)
        page.click('button[data-action="acknowledge"]')
        page.locator("#notice").wait_for(timeout=10_000)
        assert "已办理：部门报到" in page.locator("#notice").inner_text()
        page.fill("#report_back-report", "已派员清理河道，现场已恢复")
        page.click('button[data-action="report_back"]')
        wait_until(page, "document.querySelector('#notice').innerText.includes('部门反馈')")
        with site.engine.connect() as conn:
            acknowledged, reported, report = conn.execute(
                text(
                    "SELECT acknowledged_at, reported_at, report FROM case_summons"
                    " WHERE case_id = :i AND department_code = 'health'"
                ),
                {"i": case_id},
            ).one()
        assert acknowledged is not None and reported is not None and "清理" in report
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(site.base + "/console/inbox")
        p.screenshot("console-inbox-390x844")
        assert_clean(p)


def test_a_state_change_without_the_csrf_token_is_refused(site, browser):
    api = _bearer(site, site.names["dispatcher"])
    case = _file_case(site, api, "噪音扰民 noise at night (csrf)")
    with offline_page(browser, viewport=(1280, 800)) as p:
        page = p.page
        _sign_in(page, site, site.names["dispatcher"], "/console")
        # The signed-in browser posts the panel's form fields, all but the token.
        status = page.evaluate(
            """([id, version]) => fetch('/console/cases/' + id + '/transitions', {
                 method: 'POST', credentials: 'same-origin',
                 headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                 body: new URLSearchParams({action: 'accept', version: String(version)})
               }).then(r => r.status)""",
            [case["id"], case["properties"]["version"]],
        )
        assert status == 403
        assert _case_row(site, case["id"])[0] == "reported"  # nothing changed
