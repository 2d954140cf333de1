"""The planner's density map draws a cell where nobody was present as 0, in a class of its own
with a legend row, never blank (blank reads as missing or suppressed); suppressed counts keep
their grey "少于N" class (issue 11)."""

from __future__ import annotations

import json
import re

from maps.density import COLOURS, SUPPRESSED, ZERO, density_map


def _cell(code: str, lon: float) -> dict:
    ring = [[lon, 47.7], [lon + 0.01, 47.7], [lon + 0.01, 47.71], [lon, 47.71], [lon, 47.7]]
    return {
        "type": "Feature",
        "id": code,
        "properties": {"code": code, "name": code[-3:]},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _hex(h3: str, count: int | None) -> dict:
    feature = _cell(h3, 128.9)
    feature["properties"] = {"h3": h3, "count": count, "lower_bound": False}
    return feature


def test_zero_is_drawn_in_its_own_class_and_the_legend_names_it() -> None:
    codes = ("230717001001001", "230717001001002", "230717001001003")
    html = density_map(
        cells={
            "type": "FeatureCollection",
            "features": [_cell(c, 128.8 + i / 50) for i, c in enumerate(codes)],
        },
        monthly={"2026-07": {codes[0]: 0, codes[1]: None, codes[2]: 30}},
        hexes={"type": "FeatureCollection", "features": [_hex("8828308281fffff", 0)]},
        flows=[],
        origins=[],
        threshold=10,
        season=2026,
    )
    styles = json.loads(re.search(r"let styledict = (\{.*?\});\n", html).group(1))
    by_cell = {i: next(iter(months.values())) for i, months in styles.items()}
    assert by_cell["0"] == {"color": ZERO, "opacity": 0.75}  # drawn, not left clear
    assert by_cell["1"]["color"] == SUPPRESSED and by_cell["2"]["color"] == COLOURS[1]
    legend = html[html.index("houniao-legend") :]
    assert re.search(rf"background:{ZERO}[^<]*</span>0（无人）", legend)
    assert re.search(rf"background:{SUPPRESSED}[^<]*</span>少于10，不公开", legend)
    assert ZERO not in COLOURS and ZERO != SUPPRESSED
    assert f'"fillColor": "{ZERO}"' in html  # a hexagon of empty cells: 0 too, not "10–24"
