"""A season's planner figures as files: an Excel workbook (one sheet per figure, Chinese headers)
and a GeoPackage (cell-level figures as polygon layers with the cells' geometry, EPSG:4326).

Both are written from `geo.planning.season_figures`, whose every count is the published one. A
suppressed count is written as an empty cell (Excel) or NULL (GeoPackage) beside a flag column
(`…已抑制` = 是, or `…_suppressed` = true); the number behind it never reaches the file.
Files are written beside the target and moved onto it when complete, so a failure leaves no
half-written file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput
from geo.planning.presence import Level
from geo.planning.season_figures import (
    FLAG_SUFFIX,
    LEVEL_LABELS,
    SEASON_LABEL,
    SeasonFigures,
    Table,
)
from geo.privacy.windows import season_months

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GPKG_TYPE = "application/geopackage+sqlite3"
FORMATS = {"xlsx": XLSX_TYPE, "gpkg": GPKG_TYPE}
SHEETS = {
    "presence": "在住人数",
    "age_bands": "年龄段",
    "origins": "来源地",
    "flows": "每周到离",
    "peaks": "高峰",
    "forecast": "预测",
    "coverage_tiers": "覆盖分层",
    "coverage_gaps": "覆盖缺口",
}
YES, NO = "是", "否"
_BOLD = Font(bold=True)


def check_target(path: Path, suffix: str) -> None:
    """Refuse, before anything is computed, a target that cannot be written as asked."""
    if path.suffix.lower() != f".{suffix}":
        raise InvalidInput(f"{path.name}: the file name must end in .{suffix}")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; name a .{suffix} file")
    if not path.parent.is_dir():
        raise InvalidInput(f"folder {path.parent} does not exist; create it first")
    if not os.access(path.parent, os.W_OK):
        raise InvalidInput(f"folder {path.parent} is not writable")


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A scratch path beside `path`, moved onto it on success and removed on failure."""
    handle, scratch = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    os.unlink(scratch)  # GDAL creates its own file
    try:
        yield Path(scratch)
        os.replace(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)


# -- Excel -------------------------------------------------------------------------------------


def write_xlsx(figures: SeasonFigures, path: Path | str) -> dict[str, int]:
    """Write the workbook at `path` (replaced); returns rows per sheet."""
    path = Path(path)
    check_target(path, "xlsx")
    book = Workbook(write_only=True)
    _about_sheet(book.create_sheet("说明"), figures)
    written = {}
    for table in figures.tables():
        sheet = book.create_sheet(SHEETS[table.name])
        written[SHEETS[table.name]] = _table_sheet(sheet, table)
    with _replacing(path) as scratch:
        book.save(scratch)
    return written


def _about_sheet(sheet: WriteOnlyWorksheet, figures: SeasonFigures) -> None:
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 80
    about = figures.about
    lines = [
        ("季度", f"{figures.season}（{figures.season}年5月1日至{figures.season + 1}年4月30日）"),
        ("生成时间", figures.generated_at.strftime("%Y-%m-%d %H:%M（伊春时间）")),
        (
            "小数抑制",
            f"少于 {figures.threshold} 的人数不公开，并隐藏可推算出它们的其他数字（互补抑制）；"
            f"被抑制的数字留空，旁边的“{FLAG_SUFFIX}”列为“{YES}”。",
        ),
        ("步行距离", "路网" if about.get("walk_method") == "network" else "估算（直线×绕行系数）"),
        ("步速", f"{about.get('speed_kmh')} km/h"),
        ("预测模型", f"{about.get('forecast_model') or '无'}（{about.get('forecast_season')}季）"),
    ]
    sheet.append([_bold(sheet, "项目"), _bold(sheet, "说明")])
    for key, value in lines:
        sheet.append([key, value])
    for table in figures.tables():
        sheet.append([SHEETS[table.name], f"{table.title}。{table.note}"])


def _bold(sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = _BOLD
    return cell


def _headers(table: Table) -> list[str]:
    out = []
    for c in table.columns:
        out.append(c.title)
        if c.count:
            out.append(c.title + FLAG_SUFFIX)
    return out


def _table_sheet(sheet: WriteOnlyWorksheet, table: Table) -> int:
    sheet.freeze_panes = "A2"
    headers = _headers(table)
    for i, title in enumerate(headers):
        letter = chr(ord("A") + i)
        sheet.column_dimensions[letter].width = max(10, 2 * len(title) + 2)
    sheet.append([_bold(sheet, h) for h in headers])
    for row in table.rows:
        values: list[Any] = []
        for c in table.columns:
            value = row.get(c.key)
            values.append(value)
            if c.count:
                values.append(YES if value is None else NO)
        sheet.append(values)
    return len(table.rows)


# -- GeoPackage ------------------------------------------------------------------------------

LAYERS = {
    "presence_cells": ("网格在住人数（全季）", "Residents present per cell, the whole season"),
    "presence_cell_months": ("网格在住人数（按月）", "Residents present per cell and month"),
    "forecast_cells": ("网格预测（按月，80%区间）", "Next season per cell and month, 80% interval"),
    "coverage_cells": ("网格步行覆盖", "Walking coverage per cell; gap = 65+ beyond 15 minutes"),
}


def write_gpkg(session: Session, figures: SeasonFigures, path: Path | str) -> dict[str, int]:
    """Write the cell-level figures as polygon layers of a GeoPackage at `path` (replaced);
    returns rows per layer."""
    import pyogrio  # GDAL: loaded for this file only

    from geo.spatial.features.export import collection_frame

    path = Path(path)
    check_target(path, "gpkg")
    cells, release = collection_frame(session, "cells")
    cells = cells[["code", "name", "community_code", "community_name", cells.geometry.name]]
    frames = {
        "presence_cells": _presence_cells(figures, cells),
        "presence_cell_months": _presence_months(figures, cells),
        "forecast_cells": _forecast_cells(figures, cells),
        "coverage_cells": _coverage_cells(figures, cells),
    }
    metadata = {
        "season": str(figures.season),
        "threshold": str(figures.threshold),
        "suppressed": "NULL value with <column>_suppressed = true: a count below the threshold,"
        " or one hidden so that none can be worked out",
        "boundary_release": str(release),
        "crs": "EPSG:4326",
        "generated_at": figures.generated_at.isoformat(timespec="seconds"),
    }
    written = {}
    with _replacing(path) as scratch:
        for name, frame in frames.items():
            title, title_en = LAYERS[name]
            pyogrio.write_dataframe(
                frame,
                scratch,
                layer=name,
                driver="GPKG",
                geometry_type="Polygon",
                dataset_options={"VERSION": "1.2"},
                layer_options={
                    "IDENTIFIER": f"{title} {title_en}",
                    "DESCRIPTION": f"{title_en}, season {figures.season}",
                    "FID": "fid",
                },
                layer_metadata=metadata,
            )
            written[name] = len(frame)
    return written


def _cell_rows(table: Table, window: str | None = None) -> list[dict[str, Any]]:
    cell = LEVEL_LABELS[Level.cell]
    return [
        r for r in table.rows if r["level"] == cell and (window is None or r["window"] == window)
    ]


def _counts(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Counts as nullable integers (None -> NULL) and a `_suppressed` flag beside each."""
    for c in columns:
        frame[c + "_suppressed"] = frame[c].isna().astype(bool)
        frame[c] = frame[c].astype("Int64")
    return frame


def _on_cells(cells: Any, rows: pd.DataFrame, how: str = "left") -> Any:
    """The rows joined onto the cells' polygons by cell code (a GeoDataFrame, EPSG:4326)."""
    frame = cells.rename(columns={"code": "cell_code"}).merge(rows, on="cell_code", how=how)
    return frame.reset_index(drop=True)


def _presence_cells(figures: SeasonFigures, cells: Any) -> Any:
    rows = pd.DataFrame(
        [
            {
                "cell_code": r["area"],
                "residents": r["residents"],
                "residents_year_before": r["residents_year_before"],
            }
            for r in _cell_rows(figures.presence, SEASON_LABEL)
        ],
        columns=["cell_code", "residents", "residents_year_before"],
    )
    frame = _on_cells(cells, rows)
    # a cell without a row had nobody present: 0 (zero discloses no one)
    known = frame["cell_code"].isin(set(rows["cell_code"]))
    for c in ("residents", "residents_year_before"):
        frame[c] = frame[c].astype("object").where(known, 0)
    frame.insert(0, "season", figures.season)
    return _counts(frame, "residents", "residents_year_before")


def _presence_months(figures: SeasonFigures, cells: Any) -> Any:
    months = season_months(figures.season)
    rows = {(r["window"], r["area"]): r for r in _cell_rows(figures.presence)}
    flat = [
        {
            "cell_code": code,
            "month": month,
            "residents": rows[month, code]["residents"] if (month, code) in rows else 0,
            "residents_year_before": (
                rows[month, code]["residents_year_before"] if (month, code) in rows else 0
            ),
        }
        for code in cells["code"]
        for month in months
    ]
    frame = pd.DataFrame(flat, columns=["cell_code", "month", "residents", "residents_year_before"])
    return _counts(_on_cells(cells, frame, "inner"), "residents", "residents_year_before")


def _forecast_cells(figures: SeasonFigures, cells: Any) -> Any:
    rows = pd.DataFrame(
        [
            {
                "cell_code": r["area"],
                "month": r["month"],
                "residents": r["residents"],
                "low": r["low"],
                "high": r["high"],
            }
            for r in figures.forecast.rows
            if r["level"] == LEVEL_LABELS[Level.cell]
        ],
        columns=["cell_code", "month", "residents", "low", "high"],
    )
    frame = _on_cells(cells, rows, "inner")
    frame["low"] = frame["low"].astype("Int64")
    frame["high"] = frame["high"].astype("Int64")
    frame.insert(0, "season", figures.about.get("forecast_season"))
    return _counts(frame, "residents")


def _coverage_cells(figures: SeasonFigures, cells: Any) -> Any:
    flat = []
    for c in figures.coverage_cells:
        row = {
            "cell_code": c["cell_code"],
            "residents": c["residents"],
            "residents_65plus": c["residents_65plus"],
        }
        for target in ("item", "health_check"):
            walk = c[target]
            prefix = "service_area" if target == "item" else target
            row[f"{prefix}_minutes"] = walk["minutes"]
            row[f"{prefix}_metres"] = walk["metres"]
            row[f"{prefix}_tier"] = walk["tier"]
        row["gap_65plus"] = row["service_area_tier"] == "beyond" and c["residents_65plus"] != 0
        flat.append(row)
    frame = _on_cells(cells, pd.DataFrame(flat), "inner")
    frame.insert(0, "season", figures.season)
    frame.insert(1, "walk_method", figures.about.get("walk_method"))
    return _counts(frame, "residents", "residents_65plus")
