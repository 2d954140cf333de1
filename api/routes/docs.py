"""The API docs, /docs (Swagger UI) and /redoc (ReDoc), from vendored files: no CDN, no fonts
from outside, so they work on a machine without internet (FastAPI's own pages load both from
jsdelivr). The files are in ``maps/static/vendor`` (see `maps.vendor.manifest`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from api.auth import public
from api.hardening import script_page

router = APIRouter(include_in_schema=False)

SWAGGER = "/static/vendor/swagger-ui-dist"
REDOC = "/static/vendor/redoc/bundles/redoc.standalone.js"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


@router.get("/docs", name="swagger_ui_html", **public())  # the OGC landing page links it
def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · API docs",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        # No badge from validator.swagger.io: the page asks nothing of other hosts.
        # Tags start collapsed: with every operation open at once the page stopped rendering
        # after a few tags (tests/e2e/test_docs_browser.py opens each tag in turn).
        swagger_ui_parameters={
            "validatorUrl": None,
            "persistAuthorization": False,
            "docExpansion": "none",
        },
    )
    return _with_nonce(page)


@router.get(OAUTH2_REDIRECT, name="swagger_ui_redirect", **public())
def swagger_ui_redirect() -> HTMLResponse:
    return _with_nonce(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", name="redoc_html", **public())
def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · API reference",
        redoc_js_url=REDOC,
        redoc_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        with_google_fonts=False,
    )
    return _with_nonce(page)


def _with_nonce(page: HTMLResponse) -> HTMLResponse:
    """FastAPI's page under the app's script policy: its own inline scripts run (by nonce)."""
    return script_page(bytes(page.body).decode())
