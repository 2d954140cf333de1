"""HTTP hardening of every response, installed once by `install(app)`:

- the app refuses to start (lifespan) on unsafe security settings, so a server never listens
  only to answer 500 (`houniao serve` checks them before it even starts uvicorn);
- X-Forwarded-For / X-Forwarded-Proto are believed only from HOUNIAO_TRUSTED_PROXIES;
- security headers: `X-Content-Type-Options: nosniff` and a referrer policy on everything; on
  HTML pages a Content-Security-Policy (`default-src 'self'`, no external host, not framed) and
  `X-Frame-Options: DENY`. Pages with inline scripts (folium maps) answer through
  `script_page`, which gives each response a nonce for its own scripts only.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from geo.core.config import map_settings, security_settings
from geo.core.security_config import trusted_proxy_networks
from maps.base import tile_origins

_COMMON = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # style attributes (Leaflet, legends) cannot take a nonce
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
PAGE_CSP = "; ".join(("script-src 'self'", "img-src 'self' data:", *_COMMON))
ALWAYS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
HTML = {"x-frame-options": "DENY"}
_SCRIPT_TAG = re.compile(r"<script\b", re.IGNORECASE)


def map_csp(nonce: str) -> str:
    """The policy of a map page: its own inline scripts (by nonce), tiles of the configured
    basemap (none by default), everything else from this app."""
    images = " ".join(("'self'", "data:", "blob:", *tile_origins(map_settings().basemap)))
    return "; ".join((f"script-src 'self' 'nonce-{nonce}'", f"img-src {images}", *_COMMON))


def script_page(html: str, status_code: int = 200) -> HTMLResponse:
    """An HTML page whose inline scripts run: each `<script>` of `html` gets this response's
    nonce, and the CSP admits only those (never a script injected later into the page).

    `html` must be rendered by our templates, where data is escaped (folium writes data with
    `tojson`, which escapes `<`), so every `<script` in it is one of ours.
    """
    nonce = secrets.token_urlsafe(18)
    body = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', html)
    return HTMLResponse(body, status_code, headers={"Content-Security-Policy": map_csp(nonce)})


class SecurityHeaders:
    """Pure ASGI middleware (streams such as Server-Sent Events pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                present = {k.decode("latin-1").lower() for k, _ in headers}
                wanted = dict(ALWAYS)
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    wanted.update(HTML)
                    wanted["content-security-policy"] = PAGE_CSP  # unless the page set one
                headers += [(k.encode(), v.encode()) for k, v in wanted.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedProxyHeaders:
    """uvicorn's ProxyHeadersMiddleware for HOUNIAO_TRUSTED_PROXIES only; without it the peer's
    own address is the client, whatever X-Forwarded-For says. (`houniao serve` turns uvicorn's
    own proxy handling off: it trusts 127.0.0.1 by default.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._http: ASGIApp | None = None  # settings are read at the first request, not import

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._http is None:
            proxies = trusted_proxy_networks(security_settings().trusted_proxies)
            self._http = ProxyHeadersMiddleware(self.app, proxies) if proxies else self.app
        await self._http(scope, receive, send)


def _refuse_unsafe_settings(app: FastAPI) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        security_settings()  # raises SettingsError: startup fails before the server listens
        async with inner(app) as state:
            yield state

    app.router.lifespan_context = lifespan


def install(app: FastAPI) -> None:
    _refuse_unsafe_settings(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedProxyHeaders)


def framed_by_self(response: HTMLResponse) -> HTMLResponse:
    """Let pages of this site (and only these) frame `response`: the console embeds the live
    map. Its policy's `frame-ancestors 'none'` becomes `'self'`, X-Frame-Options SAMEORIGIN."""
    policy = response.headers.get("content-security-policy", PAGE_CSP)
    response.headers["content-security-policy"] = policy.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    )
    response.headers["x-frame-options"] = "SAMEORIGIN"
    return response
