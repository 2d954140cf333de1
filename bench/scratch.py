"""Scratch databases and ports for the benchmarks: the dev database is left as found."""

from __future__ import annotations

import socket

from sqlalchemy.engine import URL, make_url

from geo.config import database_settings
from geo.db import drop_database, recreate_database

__all__ = ["drop_database", "free_port", "recreate_database", "scratch_url"]


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
