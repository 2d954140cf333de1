"""One clock: no code outside geo/core/clock.py decides what "now", "today" or the city's zone is.

Ruff's DTZ rules catch `date.today()` and naive `datetime.now()` in Python; this test catches what
ruff cannot see: SQL that reads the database session's clock or zone (`current_date`, bare
`now()`, `localtimestamp` ...) in the strings and SQLAlchemy calls of geo/, api/ and maps/, in SQL
files, and in the migrations after 0004 (their upgrades; a downgrade restores the old SQL), plus
any second definition of the city's time zone (also in the pages' own scripts and templates).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLOCK = ROOT / "geo" / "core" / "clock.py"
# Migrations written before the city clock existed keep their frozen SQL (0005clock redefines it).
FROZEN_MIGRATIONS = ("_0001", "_0002", "_0003", "_0004")

SESSION_CLOCK_SQL = re.compile(
    r"\bcurrent_date\b|\bcurrent_time(stamp)?\b|\blocaltime(stamp)?\b"
    r"|(?<![\w.])(now|transaction_timestamp|statement_timestamp|clock_timestamp)\s*\(\s*\)",
    re.IGNORECASE,
)
SESSION_CLOCK_FUNCS = {
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "clock_timestamp",
}
# The one SQL that reads the database's own clock: the definition of city_now() (0005clock).
CITY_NOW_DEFINITION = re.compile(r"CREATE (OR REPLACE )?FUNCTION city_now\(\)", re.IGNORECASE)
CITY_ZONE = re.compile(r"Asia/Shanghai|timedelta\(hours=8\)")


def _sources() -> Iterator[Path]:
    for folder in ("geo", "api", "maps"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "vendor" not in path.parts:
                yield path
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        if not any(tag in path.name for tag in FROZEN_MIGRATIONS):
            yield path


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _code(path: Path) -> ast.AST:
    """The module's tree; in a migration, without `downgrade` (it restores the old SQL)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if "migrations" in path.parts:
        tree.body = [  # type: ignore[attr-defined]
            n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name == "downgrade")
        ]
    return tree


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    tree = _code(path)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def _session_clock_calls(path: Path) -> Iterator[tuple[int, str]]:
    """`func.now()`, `func.current_date()` ... in SQLAlchemy expressions."""
    for node in ast.walk(_code(path)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.lower() in SESSION_CLOCK_FUNCS
            and isinstance(node.value, ast.Name)
            and node.value.id == "func"
        ):
            yield node.lineno, f"func.{node.attr}"


def test_sql_never_reads_the_session_clock():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {match.group(0)!r}"
        for path in _sources()
        if path != CLOCK  # owns every clock: city_now(), and the server's for WAL timestamps
        for line, value in _strings(path)
        if not CITY_NOW_DEFINITION.search(value)
        for match in SESSION_CLOCK_SQL.finditer(value)
    ]
    found += [
        f"{path.relative_to(ROOT)}:{line}: {call}"
        for path in _sources()
        for line, call in _session_clock_calls(path)
    ]
    for folder in ("geo", "api", "maps"):
        for path in (ROOT / folder).rglob("*.sql"):
            found += [
                f"{path.relative_to(ROOT)}: {m.group(0)!r}"
                for m in SESSION_CLOCK_SQL.finditer(path.read_text(encoding="utf-8"))
            ]
    assert found == [], "use city_now() / city_today() / a date parameter (geo/core/clock.py)"


def test_the_city_zone_is_defined_once():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _sources()
        if path != CLOCK and "migrations" not in path.parts
        for line, value in _strings(path)
        if CITY_ZONE.search(value)
    ]
    for path in _sources():
        if path != CLOCK:
            text = path.read_text(encoding="utf-8")
            found += [
                f"{path.relative_to(ROOT)}: {m.group(0)}"
                for m in re.finditer(r"\bZoneInfo\b|timezone\(timedelta\(hours=8\)\)", text)
            ]
    for folder in ("maps/static/houniao", "maps/templates"):  # the project's own pages
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".js", ".html"):
                text = path.read_text(encoding="utf-8")
                found += [f"{path.relative_to(ROOT)}: {m}" for m in CITY_ZONE.findall(text)]
    assert found == [], "the city's zone is geo.core.clock.CITY_TZ (pages: data-city-zone)"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT current_date",
        "WHERE d < CURRENT_DATE",
        "least(now()::date, x)",
        "SET activated_at = now()",
        "localtimestamp",
        "clock_timestamp()",
    ],
)
def test_the_rule_sees_session_clock_sql(sql):
    assert SESSION_CLOCK_SQL.search(sql)


@pytest.mark.parametrize("sql", ["city_now()", "city_today()", "performance.now()", "x.now()"])
def test_the_rule_leaves_the_city_clock_alone(sql):
    assert not SESSION_CLOCK_SQL.search(sql)
