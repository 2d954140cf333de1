"""Service coverage by walking, population-weighted, for planners: never a person, never a
small count.

For one window (a season, or a month of it; geo.privacy.windows) and one catalogue item:

- each cell's walk (geo.planning.walking) to the nearest service area offering the item (every
  service area when no item is named), and to the nearest health-check centre, in metres and
  minutes at an older person's pace (`HOUNIAO_WALK_SPEED_KMH`, 4.5 km/h), labelled `network`
  or `estimate`;
- the residents, and residents aged 65+, present in the window per cell (the presence tables,
  geo.planning.presence), and per tier of the 15-minute community life circle (GB 50180-2018:
  within 5, 10 and 15 minutes, and beyond - cells that reach no service area are beyond);
  residents whose stay has no cell are `unlocated`;
- gaps: cells with residents aged 65+ beyond 15 minutes' walk;
- loads: per service area, the residents (and 65+) present in its walking catchment, the cells
  whose nearest area it is within 15 minutes (for the peak load, ask for the peak month).

Counts are protected as one table through the one suppression path (geo.privacy.suppression):
per cell residents = 65+ + younger (the younger not printed, but protected like any count, so
residents minus 65+ never gives a small number), each tier = the sum of its cells, the city =
the sum of the tiers (per target) = the sum of its communities = the sum of their cells, each
area's load = the sum of its catchment's cells. The window's presence table
(geo.planning.presence) publishes the cells, communities and the city
already: what it hides is hidden here, and what it shows is taken as known (`keep`), so the
complements come from this table's own figures (65+, tiers) and neither table opens the other.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core.config import map_settings, walk_settings
from geo.core.errors import Forbidden, InvalidInput
from geo.planning import presence, walking
from geo.privacy.suppression import Layout, protect
from geo.privacy.windows import Window
from geo.spatial.places.catalogue import all_items

READERS = (Role.planner.value, "system")
TIERS = (5, 10, 15)  # minutes: GB 50180-2018's 5-, 10- and 15-minute life circles
BEYOND = "beyond"  # more than 15 minutes, or no walk to any service area
UNLOCATED = "unlocated"  # residents whose stay has no cell
OLDER = ("65-74", "75+")
TARGETS = ("item", "health_check")
CITY = "city"


def tier_of(minutes: float | None) -> str:
    """The life-circle tier of a walk: '5', '10', '15' (within so many minutes) or 'beyond'.

    >>> [tier_of(m) for m in (0.0, 5.0, 5.01, 15.0, 15.5, None)]
    ['5', '5', '10', '15', 'beyond', 'beyond']
    """
    if minutes is None:
        return BEYOND
    for limit in TIERS:
        if minutes <= limit:
            return str(limit)
    return BEYOND


def coverage(
    session: Session,
    me: Principal,
    window: Window,
    item: str | None = None,
    speed_kmh: float | None = None,
) -> dict[str, Any]:
    """Walking coverage of the window's residents for `item` and for health checks."""
    _may_read(me)
    if item is not None and item not in all_items():
        raise InvalidInput(
            f"unknown catalogue item {item!r}; items are 'category:item', e.g. {all_items()[0]!r}"
            " (GET /api/v1/services/catalogue lists them)"
        )
    settings = walk_settings()
    speed = speed_kmh or settings.speed_kmh
    if not 1.0 < speed <= 7.0:
        raise InvalidInput(f"walking speed must be above 1 and at most 7 km/h, got {speed}")
    metres_per_minute = speed * 1000 / 60
    k = map_settings().disclosure_threshold
    points = walking.cell_points(session, window.season, k)
    target_areas = {
        "item": walking.service_areas_offering(session, item),
        "health_check": walking.health_check_areas(session),
    }
    walks: dict[str, dict[str, walking.Nearest]] = {}
    method, network = walking.Method.estimate, None
    for target, areas in target_areas.items():
        method, network, walks[target] = walking.nearest(
            session, points, areas, detour_factor=settings.detour_factor
        )
    tiers: dict[tuple[str, str], str] = {}
    for target in TARGETS:
        for p in points:
            walk = walks[target].get(p.code)
            tiers[target, p.code] = tier_of(walk.metres / metres_per_minute if walk else None)
    catchments = _catchments(points, walks, tiers, target_areas)
    shown = _protected(session, window, tiers, catchments, k)
    return {
        "season": window.season,
        "month": window.month,
        "item": item,
        "method": method.value,
        "network": network,
        "speed_kmh": speed,
        "detour_factor": settings.detour_factor if method == walking.Method.estimate else None,
        "tiers_minutes": list(TIERS),
        "threshold": k,
        "service_areas": {t: len(a) for t, a in target_areas.items()},
        "tiers": {t: _tier_rows(shown, t) for t in TARGETS},
        "cells": [_cell_row(p, walks, tiers, shown, metres_per_minute) for p in points],
        "gaps": {t: _gaps(points, tiers, shown, t) for t in TARGETS},
        "loads": {t: _loads(catchments, shown, t) for t in TARGETS},
    }


def _catchments(
    points: list[walking.CellPoint],
    walks: dict[str, dict[str, walking.Nearest]],
    tiers: dict[tuple[str, str], str],
    target_areas: dict[str, list[int]],
) -> dict[tuple[str, int], list[str]]:
    """Per target and service area, the cells whose nearest area it is within 15 minutes' walk
    (its catchment); every area offering the target is listed, an idle one with no cells."""
    catchments: dict[tuple[str, int], list[str]] = {
        (target, area): [] for target, areas in target_areas.items() for area in areas
    }
    within = {str(t) for t in TIERS}
    for target in TARGETS:
        for p in points:
            walk = walks[target].get(p.code)
            if walk is not None and tiers[target, p.code] in within:
                catchments.setdefault((target, walk.service_area_id), []).append(p.code)
    return catchments


def _loads(
    catchments: dict[tuple[str, int], list[str]],
    shown: dict[tuple[str, ...], int | None],
    target: str,
) -> list[dict[str, Any]]:
    """The load on each service area: residents (and 65+) present in its catchment."""
    return [
        {
            "service_area_id": area,
            "cells": len(cells),
            "residents": shown.get(("n", target, _area_key(area)), 0),
            "residents_65plus": shown.get(("old", target, _area_key(area)), 0),
        }
        for (t, area), cells in sorted(catchments.items())
        if t == target
    ]


def _area_key(area: int) -> str:
    return f"area:{area}"


def _protected(
    session: Session,
    window: Window,
    tiers: dict[tuple[str, str], str],
    catchments: dict[tuple[str, int], list[str]],
    k: int,
) -> dict[tuple[str, ...], int | None]:
    """The window's coverage counts as one protected table (module docstring)."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    cells_of: dict[str, list[str]] = defaultdict(list)
    for (community, cell), bands in presence.cell_ages(session, window).items():
        total = sum(bands.values())
        older = sum(bands.get(b, 0) for b in OLDER)
        counts["n", cell] += total
        counts["old", cell] += older
        counts["young", cell] += total - older
        counts["n", community] += total
        counts["n", CITY] += total
        counts["old", CITY] += older
        cells_of[community].append(cell)
    cells = sorted(c for cs in cells_of.values() for c in cs)
    members: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for target in TARGETS:
        for cell in cells:
            located = not cell.endswith(":")
            tier = tiers.get((target, cell), BEYOND) if located else UNLOCATED
            members[target, tier].append(cell)
            for kind in ("n", "old"):
                counts[kind, target, tier] += counts[kind, cell]
    Key = tuple[str, ...]
    sums: list[tuple[Key, list[Key]]] = []
    sums += [(("n", c), [("old", c), ("young", c)]) for c in cells]
    sums += [(("n", m), [("n", c) for c in sorted(cs)]) for m, cs in sorted(cells_of.items())]
    sums.append((("n", CITY), [("n", m) for m in sorted(cells_of)]))
    for (target, tier), cs in sorted(members.items()):
        for kind in ("n", "old"):
            sums.append(((kind, target, tier), [(kind, c) for c in cs]))
    for (target, area), members_of_area in sorted(catchments.items()):
        present = [c for c in members_of_area if ("n", c) in counts]
        if not present:
            continue
        for kind in ("n", "old"):
            key = (kind, target, _area_key(area))
            counts[key] = sum(counts[kind, c] for c in present)
            sums.append((key, [(kind, c) for c in present]))
    for target in TARGETS:
        for kind in ("n", "old"):
            parts: list[Key] = [
                (kind, target, tier) for tier in _TIER_NAMES if (target, tier) in members
            ]
            sums.append(((kind, CITY), parts))
    if not cells:
        return {}
    # What the presence table publishes stays as it is there: its hidden counts hidden here,
    # its shown ones never taken as complements (hiding them here would hide nothing).
    published = {
        ("n", key[2]): value for key, value in presence.published_cells(session, window).items()
    }
    hide = [key for key, value in published.items() if value is None and key in counts]
    keep = [key for key, value in published.items() if value is not None and key in counts]
    return protect(Layout.build(sorted(counts), sums), counts, k, also_hide=hide, keep=keep)


_TIER_NAMES = (*(str(t) for t in TIERS), BEYOND, UNLOCATED)


def _tier_rows(shown: dict[tuple[str, ...], int | None], target: str) -> list[dict[str, Any]]:
    rows = []
    within: dict[str, int | None] = {"n": 0, "old": 0}
    for tier in _TIER_NAMES:
        n, old = shown.get(("n", target, tier), 0), shown.get(("old", target, tier), 0)
        row: dict[str, Any] = {"tier": tier, "residents": n, "residents_65plus": old}
        if tier not in (BEYOND, UNLOCATED):
            # within the tier's minutes: this tier and the shorter ones (None if any is hidden)
            for kind, value in (("n", n), ("old", old)):
                so_far = within[kind]
                within[kind] = None if so_far is None or value is None else so_far + value
            row["within_residents"] = within["n"]
            row["within_residents_65plus"] = within["old"]
        rows.append(row)
    return rows


def _cell_row(
    point: walking.CellPoint,
    walks: dict[str, dict[str, walking.Nearest]],
    tiers: dict[tuple[str, str], str],
    shown: dict[tuple[str, ...], int | None],
    metres_per_minute: float,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cell_code": point.code,
        "community_code": point.community_code,
        "residents": shown.get(("n", point.code), 0),
        "residents_65plus": shown.get(("old", point.code), 0),
    }
    for target in TARGETS:
        walk = walks[target].get(point.code)
        row[target] = {
            "service_area_id": walk.service_area_id if walk else None,
            "metres": round(walk.metres, -1) if walk else None,
            "minutes": round(walk.metres / metres_per_minute, 1) if walk else None,
            "tier": tiers[target, point.code],
        }
    return row


def _gaps(
    points: list[walking.CellPoint],
    tiers: dict[tuple[str, str], str],
    shown: dict[tuple[str, ...], int | None],
    target: str,
) -> list[dict[str, Any]]:
    """Cells beyond 15 minutes with residents aged 65+ (None: hidden, small or a complement)."""
    return [
        {
            "cell_code": p.code,
            "community_code": p.community_code,
            "residents_65plus": shown.get(("old", p.code), 0),
        }
        for p in points
        if tiers[target, p.code] == BEYOND and shown.get(("old", p.code), 0) != 0
    ]


def _may_read(me: Principal) -> None:
    if me.role not in READERS:
        raise Forbidden(f"role {me.role} may not read coverage figures")
