"""Residents present, for planners: per cell, community, street and district, by month or season,
with age bands and provinces of origin, weekly arrivals and departures, peaks, year over year.

Every figure is read from the presence tables that the database keeps current
(geo.planning.models, migration 0011presence) and published through the one suppression path
(geo.privacy.suppression), one fixed window at a time (geo.privacy.windows):

- a window's table holds the residents present (on at least one day of the month, or of the
  season by their stay's season) of every cell, community, street, district and the city,
  and per age band and province of origin for communities and above; each total is the sum of
  its parts (a community of its cells, a street of its communities ..., an area of its age
  bands and of its provinces), so the whole table is protected at once and every answer for
  that window - whatever the level asked for - is cut from it;
- year over year: the same window a year earlier, cut from its own protected table;
- weekly arrivals and departures per community and the city's (city = Σ communities);
- peaks per community and season: the day with most residents present (only where that count
  is at least the threshold, else neither day nor count), and the month with most residents,
  shown with the count its month's protected table publishes (neither where it is hidden).

Presence on days after the city's today is not counted: an open stay is present until the
rule says otherwise, but what has not happened yet is the forecast's (geo.planning.forecast).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core import clock
from geo.core.config import map_settings
from geo.core.errors import Forbidden, InvalidInput
from geo.planning.models import AGE_BANDS
from geo.privacy.masking import suppress_small
from geo.privacy.suppression import Layout, protect
from geo.privacy.windows import Window, season_months

READERS = (Role.planner.value, "system")
CITY = "city"
UNKNOWN = "未知"  # unknown province of origin


class Level(StrEnum):
    cell = "cell"  # 网格
    community = "community"  # 社区
    street = "street"  # 街道
    district = "district"  # 区县
    city = "city"  # 全市


_BREAKDOWN_LEVELS = (Level.community, Level.street, Level.district, Level.city)


@dataclass(frozen=True)
class _Cut:
    """A window's protected table: {key: count, or None where hidden}."""

    shown: dict[tuple[str, ...], int | None]
    areas: dict[Level, list[str]]
    provinces: list[str]
    community_of: dict[str, str]  # cell key -> its community

    def residents(self, level: Level, area: str) -> int | None:
        return self.shown.get(("n", level, area), 0)

    def bands(self, level: Level, area: str) -> dict[str, int | None]:
        return {b: self.shown.get(("band", level, area, b), 0) for b in AGE_BANDS}

    def origins(self, level: Level, area: str) -> dict[str, int | None]:
        return {p: self.shown.get(("origin", level, area, p), 0) for p in self.provinces}


def presence(session: Session, me: Principal, window: Window, level: Level) -> dict[str, Any]:
    """Residents present per area of `level` in the window, with the window a year earlier.

    Communities and above also get age bands and provinces of origin (cells are too small).
    """
    _may_read(me)
    now, before = _cut(session, window), _cut(session, _year_before(window))
    rows = []
    for area in sorted(set(now.areas[level]) | set(before.areas[level])):
        row: dict[str, Any] = {
            "area": area,
            "residents": now.residents(level, area),
            "residents_year_before": before.residents(level, area),
        }
        if level in _BREAKDOWN_LEVELS:
            row["age_bands"] = now.bands(level, area)
            row["origins"] = now.origins(level, area)
            row["age_bands_year_before"] = before.bands(level, area)
            row["origins_year_before"] = before.origins(level, area)
        rows.append(row)
    return {**_about(window), "level": level.value, "rows": rows}


def flows(session: Session, me: Principal, season: int) -> dict[str, Any]:
    """Arrivals and departures per ISO week (its Monday) and community, and the city's, each
    beside the same week a year before (52 weeks earlier: the same weekday, the same place in the
    season), as that season's own protected table publishes it."""
    _may_read(me)
    now, before = _weekly_flows(session, season), _weekly_flows(session, season - 1)
    rows = []
    for (week, area), values in now.items():
        earlier = before.get(((date.fromisoformat(week) - YEAR_OF_WEEKS).isoformat(), area), {})
        rows.append(
            {
                "week": week,
                "community_code": area,
                **values,
                **{f"{k}_year_before": earlier.get(k, 0) for k in _FLOWS},
            }
        )
    return {"season": season, "threshold": _k(), "rows": rows}


YEAR_OF_WEEKS = timedelta(weeks=52)


def _weekly_flows(session: Session, season: int) -> dict[tuple[str, str], dict[str, int | None]]:
    """{(week, community or city): {arrivals, departures}} of a season, protected as one table;
    a week with no arrival or departure anywhere is absent (zero)."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    weeks: dict[str, set[str]] = defaultdict(set)
    for r in session.execute(text("SELECT * FROM presence_flows(:s)"), {"s": season}).mappings():
        week = r["week"].isoformat()
        weeks[week].add(r["community_code"])
        for kind in ("arrivals", "departures"):
            counts[kind, r["community_code"], week] += r[kind]
            counts[kind, CITY, week] += r[kind]
    sums = [
        ((kind, CITY, w), [(kind, c, w) for c in sorted(cs)])
        for w, cs in sorted(weeks.items())
        for kind in ("arrivals", "departures")
    ]
    shown = protect(Layout.build(sorted(counts), sums), counts, _k())
    return {
        (w, area): {k: shown[k, area, w] for k in _FLOWS}
        for w, cs in sorted(weeks.items())
        for area in [*sorted(cs), CITY]
    }


_FLOWS = ("arrivals", "departures")


def peaks(session: Session, me: Principal, season: int) -> dict[str, Any]:
    """Per community: the peak day (and its residents present) and the peak month of a season,
    beside the season before's."""
    _may_read(me)
    now, before = _peaks_of(session, season), _peaks_of(session, season - 1)
    # a community where nobody was present that season: no peak, zero residents (not hidden)
    none = {
        "peak_day": None,
        "peak_day_residents": 0,
        "peak_month": None,
        "peak_month_residents": 0,
    }
    rows = [
        {
            "community_code": community,
            **now.get(community, none),
            **{f"{k}_year_before": v for k, v in before.get(community, none).items()},
        }
        for community in sorted(set(now) | set(before))
    ]
    return {"season": season, "threshold": _k(), "rows": rows}


def _peaks_of(session: Session, season: int) -> dict[str, dict[str, Any]]:
    first, last = clock.season_bounds(season)
    days = session.execute(
        text(
            "SELECT DISTINCT ON (community_code) community_code, day, total FROM ("
            " SELECT community_code, day, sum(residents)::int AS total FROM presence_day"
            " WHERE day BETWEEN :a AND least(:b, city_today()) GROUP BY 1, 2) q"
            " ORDER BY community_code, total DESC, day"
        ),
        {"a": first, "b": last},
    ).all()
    months = {m: _cut(session, Window(season, m)) for m in season_months(season)}
    out = {}
    for community, day, total in days:
        shown = suppress_small(total, _k())
        counts = {m: cut.residents(Level.community, community) for m, cut in months.items()}
        raw = _raw_month_totals(session, season, community)
        month = max(raw, key=lambda m: (raw[m], m)) if raw else None
        month_count = counts.get(month) if month else None
        out[community] = {
            "peak_day": day.isoformat() if shown else None,
            "peak_day_residents": shown,
            "peak_month": month if month_count is not None else None,
            "peak_month_residents": month_count,
        }
    return out


def latest_season(session: Session) -> int:
    """The latest season, up to the current one, in which anyone was present: where a planner's
    page starts (the current season is empty in its first days). The current one if none."""
    latest = session.execute(
        text("SELECT max(season) FROM presence_season WHERE season <= city_season(city_today())")
    ).scalar_one()
    return clock.current_season() if latest is None else int(latest)


def cells_of_month(session: Session, month: str) -> dict[tuple[str | None, str], int | None]:
    """{(cell code, or None for a stay without a cell, community): residents present} in a month,
    exactly as the month's protected table publishes them (None where hidden). The residents'
    density (geo.planning.aggregates) is cut from here, so the two can never disagree."""
    first = date.fromisoformat(month + "-01")
    cut = _cut(session, Window(clock.season_of(first), month))
    out: dict[tuple[str | None, str], int | None] = {}
    for (kind, level, *rest), value in cut.shown.items():
        if kind == "n" and level == Level.cell:
            cell = rest[0]
            community = cut.community_of[cell]
            out[None if cell.endswith(":") else cell, community] = value
    return out


def published_cells(session: Session, window: Window) -> dict[tuple[str, ...], int | None]:
    """Residents present in the window per cell (a stay without a cell: `community:`), community
    and the city, as the window's protected table publishes them (None where hidden), keyed
    ("n", level, area). Other figures built on these counts (walking coverage) hide at least
    what is hidden here."""
    cut = _cut(session, window)
    levels = (Level.cell, Level.community, Level.city)
    return {k: v for k, v in cut.shown.items() if k[0] == "n" and k[1] in levels}


def cell_ages(session: Session, window: Window) -> dict[tuple[str, str], dict[str, int]]:
    """{(community, cell key): {age band: residents present}} in the window: the raw counts
    (before suppression) the protected tables are made from; for the figures built on them."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for community, cell, band, _province, n in _rows(session, window):
        out[community, cell or f"{community}:"][band] += n
    return {k: dict(v) for k, v in out.items()}


def _raw_month_totals(session: Session, season: int, community: str) -> dict[str, int]:
    first, last = clock.season_bounds(season)
    rows = session.execute(
        text(
            "SELECT month, sum(residents)::int FROM presence_month WHERE community_code = :c"
            " AND month BETWEEN :a AND least(:b, city_today()) GROUP BY 1"
        ),
        {"c": community, "a": first, "b": last},
    )
    return {m.isoformat()[:7]: n for m, n in rows}


_CUTS = "houniao.presence_cuts"


@contextmanager
def cuts_cached(session: Session) -> Iterator[None]:
    """Within: each window's protected table is cut once, however many figures read it (a batch
    that writes nothing in between: a season's workbook and report read ~170 cuts of ~26)."""
    session.info[_CUTS] = {}
    try:
        yield
    finally:
        session.info.pop(_CUTS, None)


def _cut(session: Session, window: Window) -> _Cut:
    """The window's counts at every level, protected as one table (once per window inside
    `cuts_cached`)."""
    cache = session.info.get(_CUTS)
    if cache is None:
        return _cut_now(session, window)
    if window not in cache:
        cache[window] = _cut_now(session, window)
    return cast(_Cut, cache[window])


def _cut_now(session: Session, window: Window) -> _Cut:
    return _cut_of(_rows(session, window), _k())


@lru_cache(maxsize=64)
def _cut_of(rows: tuple[tuple[str, str, str, str, int], ...], threshold: int) -> _Cut:
    """The protected table of these rows, shared by every request that reads the same rows: the
    cut is a pure function of them (and the threshold), and building it is most of a planner's
    density request (~0.3 s of Python for the demo's month); the rows' SQL is a few ms. Read
    only: callers share the instance."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    tree: dict[Level, dict[str, set[str]]] = {lv: defaultdict(set) for lv in Level}
    provinces: set[str] = set()
    for community, cell, band, province, n in rows:
        cell_key = cell or f"{community}:"  # a stay without a cell: its community's own part
        path = {
            Level.cell: cell_key,
            Level.community: community,
            Level.street: community[:9],
            Level.district: community[:6],
            Level.city: CITY,
        }
        province = province or UNKNOWN
        provinces.add(province)
        for lv, area in path.items():
            counts["n", lv, area] += n
            if lv in _BREAKDOWN_LEVELS:
                counts["band", lv, area, band] += n
                counts["origin", lv, area, province] += n
        tree[Level.community][community].add(cell_key)
        tree[Level.street][community[:9]].add(community)
        tree[Level.district][community[:6]].add(community[:9])
        tree[Level.city][CITY].add(community[:6])
    sums: list[tuple[tuple[str, ...], list[Any]]] = []
    child = {Level.community: Level.cell, Level.street: Level.community}
    child |= {Level.district: Level.street, Level.city: Level.district}
    for lv, parts_of in tree.items():
        for area, parts in sorted(parts_of.items()):
            sub = child[lv]
            sums.append((("n", lv, area), [("n", sub, p) for p in sorted(parts)]))
            if lv in _BREAKDOWN_LEVELS:
                bands = [
                    ("band", lv, area, b) for b in AGE_BANDS if counts.get(("band", lv, area, b))
                ]
                origins = [("origin", lv, area, p) for p in sorted(provinces)]
                sums.append((("n", lv, area), bands))
                sums.append((("n", lv, area), [o for o in origins if o in counts]))
            if lv in _BREAKDOWN_LEVELS and sub in _BREAKDOWN_LEVELS:
                for b in AGE_BANDS:
                    sums.append(
                        (
                            ("band", lv, area, b),
                            [k for p in sorted(parts) if (k := ("band", sub, p, b)) in counts],
                        )
                    )
                for prov in sorted(provinces):
                    sums.append(
                        (
                            ("origin", lv, area, prov),
                            [k for p in sorted(parts) if (k := ("origin", sub, p, prov)) in counts],
                        )
                    )
    keys = sorted(counts)
    sums = [(t, ps) for t, ps in sums if t in counts and ps]
    shown = protect(Layout.build(keys, sums), counts, threshold)
    areas = {lv: sorted({k[2] for k in keys if k[0] == "n" and k[1] == lv}) for lv in Level}
    areas[Level.cell] = sorted(a for a in areas[Level.cell] if not a.endswith(":"))
    community_of = {cell: c for c, cells in tree[Level.community].items() for cell in cells}
    return _Cut(shown, areas, sorted(provinces), community_of)


def _rows(session: Session, window: Window) -> tuple[tuple[str, str, str, str, int], ...]:
    if window.month:
        query = (
            "SELECT community_code, cell_code, age_band, origin_province, residents"
            " FROM presence_month WHERE month = :m AND month <= city_today()"
        )
        params: dict[str, Any] = {"m": date.fromisoformat(window.month + "-01")}
    else:
        query = (
            "SELECT community_code, cell_code, age_band, origin_province, residents"
            " FROM presence_season WHERE season = :s AND season <= city_season(city_today())"
        )
        params = {"s": window.season}
    return tuple(map(tuple, session.execute(text(query), params).all()))


def _year_before(window: Window) -> Window:
    if window.month:
        return Window(window.season - 1, f"{int(window.month[:4]) - 1}{window.month[4:]}")
    return Window(window.season - 1)


def level_of(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise InvalidInput(
            f"level must be one of {', '.join(lv.value for lv in Level)}, got {value!r}"
        ) from None


def _about(window: Window) -> dict[str, Any]:
    return {"season": window.season, "month": window.month, "threshold": _k()}


def _k() -> int:
    return map_settings().disclosure_threshold


def _may_read(me: Principal) -> None:
    if me.role not in READERS:
        raise Forbidden(f"role {me.role} may not read presence figures")
