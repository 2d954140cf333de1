"""The real system in subprocesses: `houniao` commands and the API served by uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOUNIAO = str(Path(sys.executable).with_name("houniao"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def houniao(database_url: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the CLI through its installed entry point against `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url, "HOUNIAO_SCHEDULER": "0"}
    return subprocess.run(
        [HOUNIAO, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@contextmanager
def live_api(database_url: str, *, ready_path: str = "/healthz") -> Iterator[str]:
    """uvicorn serving api.app:app on a free port against `database_url`; yields the base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "HOUNIAO_SCHEDULER": "0"}
    # The server logs every request to stderr: into a file, since an unread pipe fills up
    # (64 KiB) and then blocks the server mid-request.
    command = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + ready_path, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the API did not start: {log.read().decode()[-3000:]}")
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)


@dataclass
class Served:
    """A running `houniao serve`: its base URL and everything it printed (the access log)."""

    base: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def wait_until_answering(base: str, server: subprocess.Popen, ready_path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + ready_path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start (exit code {server.poll()})")
        time.sleep(0.2)


@contextmanager
def served(database_url: str, *, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`houniao serve` (the real CLI, as the README starts it) on a free port against
    `database_url`, with `env` added; its stdout and stderr go to a file."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="houniao-serve-", suffix=".log", delete=False) as f:
        log = Path(f.name)
    full_env = {**os.environ, "DATABASE_URL": database_url, "HOUNIAO_SCHEDULER": "0", **(env or {})}
    with log.open("wb") as out:
        server = subprocess.Popen(
            [HOUNIAO, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_answering(base, server)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log.read_text()[-3000:]}") from None
        yield Served(base, log)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.unlink(missing_ok=True)
