"""The planner's coverage page data (/maps/coverage): walking-time areas, gap cells, candidate
sites, hot spots of cases and next season's outlook, for one season.

Everything comes from the planners' published figures (geo.planning.coverage, .sites,
.hotspots, .map_data.outlook), already protected; this module adds only geometry of whole cells:

- walking-time areas (isochrone-like): the union of the cells whose walk to the nearest service
  area offering the item is within 5, within 10 (but not 5) and within 15 (but not 10) minutes,
  dissolved in PostGIS into one (multi)polygon per tier; so the bands nest as the life circles
  do, at the resolution of a cell (its walk is from its population-weighted point, or centroid);
- gap cells: the cells whose residents aged 65+ are beyond 15 minutes' walk (count as published);
- hot and cold spot cells of cases (nothing finer than a cell).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.planning import coverage, hotspots, map_data, sites
from geo.privacy.windows import Window
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import active_release_id

_TIER_UNION = text(
    f"""SELECT t.tier, ST_AsGeoJSON(ST_Union(g.geom), 6)
FROM unnest(CAST(:codes AS text[]), CAST(:tiers AS text[])) AS t(code, tier)
JOIN grid_cell g ON g.code = t.code AND {in_release("g")}
GROUP BY t.tier ORDER BY t.tier"""
)


def tier_areas(session: Session, tiers: dict[str, str]) -> dict[str, Any]:
    """FeatureCollection: one (multi)polygon per walking tier ('5', '10', '15') of the cells
    whose tier it is ({cell: tier}); cells beyond 15 minutes are left out (the gap layer)."""
    rid = active_release_id(session)
    within = {c: t for c, t in tiers.items() if t in {str(m) for m in coverage.TIERS}}
    if rid is None or not within:
        return {"type": "FeatureCollection", "features": []}
    rows = session.execute(
        _TIER_UNION, {"codes": list(within), "tiers": list(within.values()), "rid": rid}
    )
    features = [
        {
            "type": "Feature",
            "id": f"tier-{tier}",
            "geometry": json.loads(geometry),
            "properties": {"tier": tier, "minutes": int(tier)},
        }
        for tier, geometry in sorted(rows, key=lambda r: int(r[0]))
    ]
    return {"type": "FeatureCollection", "features": features}


def page_data(
    session: Session, me: Principal, window: Window, item: str | None, category: str | None
) -> dict[str, Any]:
    """What the coverage page draws, each piece as its API publishes it."""
    walks = coverage.coverage(session, me, window, item)
    tiers = {c["cell_code"]: c["item"]["tier"] for c in walks["cells"]}
    return {
        "coverage": walks,
        "tier_areas": tier_areas(session, tiers),
        "sites": sites.candidate_sites(session, me, window, item),
        "hotspots": hotspots.hotspots(session, me, window, category),
        "outlook": map_data.outlook(session, me, window.season),
    }
