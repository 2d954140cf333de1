"""Planners' KPIs: every answer is cut from one protected table per season and count.

Planners see aggregates only, and no count below the disclosure threshold, neither directly nor
by subtracting one answer from another. So they ask for one fixed window (a month or a season,
geo.privacy.windows; never a range) at one level (the city, streets, communities or categories,
optionally by month), and every answer is a slice of the season's table

    rows:    city = Σ streets, street = Σ its communities, city = Σ categories
    columns: season = Σ its months

protected by complementary suppression (geo.privacy.suppression), one count at a time. Counts
nest (satisfied ⊂ rated ⊂ cases): a part is hidden as well where what it leaves of a published
whole above it is small (40 cases, 35 responded in time: 5 late), and `overdue_count`
(= decided - on_time) is shown only where both are. A rate is shown only where both its counts
are; a median only where the row's cases are and it is the median of at least the threshold's
number of cases. A row whose cases are hidden shows nothing but its keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from geo.cases import kpis
from geo.core.config import map_settings
from geo.core.errors import InvalidInput
from geo.privacy.suppression import Hierarchy, Layout, protect
from geo.privacy.windows import Window, season_months

LEVELS = ("street", "community", "category")
PLANNER_HINT = (
    "planners read fixed windows: month=YYYY-MM or season=YYYY (a season runs from 1 May to"
    " 30 April), no from/to and no cell; group_by at most one of street, community, category,"
    " and month"
)
# Each protected count and the counts it is part of, innermost first.
WHOLES: dict[str, tuple[str, ...]] = {
    "cases": (),
    "cancelled": (),
    "responded_in_time": ("cases",),
    "decided": ("cases",),
    "on_time": ("decided", "cases"),
    "overdue_open": ("overdue_count", "decided", "cases"),
    "answered": ("cases",),
    "solved": ("answered", "cases"),
    "rated": ("cases",),
    "satisfied": ("rated", "cases"),
    "escalated": ("cases",),
}
CITY = ("city", None)
SEASON = "season"

Cell = tuple[tuple[str, str | None], str]  # ((level, code), month or SEASON)


def planner_kpis(
    session: Session,
    window: Window,
    group_by: Sequence[str],
    *,
    street: str | None,
    community: str | None,
    category: str | None,
    at: datetime,
) -> list[dict[str, Any]]:
    """The planner's rows for one window and level, from the season's protected table."""
    level = _level(group_by, street=street, community=community, category=category)
    by_month = "month" in group_by
    table = season_table(session, window.season, at)
    columns = list(window.months) if by_month else [window.month or SEASON]
    rows = sorted(
        key
        for key in {row for row, _ in table["cases"]}
        if key[0] == level
        and _matches(key, street=street, community=community)
        and (category is None or key[1] == category)
    )
    medians = _medians(session, window, level, by_month, at)
    threshold = map_settings().disclosure_threshold
    out = []
    for row in rows:
        for col in columns:
            counts = {name: table[name].get((row, col), 0) for name in table}
            if counts["cases"] == 0 and counts["cancelled"] == 0:
                continue  # no case at all: no row, as for every other role
            keys = {level: row[1]} if level != "city" else {}
            if by_month:
                keys["month"] = col
            if counts["cases"] is None:
                out.append({**keys, "suppressed": True, "cases": None})
                continue
            stage = medians.get((row[1], col if by_month else None), {})
            shown = {
                s: stage.get(s) if (stage.get(f"{s}_n") or 0) >= threshold else None
                for s in kpis.STAGES
            }
            out.append({**kpis.kpi_row(keys, counts, shown), "suppressed": False})
    return out


def _level(
    group_by: Sequence[str], *, street: str | None, community: str | None, category: str | None
) -> str:
    """The table's rows: the one level grouped by, else the one a filter names, else the city."""
    levels = [g for g in dict.fromkeys(group_by) if g != "month"]
    if any(g not in LEVELS for g in levels) or len(levels) > 1:
        raise InvalidInput(PLANNER_HINT)
    filters = {"community": community, "category": category, "street": street}
    named = [lv for lv, value in filters.items() if value]
    level = levels[0] if levels else named[0] if named else "city"
    if (
        (community and level != "community")
        or (category and level != "category")
        or (street and level not in ("street", "community"))
    ):
        raise InvalidInput(f"a {level} table has no such filter: {PLANNER_HINT}")
    return level


def _matches(row: tuple[str, str | None], *, street: str | None, community: str | None) -> bool:
    code = row[1] or ""
    return (community is None or code == community) and (street is None or code[:9] == street)


def season_table(session: Session, season: int, at: datetime) -> dict[str, dict[Cell, int | None]]:
    """{count name: {cell: count, or None where hidden}} for one season's table."""
    months = kpis.in_months(season_months(season))
    by_area = kpis.aggregate(session, ["street", "community", "month"], [months], at, medians=False)
    by_category = kpis.aggregate(session, ["category", "month"], [months], at, medians=False)
    layout, values = _layout(by_area, by_category)
    threshold = map_settings().disclosure_threshold
    shown: dict[str, dict[Cell, int | None]] = {}
    for name, wholes in WHOLES.items():
        if name == "overdue_open":  # its whole, overdue_count, is derived: add it first
            shown["overdue_count"] = _difference(shown["decided"], shown["on_time"])
        own = values[name]
        small_rest = [
            cell
            for cell in cast(tuple[Cell, ...], layout.keys)
            for whole in wholes
            if (w := shown[whole][cell]) is not None and 0 < w - own.get(cell, 0) < threshold
        ]
        shown[name] = protect(layout, own, threshold, also_hide=small_rest)
    return shown


def _layout(
    by_area: Sequence[Any], by_category: Sequence[Any]
) -> tuple[Layout, dict[str, dict[Cell, int]]]:
    streets: dict[str, set[str]] = defaultdict(set)
    for r in by_area:
        streets[r["street"]].add(r["community"])
    categories = sorted({r["category"] for r in by_category})
    months = sorted({r["month"] for r in (*by_area, *by_category)})
    street_rows = [("street", s) for s in sorted(streets)]
    parts = {row: tuple(("community", c) for c in sorted(streets[row[1]])) for row in street_rows}
    category_rows = tuple(("category", k) for k in categories)
    rows = Hierarchy(
        (CITY, *street_rows, *(c for row in street_rows for c in parts[row]), *category_rows),
        ((CITY, tuple(street_rows)), *parts.items(), (CITY, category_rows)),
    )
    columns = Hierarchy((SEASON, *months), ((SEASON, tuple(months)),))
    values: dict[str, dict[Cell, int]] = {name: defaultdict(int) for name in WHOLES}
    for r in by_area:
        for row in (CITY, ("street", r["street"]), ("community", r["community"])):
            _add(values, r, row, r["month"])
    for r in by_category:
        _add(values, r, ("category", r["category"]), r["month"])
    if not months:  # no case in the season: an empty table
        return Layout((), ()), values
    return Layout.cross(rows, columns), values


def _difference(
    whole: dict[Cell, int | None], part: dict[Cell, int | None]
) -> dict[Cell, int | None]:
    """whole - part where both are shown, else None."""
    return {
        cell: (w - p if w is not None and (p := part[cell]) is not None else None)
        for cell, w in whole.items()
    }


def _add(values: dict[str, dict[Cell, int]], r: Any, row: Any, month: str) -> None:
    for name, cells in values.items():
        cells[row, month] += r[name]
        cells[row, SEASON] += r[name]


def _medians(
    session: Session, window: Window, level: str, by_month: bool, at: datetime
) -> dict[tuple[str | None, str | None], Any]:
    """Median hours per stage (and how many cases each is the median of) per row of the answer."""
    group_by = ([level] if level != "city" else []) + (["month"] if by_month else [])
    conditions: list[ColumnElement[bool]] = [kpis.in_months(window.months)]
    rows = kpis.aggregate(session, group_by, conditions, at)
    return {
        (r[level] if level != "city" else None, r["month"] if by_month else None): r for r in rows
    }
