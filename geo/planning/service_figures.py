"""Community services in aggregate, for planners: service requests, bookings of the activity
spaces and health-check participation. Never a person, never a small count.

Counts come from the owner's counting functions of migration 0017svcfig (planners see no row of
the tables behind them) and are published through the one suppression path
(geo.privacy.suppression), one fixed window at a time (geo.privacy.windows: a month, or a
season). Every answer for a window is cut from its season's one protected table, in which a
season's cell is the sum of its months', so that no month hidden there is a season minus the
visible months:

- requests: per community and category over the season; per month, per community (all
  categories); city-wide per category and item, per month and over the season (city = Σ
  communities, all = Σ categories, a category = Σ its items city-wide, a season = Σ its months;
  a community's categories month by month would hide nearly every cell of a community's month
  and cost the suppression minutes, not a second);
  fulfilled counts are a second table on the same layout, also hiding a cell whose unfulfilled
  rest is small (the share would give it away); the fulfilled share where both counts show;
  the median hours to fulfil and the mean rating only over at least `threshold` fulfilled or
  rated requests, of a published cell;
- visits: per activity space and city day, per month and the season, and all spaces: bookings
  holding their place (rooms and course seats) and visits (people of attended bookings; the
  city counts about 200 a day), each protected on the same layout; a month's window lists its
  days, a season's its months;
- health checks (per season): appointments per community and the city by step, invited =
  not booked + booked, booked = awaiting the day + attended + missed. Participation only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core import clock
from geo.core.config import map_settings
from geo.core.errors import Forbidden, InvalidInput
from geo.privacy.suppression import Hierarchy, Layout, protect
from geo.privacy.windows import Window, season_months
from geo.services.catalogue import ITEMS
from geo.spatial.places.catalogue import SERVICE_CATALOGUE

READERS = (Role.planner.value, "system")
CITY = "city"  # all communities
ALL = "all"  # all categories, all spaces
SEASON = "season"  # the season's cell of a month column
TOTAL = ""  # the category's own cell (no item)
Key = tuple[str, ...]

_REQUESTS = text(
    "SELECT month, community_code, category, item_code, requests, fulfilled, rated,"
    " mean_rating, median_hours FROM service_request_figures(:a, :b)"
)
_VISITS = text("SELECT day, space_code, bookings, visits FROM space_visit_figures(:a, :b)")
_SPACES = text("SELECT code, name FROM activity_space ORDER BY code")
_HEALTH = text("SELECT community_code, status, appointments FROM health_participation_figures(:s)")


# --- service requests ----------------------------------------------------------------------------


def requests(session: Session, me: Principal, window: Window) -> dict[str, Any]:
    """Requests per community and category, and city-wide per category and item, in the window:
    how many, fulfilled (and their share), median hours to fulfil, mean rating."""
    _may_read(me)
    first, last = clock.season_bounds(window.season)
    raw: dict[Key, dict[str, Any]] = {}
    for r in session.execute(_REQUESTS, {"a": first, "b": last}).mappings():
        key: Key = (
            r["month"].isoformat()[:7] if r["month"] else SEASON,
            r["community_code"] or CITY,
            r["category"] or ALL,
            r["item_code"] or TOTAL,
        )
        raw[key] = dict(r)
    counts = {k: int(v["requests"]) for k, v in raw.items()}
    fulfilled = {k: int(v["fulfilled"]) for k, v in raw.items()}
    layout = _request_layout(counts)
    k = _k()
    shown = protect(layout, counts, k)
    complement_small = [c for c, n in counts.items() if 0 < n - fulfilled[c] < k]
    shown_fulfilled = protect(layout, fulfilled, k, also_hide=complement_small)
    period = window.month or SEASON
    rows = []
    for cell in sorted(k_ for k_ in raw if k_[0] == period):
        _, area, category, item = cell
        n, done = shown[cell], shown_fulfilled[cell]
        stats = raw[cell]
        rows.append(
            {
                "community_code": None if area == CITY else area,
                "category": None if category == ALL else category,
                "category_label": _CATEGORY_LABELS.get(category),
                "item_code": item or None,
                "item_name": ITEMS[item].name if item in ITEMS else None,
                "requests": n,
                "fulfilled": done,
                "fulfilled_share": round(done / n, 3) if n and done is not None else None,
                "median_hours_to_fulfil": _stat(n, stats["fulfilled"], stats["median_hours"], 1),
                "mean_rating": _stat(n, stats["rated"], stats["mean_rating"], 2),
            }
        )
    rows.sort(key=_request_order)
    return {**_about(window), "rows": rows}


_CATEGORY_LABELS = {code: label for code, (label, _) in SERVICE_CATALOGUE.items()}


def _request_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["community_code"] is not None,  # the city first
        row["community_code"] or "",
        row["category"] is not None,
        row["category"] or "",
        row["item_code"] or "",
    )


def _request_layout(counts: dict[Key, int]) -> Layout:
    """The season's table: its sums between communities and the city, categories and all,
    items and their category (city-wide), months and the season."""
    keys = set(counts)
    parts: dict[Key, list[Key]] = defaultdict(list)
    for t, area, category, item in keys:
        if item != TOTAL:
            parts[t, area, category, TOTAL].append((t, area, category, item))
        elif category != ALL:
            parts[t, area, ALL, TOTAL].append((t, area, category, item))
        if area != CITY and item == TOTAL:
            parts[t, CITY, category, item].append((t, area, category, item))
        if t != SEASON:
            parts[SEASON, area, category, item].append((t, area, category, item))
    keys |= set(parts)
    return Layout.build(sorted(keys), sorted((t, sorted(ps)) for t, ps in parts.items()))


def _stat(shown: int | None, n: int, value: float | None, digits: int) -> float | None:
    """A statistic of `n` requests, shown only over at least `threshold` of them, in a cell
    whose count is published."""
    if shown is None or value is None or n < _k():
        return None
    return round(float(value), digits)


# --- activity spaces: bookings and visits -------------------------------------------------------


def visits(session: Session, me: Principal, window: Window) -> dict[str, Any]:
    """Bookings and visits per activity space and day (a month's window) or month (a season's),
    all spaces per period, and each space's total over the window; the city's mean visits per
    day over the window's days up to today."""
    _may_read(me)
    first, last = clock.season_bounds(window.season)
    names = {code: name for code, name in session.execute(_SPACES).all()}
    bookings: dict[Key, int] = defaultdict(int)
    people: dict[Key, int] = defaultdict(int)
    for day, space, n_bookings, n_visits in session.execute(_VISITS, {"a": first, "b": last}):
        bookings[day.isoformat(), space] += int(n_bookings)
        people[day.isoformat(), space] += int(n_visits)
    layout = _visit_layout(set(bookings) | {(d, ALL) for d, _ in bookings}, names)
    k = _k()
    b_shown = protect(layout, _with_totals(bookings), k)
    v_shown = protect(layout, _with_totals(people), k)
    if window.month:
        periods = sorted({d for d, _ in bookings if d.startswith(window.month)})
        whole = window.month
    else:
        periods = list(season_months(window.season))
        whole = SEASON
    spaces = [*sorted(names), ALL]
    rows = [
        _visit_row(p, s, names, b_shown, v_shown)
        for p in periods
        for s in spaces
        if (p, s) in b_shown and (b_shown[p, s] != 0 or v_shown[p, s] != 0)
    ]
    totals = [_visit_row(whole, s, names, b_shown, v_shown) for s in spaces]
    return {
        **_about(window),
        "period": "day" if window.month else "month",
        "rows": rows,
        "totals": totals,
        "mean_visits_per_day": _per_day(window, v_shown.get((whole, ALL))),
    }


def _visit_row(
    period: str,
    space: str,
    names: dict[str, str],
    b_shown: dict[Key, int | None],
    v_shown: dict[Key, int | None],
) -> dict[str, Any]:
    return {
        "period": period,
        "space_code": None if space == ALL else space,
        "space_name": names.get(space),
        "bookings": b_shown.get((period, space), 0),
        "visits": v_shown.get((period, space), 0),
    }


def _visit_layout(cells: set[Key], names: dict[str, str]) -> Layout:
    """Days x spaces, months and the season, each space and all: (day, all) = Σ spaces,
    (month, space) = Σ its days, (season, space) = Σ months."""
    spaces = [*sorted(names), ALL]
    days = sorted({d for d, _ in cells})
    months = sorted({d[:7] for d in days})
    sums: list[tuple[Key, list[Key]]] = []
    sums += [((d, ALL), [(d, s) for s in sorted(names)]) for d in days]
    sums += [((m, ALL), [(m, s) for s in sorted(names)]) for m in months]
    sums.append(((SEASON, ALL), [(SEASON, s) for s in sorted(names)]))
    for s in spaces:
        sums += [((m, s), [(d, s) for d in days if d.startswith(m)]) for m in months]
        sums.append(((SEASON, s), [(m, s) for m in months]))
    keys = [(p, s) for p in [*days, *months, SEASON] for s in spaces]
    return Layout.build(keys, sums)


def _with_totals(counts: dict[Key, int]) -> dict[Key, int]:
    """Day x space counts with every total of the layout added (all spaces, months, season)."""
    out: dict[Key, int] = defaultdict(int)
    for (day, space), n in counts.items():
        for period in (day, day[:7], SEASON):
            out[period, space] += n
            out[period, ALL] += n
    return out


def _per_day(window: Window, total: int | None) -> float | None:
    first, last = clock.season_bounds(window.season)
    if window.month:
        first = date.fromisoformat(window.month + "-01")
        last = min(last, _month_end(first))
    last = min(last, clock.today())
    days = (last - first).days + 1
    if total is None or days < 1:
        return None
    return round(total / days, 1)


def _month_end(first: date) -> date:
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


# --- health checks (65+): participation per community -----------------------------------------

STEPS = ("invited", "not_booked", "booked", "awaiting", "attended", "missed")
_STEP_OF = {
    "invited": "not_booked",
    "cancelled": "not_booked",
    "booked": "awaiting",
    "attended": "attended",
    "missed": "missed",
}


def health_checks(session: Session, me: Principal, window: Window) -> dict[str, Any]:
    """Health-check appointments of a season per community and the city: invited, of them
    booked (awaiting, attended, missed) or not."""
    _may_read(me)
    if window.month:
        raise InvalidInput("health checks are counted per season: give season=YYYY, not month=")
    counts: dict[Key, int] = defaultdict(int)
    for community, status, n in session.execute(_HEALTH, {"s": window.season}):
        step = _STEP_OF.get(status)
        if step is None:
            continue
        for area in (community, CITY):
            counts[area, step] += int(n)
            counts[area, "invited"] += int(n)
            if step != "not_booked":
                counts[area, "booked"] += int(n)
    communities = sorted({area for area, _ in counts if area != CITY})
    rows_side = Hierarchy(
        (CITY, *communities), ((CITY, tuple(communities)),) if communities else ()
    )
    steps_side = Hierarchy(
        STEPS,
        (("invited", ("not_booked", "booked")), ("booked", ("awaiting", "attended", "missed"))),
    )
    shown = protect(Layout.cross(rows_side, steps_side), counts, _k())
    rows = [
        {"community_code": None if area == CITY else area, **{s: shown[area, s] for s in STEPS}}
        for area in (CITY, *communities)
    ]
    return {**_about(window), "rows": rows}


# --- shared ------------------------------------------------------------------------------------


def _about(window: Window) -> dict[str, Any]:
    return {"season": window.season, "month": window.month, "threshold": _k()}


def _k() -> int:
    return map_settings().disclosure_threshold


def _may_read(me: Principal) -> None:
    if me.role not in READERS:
        raise Forbidden(f"role {me.role} may not read service aggregates; planners do")
