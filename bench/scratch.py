"""Scratch databases and ports for the benchmarks: the dev database is left as found."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import URL, make_url

from geo.core.config import database_settings
from geo.core.db import drop_database, recreate_database

__all__ = ["drop_database", "free_port", "recreate_database", "scratch_url", "serve"]
ROOT = Path(__file__).resolve().parents[1]
# Scratch databases are written with the repository's development keys, which need the
# environment named (HOUNIAO_ENV unset refuses them); the servers started below inherit it.
os.environ.setdefault("HOUNIAO_ENV", "development")


def scratch_url(suffix: str) -> URL:
    """`<DATABASE_URL's database>_<suffix>` on the same server."""
    base = make_url(database_settings().sqlalchemy_url)
    return base.set(database=f"{base.database}_{suffix}")


def free_port(preferred: int) -> int:
    """`preferred` unless something listens there already (then any free port)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def serve(
    url: URL,
    port: int,
    workers: int = 1,
    server: str = "uvicorn",
    stderr: Any = None,
    settings: dict[str, str] | None = None,
) -> subprocess.Popen:
    """The real API (uvicorn, or granian; scheduler off) on `port` against `url`, once /healthz
    answers; its log (stderr) where `stderr` says (a file), else this process's; `settings`:
    more environment (HOUNIAO_*) for it."""
    env = {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "HOUNIAO_SCHEDULER": "0",
        **(settings or {}),
    }
    host = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command = {
        "uvicorn": ["uvicorn", "api.app:app", *host, "--log-level", "warning"],
        "granian": ["granian", "--interface", "asgi", *host, "--log-level", "warning"]
        + ["--no-access-log", "api.app:app"],
    }[server]
    process = subprocess.Popen([sys.executable, "-m", *command], cwd=ROOT, env=env, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"the API on port {port} did not answer /healthz within 60 s")
