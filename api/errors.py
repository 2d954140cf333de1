"""Map domain errors to HTTP statuses in one place; every error body is {"detail": message}."""

from __future__ import annotations

import logging
from urllib.parse import quote

import psycopg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import pages
from geo.core import errors
from geo.ops.unavailable import unavailable

log = logging.getLogger(__name__)

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
    errors.Unavailable: 503,  # carries Retry-After
}


# What the database refused, by SQLSTATE (PostgreSQL appendix A): the status and a sentence that
# names neither the values (they may be personal data) nor the SQL. Checks in the services come
# first; these answer what slips past them (a race between two writers, a value out of range).
DATABASE_REFUSALS: dict[str, tuple[int, str]] = {
    "23505": (409, "this conflicts with an existing record (a duplicate); reload and try again"),
    "23P01": (409, "this overlaps an existing record; reload and try again"),
    "23503": (422, "this refers to a record that does not exist, or one still in use"),
    "23502": (422, "a required value is missing"),
    "23514": (422, "a value is outside what is allowed"),
    "22001": (422, "a value is too long"),
    "22003": (422, "a number is out of range"),
    "22P05": (422, "a text contains a character that cannot be stored (NUL, \\u0000)"),
}
INTEGRITY_FALLBACK = (409, "this conflicts with the records as they are; reload and try again")
DATA_FALLBACK = (422, "a value is malformed or out of range")


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


async def _database_refusal(request: Request, exc: IntegrityError | DataError) -> JSONResponse:
    # The request's session has rolled back already (api/deps.py): nothing was half-written.
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    fallback = INTEGRITY_FALLBACK if isinstance(exc, IntegrityError) else DATA_FALLBACK
    status, message = DATABASE_REFUSALS.get(sqlstate, fallback)
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = f"{message} (constraint {constraint})" if constraint else message
    log.warning(
        "%s %s refused by the database: sqlstate %s, constraint %s",
        request.method,
        request.url.path,
        sqlstate or "-",
        constraint or "-",
    )
    return JSONResponse({"detail": detail}, status_code=status)


async def _database_error(request: Request, exc: DBAPIError | psycopg.Error) -> Response:
    # The database down, restarting, out of disk or cutting connections: 503, retry shortly.
    outage = unavailable(exc)
    if outage is None:
        raise exc  # a bug: the server error handler logs it and answers 500
    return await _domain_error(request, outage)


def _jsonable(error: dict) -> dict:
    # Never echo the rejected value: it may be an ID or phone number (or a password).
    return {k: (str(v) if k == "ctx" else v) for k, v in error.items() if k not in ("url", "input")}


def _is_map_page(request: Request) -> bool:
    """A browser asking for a map page (API clients get the 401 they expect)."""
    return (
        request.method == "GET"
        and request.url.path.startswith(("/maps/", "/console", "/m/"))
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
    app.add_exception_handler(IntegrityError, _database_refusal)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _database_refusal)  # type: ignore[arg-type]
    # psycopg's own errors: from COPY on the raw connection, which SQLAlchemy does not wrap.
    for database_error in (DBAPIError, psycopg.Error):
        app.add_exception_handler(database_error, _database_error)  # type: ignore[arg-type]
