"""What leaks around the answers, written as the attacks (issue 9, "Bad input and resource
limits"): statement parameters in database errors, query strings in the access log, cookies
without the Secure flag behind a TLS proxy, HTML pages that can be framed or run injected
script. The pages must still draw in Chromium under their Content-Security-Policy."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from api.deps import get_session
from geo.access.principal import Role, app_engine
from geo.accounts import passwords
from geo.core.config import SecuritySettings
from geo.core.db import get_engine
from tests.browser import launch_chromium, offline_page, serve_app
from tests.cases.conftest import point_in
from tests.db import request_sessions, test_database_url
from tests.live import Served, served
from tests.security.conftest import OWN_CELL, add_account, bearer
from tests.security.test_settings import STRONG

ID_NUMBER = "230702199001011234"
PASSWORD = "Forest-City-838"


# --- database errors -------------------------------------------------------------------------


def test_database_errors_never_carry_the_statement_parameters(engine):
    eng = get_engine(test_database_url().render_as_string(hide_password=False))
    with eng.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text("SELECT CAST(:id_number AS text), 1 / 0"), {"id_number": ID_NUMBER})
    assert "division by zero" in str(caught.value)
    assert ID_NUMBER not in str(caught.value)
    assert app_engine().hide_parameters, "the API's own engine must hide them too"


# --- the access log --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(engine) -> Iterator[Served]:
    with served(test_database_url().render_as_string(hide_password=False)) as server:
        yield server


def _request_lines(log: str) -> list[dict]:
    """The server's request log lines (api/request_log.py: one JSON object per request)."""
    lines = (json.loads(line) for line in log.splitlines() if line.startswith("{"))
    return [line for line in lines if line["event"] == "request"]


def test_access_log_has_one_line_per_request_without_the_query(live):
    marker = "伊美区SECRETPLACE"
    httpx.get(live.base + "/api/v1/geocode", params={"address": marker, "phone": "13912345678"})
    httpx.get(live.base + "/card", params={"lon": "128.9", "lat": "47.73"})
    deadline = time.monotonic() + 10  # the line is written as the response ends: wait for it
    while not any(r["route"] == "/card" for r in _request_lines(live.output())):
        assert time.monotonic() < deadline, live.output()[-2000:]
        time.sleep(0.05)
    log = live.output()
    lines = [r for r in _request_lines(log) if r["route"] == "/api/v1/geocode"]
    assert len(lines) == 1, log[-2000:]
    assert lines[0]["method"] == "GET" and isinstance(lines[0]["status"], int)
    assert [r["method"] for r in _request_lines(log) if r["route"] == "/card"] == ["GET"]
    for leak in ("SECRETPLACE", "%E4%BC%8A", "13912345678", "address=", "lon=128.9"):
        assert leak not in log, f"{leak!r} in the access log"


# --- cookies ---------------------------------------------------------------------------------


def test_secure_cookies_by_default_outside_development():
    assert SecuritySettings(**STRONG).secure_cookies
    assert not SecuritySettings(**STRONG, cookie_secure=False).secure_cookies
    assert not SecuritySettings(env="development").secure_cookies


def test_map_cookies_carry_the_secure_flag_from_configuration(session, app_client, security_env):
    add_account(
        session, "t-cookie", Role.dispatcher, password_hash=passwords.hash_password(PASSWORD)
    )
    security_env(cookie_secure="true")  # e.g. behind a TLS-terminating proxy: plain HTTP here
    client = app_client()
    r = client.post(
        "/maps/login", data={"username": "t-cookie", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert "; secure" in cookie.lower() and "httponly" in cookie.lower(), cookie
        assert "samesite=strict" in cookie.lower(), cookie


# --- headers ---------------------------------------------------------------------------------


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def _assert_page_headers(r: httpx.Response) -> dict[str, list[str]]:
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = _directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    sources = " ".join(v for values in csp.values() for v in values)
    assert "http:" not in sources and "https:" not in sources, "no external host (no basemap)"
    return csp


def test_html_pages_cannot_be_framed_and_run_only_their_own_scripts(session, app_client):
    grid = add_account(session, "t-csp-grid", Role.grid_worker)
    lon, lat = point_in(session, OWN_CELL)
    client = app_client()
    for url, status in [
        ("/maps/login", 200),
        (f"/card?lon={lon}&lat={lat}", 200),
        ("/card?lon=500&lat=1", 422),
    ]:
        r = client.get(url)
        assert r.status_code == status, url
        csp = _assert_page_headers(r)
        if "<script" not in r.text:
            assert csp["script-src"] == ["'self'"], url
    pages = {f"/card?lon={lon}&lat={lat}": {}, f"/maps/cell/{OWN_CELL}": bearer(session, grid)}
    for url, headers in pages.items():
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text[:300]
        csp = _assert_page_headers(r)
        (nonce,) = [v[len("'nonce-") : -1] for v in csp["script-src"] if v.startswith("'nonce-")]
        tags = re.findall(r"<script\b[^>]*>", r.text, flags=re.IGNORECASE)
        assert tags and all(f'nonce="{nonce}"' in tag for tag in tags), url
        assert (
            client.get(url, headers=headers).headers["content-security-policy"]
            != (r.headers["content-security-policy"])
        ), "a fresh nonce per response"
    api = client.get("/api/v1/cells", params={"limit": 1})
    assert api.headers["x-content-type-options"] == "nosniff"


# --- in Chromium: pages draw under their policy, injected script does not run ----------------


@pytest.fixture(scope="module")
def site(engine) -> Iterator[str]:
    app = create_app()

    app.dependency_overrides[get_session] = request_sessions(engine)
    with serve_app(app) as url:
        yield url


@pytest.mark.browser
def test_pages_draw_under_their_policy_and_injected_script_does_not_run(site, session):
    lon, lat = point_in(session, OWN_CELL)
    inject = """() => {
        const s = document.createElement('script');
        s.textContent = 'window.injected = 1';
        document.body.appendChild(s);
        document.body.insertAdjacentHTML('beforeend',
            '<img src="data:," onerror="window.injected = 2">');
    }"""
    with launch_chromium() as browser, offline_page(browser, viewport=(390, 844)) as p:
        violations: list[str] = []
        p.page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        p.page.goto(f"{site}/card?lon={lon}&lat={lat}")
        p.page.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
        assert p.page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 4
        assert violations == [], violations  # every script of ours ran
        p.page.evaluate(inject)
        p.page.wait_for_timeout(500)
        assert p.page.evaluate("window.injected") is None, "injected script ran"
        assert violations, "the browser reported the blocked script"
        assert p.blocked == [] and p.errors == []
        p.page.goto(f"{site}/maps/login")
        assert p.page.locator("input[name=username]").count() == 1
