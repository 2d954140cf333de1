"""Residents in aggregate, for planners and dispatchers: never a person, never a small count.

One window at a time (geo.privacy.windows: a month, or a season's twelve months), each answer cut
from one protected table per season (geo.privacy.suppression), so that no count below the
disclosure threshold can be read, or worked out from totals or from another window:

- density: residents present in each cell in each month, taken from the month's protected
  presence table (geo.planning.presence), so it agrees cell for cell with the presence figures
  and nothing hidden there shows here; every cell of the active release is listed, with 0 where
  nobody was present.
- flows: arrivals and departures per community and month, and the city's per month
  (city = Σ communities, each month).
- origins (seasons only): the season's residents per province and city of origin, and each
  province's total (province = Σ its cities).

Arrivals over a season's months and residents by origin count the same stays, so the two tables
are protected together, linked through that (never published) total: no province hides behind a
season's arrivals minus the visible provinces. Counts come from the owner-defined functions of
migration 0004 (`resident_flows`, `resident_origins`); density from migration 0011's
`presence_month`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core.config import map_settings
from geo.core.errors import Forbidden, InvalidInput
from geo.planning import presence
from geo.privacy.suppression import Layout, protect
from geo.privacy.windows import Window, season_months
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import active_release_id

READERS = (Role.planner.value, Role.dispatcher.value, "system")
CITY = "city"
UNKNOWN_PROVINCE = "未知"
SEASON_TOTAL = ("season residents",)  # arrivals over the season = its residents by origin
FLOWS = ("arrivals", "departures")
_FLOWS = text("SELECT month, community_code, arrivals, departures FROM resident_flows(:a, :b)")
_ORIGINS = text("SELECT origin_province, origin_city, residents FROM resident_origins(:a, :b)")


def density(session: Session, me: Principal, window: Window) -> dict[str, Any]:
    """Residents present per cell and month of the window; small counts hidden (None).

    Each month's cells are read from that month's protected presence table
    (geo.planning.presence.cells_of_month), the very values /api/v1/planning/presence publishes
    for the month at level=cell: one table, one suppression, so no cell hidden there is shown
    here or follows from a community, street or district total published there.

    Definition (since presence): a stay counts in a month if `stay_state` calls it 'present' on
    at least one day of it, within the stay's season (to 30 April) and not after the city's today.
    The earlier `resident_density` (migrations 0004/0005) differed: every month from arrival to
    the stay's end (departure, else today but not past the later of its last report and expected
    departure, where `stay_state` turns 'departure_due' only 30 days without a report), not
    clipped to the season, distinct residents per cell (presence: stays, so a resident with a
    winter stay and the next season's counts twice in the month both touch, as in presence).
    """
    _may_read(me)
    shown: dict[tuple[str, str | None, str], int | None] = {}
    for month in window.months:
        for (cell, community), value in presence.cells_of_month(session, month).items():
            shown[month, cell, community] = value
    # Cells where nobody was present are shown as 0, not left out (zero discloses no one and
    # is no part of any sum the presence table protects).
    present = {(month, cell) for month, cell, _ in shown}
    for cell, community in _cells(session):
        for month in window.months:
            if (month, cell) not in present:
                shown[month, cell, community] = 0
    keys = sorted(shown, key=lambda k: (k[0], k[1] is None, k[1] or "", k[2]))
    return {
        **_about(window),
        "rows": [
            {"month": m, "cell_code": cell, "community_code": community, "residents": shown[key]}
            for key in keys
            for m, cell, community in [key]
        ],
    }


def flows(session: Session, me: Principal, window: Window) -> dict[str, Any]:
    """Arrivals and departures per community and month of the window, and the city's."""
    _may_read(me)
    season = _season_tables(session, window.season)
    rows, city = [], []
    for month in window.months:
        if month not in season.communities:
            continue  # nobody came or went: every count is zero
        for community in sorted(season.communities[month]):
            rows.append(
                {"month": month, "community_code": community, **season.flow(community, month)}
            )
        city.append({"month": month, **season.flow(CITY, month)})
    return {**_about(window), "rows": rows, "city": city}


def origins(session: Session, me: Principal, window: Window) -> dict[str, Any]:
    """The season's residents per province and city of origin, and per province."""
    _may_read(me)
    if window.month:
        raise InvalidInput("origins are counted per season: give season=YYYY, not month=")
    season = _season_tables(session, window.season)
    rows, provinces = [], []
    for province in sorted(season.cities):
        shown = season.shown["province", province]
        provinces.append({"season": window.season, "province": province, "residents": shown})
        for city in sorted(season.cities[province], key=lambda v: (v is None, v or "")):
            shown = season.shown["origin", province, city]
            rows.append(
                {"season": window.season, "province": province, "city": city, "residents": shown}
            )
    return {**_about(window), "rows": rows, "provinces": provinces}


@dataclass(frozen=True)
class _SeasonTables:
    """A season's flows and origins as published: {cell: count, or None where hidden}."""

    shown: dict[tuple[str | None, ...], int | None]
    communities: dict[str, set[str]]  # month -> communities with an arrival or departure
    cities: dict[str, set[str | None]]  # province -> cities of origin

    def flow(self, where: str, month: str) -> dict[str, int | None]:
        return {kind: self.shown.get((kind, where, month), 0) for kind in FLOWS}


def _season_tables(session: Session, season: int) -> _SeasonTables:
    """The season's flows and origins, protected together (one layout, one call)."""
    months = set(season_months(season))
    counts: dict[tuple[str | None, ...], int] = defaultdict(int)
    communities: dict[str, set[str]] = defaultdict(set)
    for r in _fetch(session, _FLOWS, season):
        month = _month(r["month"])
        if month in months:
            communities[month].add(r["community_code"])
            for kind in FLOWS:
                counts[kind, r["community_code"], month] += r[kind]
                counts[kind, CITY, month] += r[kind]
    cities: dict[str, set[str | None]] = defaultdict(set)
    for r in _fetch(session, _ORIGINS, season, season):
        province = r["origin_province"] or UNKNOWN_PROVINCE
        cities[province].add(r["origin_city"])
        counts["origin", province, r["origin_city"]] += r["residents"]
        counts["province", province] += r["residents"]
    sums: list[tuple[Any, list[Any]]] = [
        ((kind, CITY, month), [(kind, c, month) for c in sorted(communities[month])])
        for month in sorted(communities)
        for kind in FLOWS
    ]
    sums.append((SEASON_TOTAL, [("arrivals", CITY, m) for m in sorted(communities)]))
    sums.append((SEASON_TOTAL, [("province", p) for p in sorted(cities)]))
    sums += [
        (("province", p), [("origin", p, c) for c in sorted(cs, key=repr)])
        for p, cs in sorted(cities.items())
    ]
    counts[SEASON_TOTAL] = sum(v for k, v in counts.items() if k[0] == "province")
    layout = Layout.build(sorted(counts, key=repr), sums)
    shown = protect(layout, counts, _k(), unpublished=[SEASON_TOTAL])
    return _SeasonTables(shown, dict(communities), dict(cities))


def _fetch(session: Session, query: TextClause, season: int, last: int | None = None) -> Any:
    """Rows of one of the owner-defined counting functions. A month of a season holds stays of
    that season and the ones either side (a winter stay; an arrival reported after 1 May)."""
    first, last = (season, last) if last is not None else (season - 1, season + 1)
    return session.execute(query, {"a": first, "b": last}).mappings().all()


def _cells(session: Session) -> list[tuple[str, str]]:
    """(code, community code) of every cell of the active release (none before a release)."""
    rid = active_release_id(session)
    if rid is None:
        return []
    rows = session.execute(
        text(f"SELECT code, community_code FROM grid_cell g WHERE {in_release('g')} ORDER BY code"),
        {"rid": rid},
    )
    return [(code, community) for code, community in rows]


def _month(value: date) -> str:
    return value.isoformat()[:7]


def _about(window: Window) -> dict[str, Any]:
    return {"season": window.season, "month": window.month, "threshold": _k()}


def _k() -> int:
    return map_settings().disclosure_threshold


def _may_read(me: Principal) -> None:
    if me.role not in READERS:
        raise Forbidden(f"role {me.role} may not read resident aggregates")
