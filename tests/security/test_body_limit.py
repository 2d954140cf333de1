"""Request bodies over the limit are a 413 with a clear message, decided from Content-Length
before the body is read, or by counting streamed bytes (never reading the whole body).

In process through the real app's ASGI stack (so the test can count what the app pulled from
the connection), and against a live uvicorn over a raw socket (a body that never ends must
still be answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import Engine

from api.app import create_app
from tests.db import test_database_url
from tests.live import live_api

CHUNK = 64 * 1024
MiB = 1024 * 1024
BODY_LIMIT, UPLOAD_LIMIT = MiB, 20 * MiB  # the defaults (HOUNIAO_LIMIT_BODY/UPLOAD_BYTES)


def call(path: str, headers: dict[str, str], chunks: Any) -> tuple[list[dict], list[int]]:
    """Run one request through the app's ASGI stack; (messages sent, sizes of the body chunks
    it pulled). `chunks`: a list (the whole body) or an endless iterator."""
    finite = isinstance(chunks, list)
    chunks = iter(chunks)
    app = create_app()
    sent: list[dict] = []
    pulled: list[int] = []

    async def receive() -> dict:
        if sum(pulled) > 2 * UPLOAD_LIMIT:  # an app without a limit would read on forever
            raise AssertionError(f"the app read {sum(pulled):,} bytes and went on reading")
        chunk = next(chunks, None)
        pulled.append(len(chunk or b""))
        if chunk is None:
            if finite:
                return {"type": "http.disconnect"}
            raise AssertionError("the app read past the end of a body it should have refused")
        return {"type": "http.request", "body": chunk, "more_body": not finite}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("test", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    return sent, pulled


def endless(first: bytes = b"") -> Any:
    yield first
    while True:
        yield b" " * CHUNK


FILE_PART = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="list.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\n"
)


def stopped_at_the_limit(pulled: list[int], limit: int) -> bool:
    """The body was read up to the first chunk that passed the limit, and not one chunk more."""
    return sum(pulled[:-1]) <= limit < sum(pulled)


def status_and_body(sent: list[dict]) -> tuple[int, bytes]:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return starts[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_declared_content_length_over_the_limit_is_refused_before_reading():
    sent, pulled = call(
        "/api/v1/cases",
        {"content-type": "application/json", "content-length": str(50 * MiB)},
        endless(),
    )
    status, body = status_and_body(sent)
    assert (status, pulled) == (413, [])
    assert b"larger than 1 MiB" in body


def test_a_streamed_body_is_cut_off_at_the_limit():
    """No Content-Length (chunked): the body is counted as it arrives and never read past the
    limit, however long it would go on."""
    sent, pulled = call("/api/v1/cases", {"content-type": "application/json"}, endless())
    status, body = status_and_body(sent)
    assert status == 413
    assert stopped_at_the_limit(pulled, BODY_LIMIT)
    assert body.startswith(b'{"detail":"the request body is larger than 1 MiB')


def test_file_uploads_and_batch_intake_get_the_larger_limit():
    for path, content_type, first in (
        ("/api/v1/residents/import", "multipart/form-data; boundary=x", FILE_PART),
        ("/api/v1/intake/reports", "application/json", b""),
    ):
        sent, pulled = call(path, {"content-type": content_type}, endless(first))
        status, _ = status_and_body(sent)
        assert status == 413 and stopped_at_the_limit(pulled, UPLOAD_LIMIT), path
    upload = FILE_PART + b" " * (2 * MiB) + b"\r\n--x--\r\n"
    sent, _ = call(
        "/api/v1/residents/import",
        {"content-type": "multipart/form-data; boundary=x", "content-length": str(len(upload))},
        [upload],
    )
    status, _ = status_and_body(sent)
    assert status == 401  # past the size check: the route asks who is calling


def test_open311_gets_a_413_in_its_own_format():
    sent, _ = call(
        "/open311/v2/requests.json",
        {"content-type": "application/x-www-form-urlencoded", "content-length": str(2 * MiB)},
        endless(),
    )
    status, body = status_and_body(sent)
    assert status == 413 and body.startswith(b'[{"code":413,"description":"the request body')


def _raw(base: str, head: str, body: list[bytes]) -> bytes:
    """Send a request head and some body over a socket, never finishing the body; the answer."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=20) as s:
        s.sendall(head.encode())
        for chunk in body:
            if select.select([s], [], [], 0.1)[0]:
                break  # the server has answered: stop sending, read it before it closes
            s.sendall(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread
            while chunk := s.recv(65536):
                answer += chunk
        return answer


@pytest.fixture
def small_limit_api(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HOUNIAO_LIMIT_BODY_BYTES", str(256 * 1024))  # configurable
    with live_api(test_database_url().render_as_string(hide_password=False)) as base:
        yield base


def test_a_live_server_answers_413_to_a_body_that_never_ends(small_limit_api):
    head = (
        "POST /api/v1/cases HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Content-Length: {n}\r\n\r\n"
    )
    answer = _raw(small_limit_api, head.format(n=50 * MiB), [b"{"])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than 262,144 bytes" in answer
    chunked = head.replace("Content-Length: {n}", "Transfer-Encoding: chunked")
    chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    answer = _raw(small_limit_api, chunked, [chunk] * 8)  # 512 KiB sent, no last chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    small = _raw(
        small_limit_api,
        head.format(n=2).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
        [b"{}"],
    )
    assert small.startswith(b"HTTP/1.1 422")  # under the limit: the route validates it
