"""A keep-alive HTTP/1.1 client on the standard library's `http.client`, for benchmarks that
time one request at a time: httpx spends ~0.6 ms of Python per request on the client's side (its
transport, headers and URL models), which a one-client ratio charged to the server. Same
interface as the part of `httpx.Client` the benches use (`get`, `post`, a response's
`status_code`, `headers`, `content`, `json()`)."""

from __future__ import annotations

import http.client
import json as jsonlib
from dataclasses import dataclass
from email.message import Message
from typing import Any


@dataclass
class LeanResponse:
    status_code: int
    headers: Message  # case-insensitive `[]` and `get`, as httpx's
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class LeanClient:
    """One connection to 127.0.0.1:`port`, reopened if the server closes it."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, timeout: float = 60):
        self._port, self._timeout = port, timeout
        self._headers = dict(headers or {})
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def get(self, path: str, headers: dict[str, str] | None = None) -> LeanResponse:
        return self._send("GET", path, None, headers)

    def post(
        self, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> LeanResponse:
        return self._send("POST", path, jsonlib.dumps(json).encode(), headers)

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> LeanResponse:
        sent = {**self._headers, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        try:
            self._conn.request(method, path, body=body, headers=sent)
            response = self._conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._conn.close()
            if method != "GET":  # a write may have landed: never sent twice
                raise
            # the server closed an idle keep-alive connection: once more
            self._conn.request(method, path, body=body, headers=sent)
            response = self._conn.getresponse()
        return LeanResponse(response.status, response.msg, response.read())

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LeanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
