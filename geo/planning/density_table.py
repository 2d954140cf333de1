"""The planner's density map as a table and a CSV file: residents present per cell (rows) and
month (columns) of one season, the very values the map colours (`map_data.monthly_density`),
beside each cell's and community's name.

The CSV is the table as Excel opens it (UTF-8 with a byte-order mark, Chinese headers): a hidden
count is an empty field, never a number or a "<10" string that would break a sum, and the last
column names the months hidden in that row, as the planners' workbook flags them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.planning.map_data import monthly_density, peak_month
from geo.privacy.windows import Window
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import active_release_id

CSV_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class DensityRow:
    cell_code: str
    cell_name: str
    community_code: str
    community_name: str
    counts: tuple[int | None, ...]  # per month of the table; None: hidden


@dataclass(frozen=True)
class DensityTable:
    season: int
    months: tuple[str, ...]
    rows: tuple[DensityRow, ...]
    peak: str | None  # the month the map starts at (`map_data.peak_month`)


def density_table(session: Session, me: Principal, season: int) -> DensityTable:
    """The season's cells by community and code, each with its count per month."""
    window = Window(season)
    monthly = monthly_density(session, me, window)  # checks the role
    rows = tuple(
        DensityRow(
            cell,
            cell_name,
            community,
            community_name,
            tuple(monthly.get(m, {}).get(cell, 0) for m in window.months),
        )
        for cell, cell_name, community, community_name in _names(session)
    )
    return DensityTable(season, window.months, rows, peak_month(monthly))


def _names(session: Session) -> list[tuple[str, str, str, str]]:
    rid = active_release_id(session)
    if rid is None:
        return []
    rows = session.execute(
        text(
            "SELECT g.code, g.name, c.code, c.name FROM grid_cell g"
            f" JOIN community c ON c.code = g.community_code AND {in_release('c')}"
            f" WHERE {in_release('g')} ORDER BY c.code, g.code"
        ),
        {"rid": rid},
    )
    return [(a, b, c, d) for a, b, c, d in rows]


def to_csv(table: DensityTable) -> bytes:
    """The table as CSV for Excel (see the module's docstring)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["网格编码", "网格", "社区编码", "社区", *table.months, "不公开的月份（少于阈值）"]
    )
    for r in table.rows:
        hidden = [m for m, n in zip(table.months, r.counts, strict=True) if n is None]
        writer.writerow(
            [
                r.cell_code,
                r.cell_name,
                r.community_code,
                r.community_name,
                *("" if n is None else n for n in r.counts),
                " ".join(hidden),
            ]
        )
    return out.getvalue().encode("utf-8-sig")
