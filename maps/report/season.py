"""The season report as one self-contained HTML page (Jinja2, plots inline as SVG data URIs):
the season's presence by month with the year before, districts, communities with their peaks,
age bands, origins, weekly arrivals and departures, walking coverage and gaps, next season's
forecast with its interval.

It is made from `geo.planning.season_figures.SeasonFigures`, the published figures only: a
suppressed count is printed as "—" (class `n s`), never a number. Every count sits in a
`<td class="n">`, so a reader (or a test) can find them all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from geo.core.errors import InvalidInput
from geo.planning.presence import Level
from geo.planning.season_figures import (
    LEVEL_LABELS,
    SEASON_LABEL,
    TARGET_LABELS,
    TIER_LABELS,
    SeasonFigures,
)
from geo.privacy.windows import season_months
from maps.report import plots

_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
)
SUPPRESSED = "—"
SECTIONS = {  # id -> heading, in the report's order
    "overview": "概览",
    "months": "按月在住人数（同比）",
    "areas": "各区县与社区：在住人数与高峰",
    "ages": "年龄段",
    "origins": "来源地",
    "flows": "每周到达与离开",
    "coverage": "步行覆盖与缺口",
    "forecast": "下季预测",
    "notes": "说明",
}
Step = Callable[[str], None]


def _count(value: int | None) -> str:
    return SUPPRESSED if value is None else f"{value:,}"


_ENV.filters["count"] = _count


def render_html(figures: SeasonFigures, step: Step = lambda _: None) -> str:
    """The report's HTML; `step` is told of each plot drawn (a progress bar)."""
    plots.use_cjk_font()
    view = _view(figures)
    images = _plots(figures, view, step)
    return _ENV.get_template("report/season.html").render(
        f=figures, v=view, img=images, sections=SECTIONS, levels=LEVEL_LABELS
    )


def _rows(figures: SeasonFigures, level: Level, window: str) -> list[dict[str, Any]]:
    label = LEVEL_LABELS[level]
    return [r for r in figures.presence.rows if r["level"] == label and r["window"] == window]


def _view(f: SeasonFigures) -> dict[str, Any]:
    months = season_months(f.season)
    city = {m: next(iter(_rows(f, Level.city, m)), None) for m in months}
    season = next(iter(_rows(f, Level.city, SEASON_LABEL)), None)
    peaks = {r["area"]: r for r in f.peaks.rows}
    communities = [
        {**r, **{k: v for k, v in peaks.get(r["area"], {}).items() if k.startswith("peak")}}
        for r in _rows(f, Level.community, SEASON_LABEL)
    ]
    bands = sorted({r["band"] for r in f.age_bands.rows}, key=_band_order)
    band_areas: dict[tuple[str, str], dict[str, Any]] = {}
    for r in f.age_bands.rows:
        if r["level"] in (LEVEL_LABELS[Level.city], LEVEL_LABELS[Level.district]):
            area = band_areas.setdefault((r["level"], r["area"]), {"name": r["name"], "bands": {}})
            area["bands"][r["band"]] = r["residents"]
    city_label = LEVEL_LABELS[Level.city]
    provinces = [r for r in f.origins.rows if r["level"] == city_label]
    provinces.sort(key=lambda r: (r["residents"] is None, -(r["residents"] or 0), r["province"]))
    forecast = [r for r in f.forecast.rows if r["level"] == city_label]
    districts = [r for r in f.forecast.rows if r["level"] == LEVEL_LABELS[Level.district]]
    return {
        "months": months,
        "city_months": [(m, city[m]) for m in months],
        "season": season,
        "districts": _rows(f, Level.district, SEASON_LABEL),
        "communities": communities,
        "bands": bands,
        "band_areas": sorted(band_areas.items(), key=lambda kv: (kv[0][0] != city_label, kv[0])),
        "provinces": provinces,
        "city_flows": [r for r in f.flows.rows if r["area"] == "city"],
        "tiers": f.coverage_tiers.rows,
        "gaps": f.coverage_gaps.rows,
        "forecast": forecast,
        "forecast_districts": _by_area(districts),
        "forecast_months": season_months(f.season + 1),
        "targets": TARGET_LABELS,
        "tier_labels": TIER_LABELS,
    }


def _band_order(band: str) -> tuple[int, str]:
    return (1 if not band[:1].isdigit() and not band.startswith("<") else 0, band.lstrip("<"))


def _by_area(rows: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, dict[str, Any]]]]:
    areas: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {}
    for r in rows:
        areas.setdefault(r["area"], (r["name"], {}))[1][r["month"]] = r
    return [(code, name, months) for code, (name, months) in sorted(areas.items())]


def _plots(f: SeasonFigures, v: dict[str, Any], step: Step) -> dict[str, str]:
    images: dict[str, str] = {}
    months = v["months"]
    now = [r["residents"] if r else 0 for _, r in v["city_months"]]
    before = [r["residents_year_before"] if r else 0 for _, r in v["city_months"]]
    images["months"] = plots.months_year_over_year(months, now, before, f.season)
    step("plot: months")
    city_bands = next((a for (lv, _), a in v["band_areas"] if lv == LEVEL_LABELS[Level.city]), None)
    if city_bands:
        bands = v["bands"]
        images["ages"] = plots.horizontal_bars(
            "全市年龄段", bands, [city_bands["bands"].get(b, 0) for b in bands]
        )
    top = v["provinces"][:15]
    if top:
        images["origins"] = plots.horizontal_bars(
            "全市来源省份（前15）", [r["province"] for r in top], [r["residents"] for r in top]
        )
    step("plot: ages and origins")
    flows = v["city_flows"]
    if flows:
        images["flows"] = plots.weekly_flows(
            [r["week"] for r in flows],
            [r["arrivals"] for r in flows],
            [r["departures"] for r in flows],
        )
    step("plot: flows")
    tiers: dict[str, list[tuple[str, int | None]]] = {}
    for r in v["tiers"]:
        tiers.setdefault(r["target"], []).append((r["tier"], r["residents_65plus"]))
    if tiers:
        images["coverage"] = plots.coverage_tiers(tiers)
    step("plot: coverage")
    forecast = {r["month"]: r for r in v["forecast"]}
    if forecast:
        nxt = v["forecast_months"]
        images["forecast"] = plots.forecast_band(
            nxt,
            [forecast[m]["residents"] if m in forecast else None for m in nxt],
            [forecast[m]["low"] if m in forecast else None for m in nxt],
            [forecast[m]["high"] if m in forecast else None for m in nxt],
            now,
            f.season + 1,
        )
    step("plot: forecast")
    return images


PLOT_STEPS = 6  # the steps `write_report` reports: five plots and the PDF


def check_out_dir(out: Path, create: bool = False) -> Path:
    """The folder the report goes to; InvalidInput when it cannot be written (a file in the
    way, no permission, a read-only file system), checked before any work. A missing folder is
    checked by its nearest existing parent, and made only with `create`."""
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is a file, not a folder: give --out a folder")
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise InvalidInput(f"cannot write the report to {out}: {existing} is a file")
    try:
        handle, probe = tempfile.mkstemp(prefix=".houniao-probe-", dir=existing)
        os.close(handle)
        os.unlink(probe)
        if create:
            out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    return out


def write_report(figures: SeasonFigures, out: Path, step: Step = lambda _: None) -> dict[str, Path]:
    """Write report.html and report.pdf into the folder `out` (each replaced only once it is
    complete); returns their paths."""
    from maps.report.pdf import html_to_pdf

    html, pdf = out / "report.html", out / "report.pdf"
    page = render_html(figures, step)
    scratch_html = out / ".report.part.html"
    scratch_pdf = out / ".report.part.pdf"
    try:
        scratch_html.write_text(page, encoding="utf-8")
        html_to_pdf(scratch_html, scratch_pdf)
        step("pdf")
        os.replace(scratch_html, html)
        os.replace(scratch_pdf, pdf)
    finally:
        scratch_html.unlink(missing_ok=True)
        scratch_pdf.unlink(missing_ok=True)
    return {"html": html, "pdf": pdf}
