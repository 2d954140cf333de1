"""Headless Chromium for tests: pages that may only reach this machine, and a local server.

Debian's ``/usr/bin/chromium`` driven by playwright-python (never ``playwright install``:
no browser download is possible here). Every request to a host other than 127.0.0.1,
localhost or ::1 is aborted and recorded, so a test can assert nothing external was asked for.

    from tests.browser import launch_chromium, offline_page, serve_app

    with serve_app(app) as base_url, launch_chromium() as browser:
        with offline_page(browser) as p:
            p.page.goto(base_url + "/map")
            assert p.blocked == [] and p.failed == [] and p.errors == []
            p.screenshot("map")

In a test module, a module-scoped fixture around `launch_chromium` shares one browser.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, Request, Response, Route, sync_playwright

from geo.core import clock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # we run as root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SCREENSHOT_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def save_screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG of `page` as ``artifacts/screenshots/<name>.png`` and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@dataclass
class OfflinePage:
    """A page whose requests outside this machine are aborted, with what happened on it."""

    page: Page
    blocked: list[str] = field(default_factory=list)  # external URLs requested (aborted)
    failed: list[str] = field(default_factory=list)  # local requests that failed or got >= 400
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors
    console_errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        return save_screenshot(self.page, name, full_page=full_page)


def wait_until(page: Page, expression: str, *, timeout: float = 15.0, every: float = 0.01) -> None:
    """Wait until a JavaScript expression is true in `page`.

    Playwright's `wait_for_function` evaluates its string inside the page, which the pages'
    Content-Security-Policy forbids (no 'unsafe-eval'); `evaluate` runs through the DevTools
    protocol instead, which the policy does not govern.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression} still false after {timeout} s")
        time.sleep(every)


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with background networking off."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_page(
    browser: Browser,
    *,
    viewport: tuple[int, int] = (1024, 768),
    locale: str = "zh-CN",
    timezone_id: str = clock.CITY_TZ_NAME,
    service_workers: bool = False,
) -> Iterator[OfflinePage]:
    """A fresh context and page in `browser` that may only reach this machine.

    Service workers are blocked unless `service_workers` (the phone app's offline test): a
    worker's own fetches bypass the guard below, so a test allowing them must check that its
    worker asks only this origin (the phone app's `sw.js` handles same-origin requests only)."""
    width, height = viewport
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale=locale,
        timezone_id=timezone_id,
        # a service worker's fetches would bypass the route below
        service_workers="allow" if service_workers else "block",
    )
    result = OfflinePage(context.new_page())

    def guard(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            result.blocked.append(url)
            route.abort("blockedbyclient")

    def on_failed(request: Request) -> None:
        if request.url not in result.blocked:
            result.failed.append(f"{request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            result.failed.append(f"{response.url}: HTTP {response.status}")

    context.route("**/*", guard)
    result.page.on("requestfailed", on_failed)
    result.page.on("response", on_response)
    result.page.on("pageerror", lambda exc: result.errors.append(str(exc)))
    result.page.on(
        "console",
        lambda msg: result.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    try:
        yield result
    finally:
        context.close()


@contextmanager
def serve_app(app: FastAPI, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Run `app` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # port 0: the kernel picks a free port, no race
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
