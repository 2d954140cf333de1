"""The `houniao` command line. Each domain adds its commands in its own module."""

from __future__ import annotations

from api.cli.main import app

__all__ = ["app"]
