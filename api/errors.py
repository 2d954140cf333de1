"""Map domain errors to HTTP statuses in one place; every error body is {"detail": message}."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import pages
from geo import errors

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.InvalidInput: 422,
    errors.Conflict: 409,
    errors.ReleaseRejected: 422,
    errors.Unauthorized: 401,  # carries WWW-Authenticate
    errors.Forbidden: 403,
    errors.RateLimited: 429,  # carries Retry-After
    errors.PreconditionFailed: 412,
    errors.PreconditionRequired: 428,
}


def status_for(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


async def _domain_error(request: Request, exc: errors.DomainError) -> Response:
    if isinstance(exc, errors.Unauthorized) and _is_map_page(request):
        # A person opening a map in a browser: send them to sign in, then back (same query:
        # the planner's map names its season there).
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/maps/login?next={quote(back)}", status_code=303)
    if pages.wants_html(request):  # a readable page for a person, JSON for everyone else
        return pages.error_response(request, status_for(exc), exc.detail)
    body = {"detail": exc.detail, **{k: v for k, v in exc.extra.items() if k != "headers"}}
    return JSONResponse(body, status_code=status_for(exc), headers=exc.extra.get("headers"))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    # FastAPI's default 422 body, plus one readable sentence for people.
    errs = exc.errors()
    parts = [
        f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in errs
    ]
    if pages.wants_html(request):
        return pages.error_response(request, 422, "; ".join(parts))
    return JSONResponse(
        {"detail": "; ".join(parts), "errors": [_jsonable(e) for e in errs]}, status_code=422
    )


def _jsonable(error: dict) -> dict:
    # Never echo the rejected value: it may be an ID or phone number (or a password).
    return {k: (str(v) if k == "ctx" else v) for k, v in error.items() if k not in ("url", "input")}


def _is_map_page(request: Request) -> bool:
    """A browser asking for a map page (API clients get the 401 they expect)."""
    return (
        request.method == "GET"
        and request.url.path.startswith("/maps/")
        and "text/html" in request.headers.get("accept", "")
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's own errors (an unknown path, a wrong method): a page for a browser."""
    if pages.wants_html(request) and exc.status_code >= 400:
        return pages.error_response(request, exc.status_code, str(exc.detail))
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
