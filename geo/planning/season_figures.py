"""One season's planner figures as tables, for the exports (Excel, GeoPackage) and the season
report: presence by month and level with the year before, age bands, origins, weekly arrivals and
departures, peaks, next season's forecast with its interval, walking coverage tiers and gaps.

Nothing is counted here: every row is one that the planners' API publishes for the same question
(geo.planning.presence, forecast, coverage), so every number has been through the one suppression
path (geo.privacy.suppression). A suppressed count stays None; the writers print it as an empty
cell (NULL) beside a flag, never as a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.core import clock
from geo.core.errors import InvalidInput, NotFound
from geo.planning import coverage, forecast, presence
from geo.planning.presence import Level
from geo.privacy import windows
from geo.privacy.windows import Window
from geo.spatial.boundaries.models import Community, District, GridCell, Street
from geo.spatial.boundaries.releases import active_release_id

LEVEL_LABELS = {
    Level.cell: "网格",  # grid cell
    Level.community: "社区",  # community
    Level.street: "街道",  # street
    Level.district: "区县",  # district
    Level.city: "全市",  # the city
}
TARGET_LABELS = {"item": "服务区", "health_check": "健康体检点"}  # service area, check centre
TIER_LABELS = {
    "5": "5分钟内",
    "10": "5-10分钟",
    "15": "10-15分钟",
    coverage.BEYOND: "超过15分钟",
    coverage.UNLOCATED: "未定位",
}
SEASON_LABEL = "全季"  # the whole season (a row beside its months)
FLAG_SUFFIX = "已抑制"  # "suppressed": the flag column beside a count
CITY_NAME = "全市"


@dataclass(frozen=True)
class Column:
    """A column of a table: its key in the rows, its Chinese header; `count` marks a published
    count that may be suppressed (None), which the writers flag."""

    key: str
    title: str
    count: bool = False


@dataclass(frozen=True)
class Table:
    """One figure as rows: a sheet of the workbook, a table of the report."""

    name: str  # English id: sheet and layer names follow it
    title: str  # Chinese title
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    note: str = ""

    def suppressed(self) -> int:
        """How many counts of the table are suppressed."""
        return sum(r.get(c.key) is None for r in self.rows for c in self.columns if c.count)


@dataclass(frozen=True)
class SeasonFigures:
    """The season's figures, each a `Table`, and what a reader needs beside them."""

    season: int
    threshold: int
    generated_at: datetime
    names: dict[str, str]  # area code -> its name (active release)
    presence: Table
    age_bands: Table
    origins: Table
    flows: Table
    peaks: Table
    forecast: Table
    coverage_tiers: Table
    coverage_gaps: Table
    coverage_cells: list[dict[str, Any]]  # per cell: walks, tiers, residents (suppressed)
    about: dict[str, Any] = field(default_factory=dict)  # method, model ... (no counts)

    def tables(self) -> list[Table]:
        return [
            self.presence,
            self.age_bands,
            self.origins,
            self.flows,
            self.peaks,
            self.forecast,
            self.coverage_tiers,
            self.coverage_gaps,
        ]


Step = Callable[[str], None]


def _no_step(_: str) -> None:
    return None


STEPS = 8  # the progress steps `season_figures` reports (for a bar)


def check_season(session: Session, season: int) -> Window:
    """The season's window, refused with a message when it is out of range or has nobody.

    A season with no residents present (none yet, or not loaded) has nothing to export.
    """
    window = windows.window(season=season)  # 2000-2100, else InvalidInput
    if season > clock.current_season():
        raise InvalidInput(
            f"season {season} has not begun (the current season is {clock.current_season()});"
            " for what is expected then, see the forecast of the season before it"
        )
    present = session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM presence_season WHERE season = :s AND residents > 0)"),
        {"s": season},
    )
    if not present:
        raise NotFound(f"no residents were present in season {season}: nothing to export")
    return window


def season_figures(
    session: Session, me: Principal, season: int, step: Step = _no_step
) -> SeasonFigures:
    """Every figure of `season` as published to `me` (a planner, or the system for the CLI);
    `step` is told the name of each figure as it is done (a progress bar)."""
    presence._may_read(me)
    with presence.cuts_cached(session):
        return _season_figures(session, me, season, step)


def _season_figures(session: Session, me: Principal, season: int, step: Step) -> SeasonFigures:
    window = check_season(session, season)
    names = area_names(session)
    k = presence._k()
    by_level = {lv: presence.presence(session, me, window, lv) for lv in Level}
    months = {
        m: {lv: presence.presence(session, me, Window(season, m), lv) for lv in Level}
        for m in window.months
    }
    step("presence by month and level")
    presence_table = _presence_table(by_level, months, names)
    age_bands, origins = _breakdowns(by_level, names)
    step("age bands and origins")
    flows = _flows_table(presence.flows(session, me, season), names)
    step("arrivals and departures per week")
    peaks = _peaks_table(presence.peaks(session, me, season), names)
    step("peaks")
    forecast_table, model = _forecast_table(session, me, season + 1, names)
    step("forecast")
    covered = coverage.coverage(session, me, window)
    step("walking coverage")
    tiers, gaps = _coverage_tables(covered, names)
    step("coverage gaps")
    return SeasonFigures(
        season=season,
        threshold=k,
        generated_at=clock.now(),
        names=names,
        presence=presence_table,
        age_bands=age_bands,
        origins=origins,
        flows=flows,
        peaks=peaks,
        forecast=forecast_table,
        coverage_tiers=tiers,
        coverage_gaps=gaps,
        coverage_cells=covered["cells"],
        about={
            "walk_method": covered["method"],
            "walk_network": covered["network"],
            "speed_kmh": covered["speed_kmh"],
            "service_areas": covered["service_areas"],
            "forecast_model": model,
            "forecast_season": season + 1,
        },
    )


def area_names(session: Session) -> dict[str, str]:
    """{code: name} of every district, street, community and cell of the active release."""
    rid = active_release_id(session)
    names = {presence.CITY: CITY_NAME}
    if rid is None:
        return names
    for model in (District, Street, Community, GridCell):
        rows = session.execute(select(model.code, model.name).where(model.in_release(rid)))
        names.update({code: name for code, name in rows})
    return names


def _label(level: Level) -> str:
    return LEVEL_LABELS[level]


_AREA = (Column("level", "层级"), Column("area", "区域代码"), Column("name", "名称"))


def _presence_table(
    by_level: dict[Level, dict[str, Any]],
    months: dict[str, dict[Level, dict[str, Any]]],
    names: dict[str, str],
) -> Table:
    rows = []
    for label, figures in [(SEASON_LABEL, by_level), *months.items()]:
        for level, out in figures.items():
            for r in out["rows"]:
                rows.append(
                    {
                        "window": label,
                        "level": _label(level),
                        "area": r["area"],
                        "name": names.get(r["area"], ""),
                        "residents": r["residents"],
                        "residents_year_before": r["residents_year_before"],
                    }
                )
    return Table(
        "presence",
        "按月在住人数（分层级，含上年同期）",
        (
            Column("window", "时段"),
            *_AREA,
            Column("residents", "在住人数", count=True),
            Column("residents_year_before", "上年同期", count=True),
        ),
        rows,
        "在住：当月（或当季）至少一天在住的居留；网格层级只列有人在住的网格。",
    )


def _breakdowns(by_level: dict[Level, dict[str, Any]], names: dict[str, str]) -> tuple[Table, ...]:
    bands: list[dict[str, Any]] = []
    origins: list[dict[str, Any]] = []
    for level, out in by_level.items():
        for r in out["rows"]:
            where = {"level": _label(level), "area": r["area"], "name": names.get(r["area"], "")}
            for out_rows, key, figure in (
                (bands, "band", "age_bands"),
                (origins, "province", "origins"),
            ):
                now, before = r.get(figure) or {}, r.get(f"{figure}_year_before") or {}
                for part in [*now, *(p for p in before if p not in now)]:
                    out_rows.append(
                        {
                            **where,
                            key: part,
                            "residents": now.get(part, 0),
                            "residents_year_before": before.get(part, 0),
                        }
                    )
    year_before = Column("residents_year_before", "上年同期", count=True)
    return (
        Table(
            "age_bands",
            "年龄段（全季在住）",
            (
                *_AREA,
                Column("band", "年龄段"),
                Column("residents", "在住人数", count=True),
                year_before,
            ),
            bands,
            "社区及以上层级；unknown = 出生年份未知。",
        ),
        Table(
            "origins",
            "来源省份（全季在住）",
            (
                *_AREA,
                Column("province", "来源省份"),
                Column("residents", "在住人数", count=True),
                year_before,
            ),
            origins,
            "社区及以上层级；未知 = 来源地未登记。",
        ),
    )


def _flows_table(out: dict[str, Any], names: dict[str, str]) -> Table:
    rows = [
        {
            "week": r["week"],
            "area": r["community_code"],
            "name": names.get(r["community_code"], ""),
            "arrivals": r["arrivals"],
            "departures": r["departures"],
            "arrivals_year_before": r["arrivals_year_before"],
            "departures_year_before": r["departures_year_before"],
        }
        for r in out["rows"]
    ]
    return Table(
        "flows",
        "每周到达与离开",
        (
            Column("week", "周（周一）"),
            Column("area", "社区代码"),
            Column("name", "名称"),
            Column("arrivals", "到达", count=True),
            Column("departures", "离开", count=True),
            Column("arrivals_year_before", "上年同周到达", count=True),
            Column("departures_year_before", "上年同周离开", count=True),
        ),
        rows,
        "city = 全市（各社区之和）。上年同周：52 周之前的同一周。",
    )


_PEAK_KEYS = ("peak_day", "peak_day_residents", "peak_month", "peak_month_residents")


def _peaks_table(out: dict[str, Any], names: dict[str, str]) -> Table:
    rows = [
        {
            "area": r["community_code"],
            "name": names.get(r["community_code"], ""),
            "peak_day": r["peak_day"],
            "peak_day_residents": r["peak_day_residents"],
            "peak_month": r["peak_month"],
            "peak_month_residents": r["peak_month_residents"],
            **{f"{k}_year_before": r[f"{k}_year_before"] for k in _PEAK_KEYS},
        }
        for r in out["rows"]
    ]
    return Table(
        "peaks",
        "各社区高峰日与高峰月",
        (
            Column("area", "社区代码"),
            Column("name", "名称"),
            Column("peak_day", "高峰日"),
            Column("peak_day_residents", "高峰日在住", count=True),
            Column("peak_month", "高峰月"),
            Column("peak_month_residents", "高峰月在住", count=True),
            Column("peak_day_year_before", "上季高峰日"),
            Column("peak_day_residents_year_before", "上季高峰日在住", count=True),
            Column("peak_month_year_before", "上季高峰月"),
            Column("peak_month_residents_year_before", "上季高峰月在住", count=True),
        ),
        rows,
        "高峰人数被抑制时，高峰日（月）也不公开。0：该季无人在住。",
    )


FORECAST_LEVELS = tuple(Level)  # cells too: the GeoPackage's forecast layer


def _forecast_table(
    session: Session, me: Principal, season: int, names: dict[str, str]
) -> tuple[Table, str | None]:
    rows: list[dict[str, Any]] = []
    model, note = None, "80% 预测区间；区间只在预测值公开时给出。"
    try:
        for level in FORECAST_LEVELS:
            out = forecast.forecast(session, me, level, season)
            model = out["model"]
            for r in out["rows"]:
                where = {"level": _label(level), "area": r["area"]}
                rows.append({**where, "name": names.get(r["area"], ""), **_interval(r)})
    except InvalidInput as exc:  # too little history: said in the table, not a failed export
        rows, note = [], f"无法预测：{exc.detail}"
    return (
        Table(
            "forecast",
            f"{season}季预测（按月，80%区间）",
            (
                *_AREA,
                Column("month", "月份"),
                Column("residents", "预测在住", count=True),
                Column("low", "区间下限"),
                Column("high", "区间上限"),
            ),
            rows,
            note,
        ),
        model,
    )


def _interval(r: dict[str, Any]) -> dict[str, Any]:
    return {"month": r["month"], "residents": r["residents"], "low": r["low"], "high": r["high"]}


def _coverage_tables(out: dict[str, Any], names: dict[str, str]) -> tuple[Table, Table]:
    tiers = [
        {
            "target": TARGET_LABELS[target],
            "tier": TIER_LABELS[r["tier"]],
            "residents": r["residents"],
            "residents_65plus": r["residents_65plus"],
        }
        for target, rows in out["tiers"].items()
        for r in rows
    ]
    gaps = [
        {
            "target": TARGET_LABELS[target],
            "cell": g["cell_code"],
            "name": names.get(g["cell_code"], ""),
            "community": names.get(g["community_code"], g["community_code"]),
            "residents_65plus": g["residents_65plus"],
        }
        for target, rows in out["gaps"].items()
        for g in rows
    ]
    method = "路网步行" if out["method"] == "network" else "直线距离×绕行系数（估算）"
    speed = f"{out['speed_kmh']} km/h"
    return (
        Table(
            "coverage_tiers",
            "步行覆盖（15分钟生活圈）",
            (
                Column("target", "目标"),
                Column("tier", "步行时间"),
                Column("residents", "在住人数", count=True),
                Column("residents_65plus", "65岁及以上", count=True),
            ),
            tiers,
            f"{method}，步速 {speed}；服务区 = 任一服务区。",
        ),
        Table(
            "coverage_gaps",
            "覆盖缺口：步行超过15分钟的65岁及以上居民",
            (
                Column("target", "目标"),
                Column("cell", "网格代码"),
                Column("name", "网格名称"),
                Column("community", "社区"),
                Column("residents_65plus", "65岁及以上", count=True),
            ),
            gaps,
            "只列65岁及以上在住人数不为0的网格。",
        ),
    )


def published_counts(figures: SeasonFigures) -> Iterator[tuple[str, str, int | None]]:
    """(table, column, value) of every count the figures hold (for checks)."""
    for table in figures.tables():
        for row in table.rows:
            for c in table.columns:
                if c.count:
                    yield table.name, c.key, row.get(c.key)
