"""/docs (Swagger UI) and /redoc (ReDoc) render the operations in headless Chromium with every
request to another host blocked: their scripts and styles are vendored, not from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.app import create_app
from api.deps import get_session
from tests.browser import launch_chromium, offline_page, serve_app
from tests.db import request_sessions

FETCHED = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)""")


@pytest.fixture(scope="module")
def base_url(engine) -> Iterator[str]:
    app = create_app()

    app.dependency_overrides[get_session] = request_sessions(engine)
    with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_link_only_our_own_files(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = FETCHED.findall(r.text)
    assert urls and all(u.startswith("/static/vendor/") for u in urls), urls
    assert "http://" not in r.text and "https://" not in r.text
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.browser
def test_swagger_ui_lists_the_operations_offline(base_url, client) -> None:
    """Tags start collapsed (docExpansion "none": 160-odd operations at once stalled the page's
    rendering after a few tags); opened one at a time, every tag lists all its operations."""
    paths = client.get("/openapi.json").json()["paths"]
    tags = {t for item in paths.values() for op in item.values() for t in op.get("tags", [])}
    with launch_chromium() as browser, offline_page(browser, viewport=(1280, 900)) as p:
        p.page.goto(base_url + "/docs")
        p.page.wait_for_selector(".opblock-tag", timeout=30_000)
        sections = p.page.locator(".opblock-tag-section")
        assert sections.count() == len(tags)
        shown: set[str] = set()
        for i in range(sections.count()):
            section = sections.nth(i)
            section.locator(".opblock-tag").click()
            section.locator(".opblock-summary-path").first.wait_for(timeout=30_000)
            shown |= set(
                section.locator(".opblock-summary-path").evaluate_all(
                    "nodes => nodes.map(n => n.getAttribute('data-path'))"
                )
            )
            section.locator(".opblock-tag").click()  # closed again
        assert shown == set(paths), sorted(set(paths) ^ shown)[:10]
        assert p.blocked == [] and p.failed == [] and p.errors == [], (p.blocked, p.failed)
        p.screenshot("docs_swagger_ui")


@pytest.mark.browser
def test_redoc_lists_the_operations_offline(base_url, client) -> None:
    spec = client.get("/openapi.json").json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    operations = sum(1 for item in spec["paths"].values() for method in item if method in methods)
    with launch_chromium() as browser, offline_page(browser, viewport=(1280, 900)) as p:
        p.page.goto(base_url + "/redoc")
        p.page.wait_for_selector("[data-section-id^='operation/']", timeout=60_000)
        shown = set(
            p.page.locator("[data-section-id^='operation/']").evaluate_all(
                "nodes => nodes.map(n => n.getAttribute('data-section-id'))"
            )
        )
        assert len(shown) == operations  # (an operation with two tags is drawn twice)
        assert "operation/locate_api_v1_locate_get" in shown
        assert p.blocked == [] and p.failed == [] and p.errors == [], (p.blocked, p.failed)
        p.screenshot("docs_redoc")
