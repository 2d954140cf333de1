"""The README's promises as data: its CLI list and its URL table, parsed.

cli_lines()   -> ["houniao db upgrade | downgrade [REVISION]  # says ...", ...]
commands(line) -> [("db", "upgrade"), ("db", "downgrade")]
url_rows(top) -> [Row(urls=("/docs", "/redoc", "/openapi.json"), who="anyone", what=...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_WORD = re.compile(r"[a-z][a-z0-9-]*")


def section(title: str) -> str:
    """The text under a `## title` heading, up to the next one."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def cli_lines() -> list[str]:
    """The lines of the fenced block under "## CLI"."""
    block = section("CLI").split("```")[1]
    return [line.strip() for line in block.splitlines() if line.startswith("houniao ")]


def commands(line: str) -> list[tuple[str, ...]]:
    """The commands a CLI line names: its first word, then alternatives written `a | b` or
    `a|b|c` up to the first argument or option.

    >>> commands("houniao db upgrade | downgrade [REVISION]   # says what it did")
    [('db', 'upgrade'), ('db', 'downgrade')]
    >>> commands("houniao users add|list|disable …"), commands("houniao locate LON LAT")
    ([('users', 'add'), ('users', 'list'), ('users', 'disable')], [('locate',)])
    """
    words = line.split("#")[0].split()[1:]
    top, subs = words[0], []
    for word in words[1:]:
        parts = [p for p in word.split("|") if p]
        if word != "|" and not all(_WORD.fullmatch(p) for p in parts):
            break
        subs += parts
    return [(top, sub) for sub in subs] or [(top,)]


def options(line: str) -> list[str]:
    """The long options a CLI line names (`--crs`, `--no-activate` ...)."""
    return re.findall(r"--[a-z][a-z-]*", line.split("#")[0])


def promise(line: str) -> str:
    """The comment of a CLI line: what it promises."""
    return line.split("#", 1)[1].strip() if "#" in line else ""


@dataclass(frozen=True)
class Row:
    urls: tuple[str, ...]  # absolute paths as written (placeholders, a trailing … kept)
    who: str
    what: str

    @property
    def key(self) -> str:
        return self.urls[0]


def url_rows(top_level: set[str]) -> list[Row]:
    """The rows of the table under "## What runs where". A URL whose first segment is not one
    of the app's `top_level` ones is relative to the row's first URL (`/refresh` after
    `/api/v1/auth/token`)."""
    rows = []
    for line in section("What runs where").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        written = re.findall(r"`([^`]+)`", cells[0])
        first = written[0].split("?")[0]
        urls = []
        for url in (u.split("?")[0] for u in written):
            if url.split("/")[1] not in top_level:
                url = first.rsplit("/", 1)[0] + url  # "/geocode" beside "/api/v1/locate"
            urls.append(url)
        rows.append(Row(tuple(urls), cells[1], cells[2]))
    return rows
