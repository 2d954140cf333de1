"""Structured logs: one JSON object per line, for machines to read (journald, Loki, jq).

Every line has `ts` (UTC, ISO 8601), `level`, `logger` and `event`, plus the event's fields. What
goes in a field is counted or named, never a person's data: ids of rows and accounts, counts,
durations, route templates (`/api/v1/residents/{resident_id}`), never a query string, a name, a
phone or ID number, an address or a point.

    >>> import io, json
    >>> out = io.StringIO()
    >>> configure(stream=out)
    >>> event("release.activated", release_id=3, level_name="grid")
    >>> json.loads(out.getvalue())["release_id"]
    3
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

ROOT = "houniao"  # every logger of the project is a child: houniao.request, houniao.scheduler...


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line; the event's fields come from `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Send the project's logs as JSON lines to `stream` (stderr); calling again replaces it."""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if getattr(h, "houniao_json", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.houniao_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def event(name: str, /, *, logger: str = ROOT, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with its fields (`logger` is a child name such as ``houniao.scheduler``)."""
    logging.getLogger(logger).log(level, name, extra={"fields": fields})
