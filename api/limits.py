"""Request limits, checked before any route runs: body size (413) and NUL characters in the path
or the query string (422; bodies are checked field by field, see geo/core/inputs.py).

A body whose Content-Length is over the limit is refused before a byte of it is read; without
one (chunked transfer), the bytes are counted as they stream in and the request is cut off at
the limit, so nothing larger than the limit is ever held in memory. JSON and forms get
`HOUNIAO_LIMIT_BODY_BYTES` (1 MiB); file uploads (multipart) and batch intake get
`HOUNIAO_LIMIT_UPLOAD_BYTES` (20 MiB).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.routes import open311
from geo.core.config import RequestLimitSettings, request_limit_settings
from geo.core.inputs import NUL, NUL_MESSAGE

# JSON bodies that carry a batch (up to 5,000 reports): the upload limit applies.
BULK_PATHS = frozenset({"/api/v1/intake/reports"})


class BodyTooLarge(Exception):
    """Raised from `receive` once the streamed body passes the limit."""


class RequestLimits:
    """Pure ASGI middleware (no body buffering): `app.add_middleware(RequestLimits)`."""

    def __init__(self, app: ASGIApp, settings: RequestLimitSettings | None = None) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = nul_in_target(scope)
        if problem is not None:
            await refuse(scope, send, 422, problem)
            return
        limit = self.limit_for(scope)
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await refuse(scope, send, 413, too_large(limit))
            return
        await self._counted(scope, receive, send, limit)

    def limit_for(self, scope: Scope) -> int:
        settings = self.settings or request_limit_settings()
        content_type = header(scope, b"content-type") or ""
        if content_type.startswith("multipart/form-data") or scope["path"] in BULK_PATHS:
            return settings.upload_bytes
        return settings.body_bytes

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # the route's answer to a cut-off body (e.g. "cannot parse") is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await refuse(scope, send, 413, too_large(limit))


def nul_in_target(scope: Scope) -> str | None:
    """Why the path or query string is refused (a NUL character), or None."""
    if NUL in scope["path"]:
        return f"the path {NUL_MESSAGE}"
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if NUL in name or NUL in value:
            return f"query parameter {name.replace(NUL, '')!r} {NUL_MESSAGE}"
    return None


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def content_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def too_large(limit: int) -> str:
    size = f"{limit / 1024 / 1024:g} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    return (
        f"the request body is larger than {size}: send less (split a batch or a file into "
        "smaller ones)"
    )


async def refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    """Answer without running the route; Open311 callers get Open311's error format."""
    headers = {"Connection": "close"} if status == 413 else None
    response: Response
    if scope["path"].startswith(open311.PREFIX):
        response = open311.error_response(status, detail)
        response.headers.update(headers or {})
    else:
        response = JSONResponse({"detail": detail}, status_code=status, headers=headers)
    await response(scope, _nothing, send)


async def _nothing() -> Message:  # pragma: no cover - a JSON response never reads the request
    return {"type": "http.disconnect"}
