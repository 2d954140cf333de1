"""`houniao planning export` and `houniao report season`: a season's planner figures as an Excel
workbook or a GeoPackage, and as a report (HTML and PDF with plots); suppressed like the API."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from api.cli.output import err, print_json, progress_bar
from geo.access.principal import Principal, as_system
from geo.core import clock
from geo.core.db import session_scope
from geo.core.errors import InvalidInput

report_app = typer.Typer(help="Reports for planners.", no_args_is_help=True)


def _me() -> Principal:
    return Principal.system(f"cli:{getpass.getuser()}")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[str], None]]:
    with progress_bar() as bar:
        task = bar.add_task("season figures", total=total)

        def step(name: str) -> None:
            bar.update(task, advance=1, description=name)

        yield step


def export_cmd(
    out: Path = typer.Argument(..., help="the file to write, .xlsx or .gpkg (replaced)"),
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    fmt: str | None = typer.Option(
        None, "--format", help="xlsx | gpkg (default: from OUT's file name)"
    ),
) -> None:
    """A season's planner figures as an Excel workbook (one sheet per figure, Chinese headers)
    or a GeoPackage (cell-level figures as polygon layers, EPSG:4326); suppressed counts are
    empty with a flag beside them. Prints the rows written per sheet or layer as JSON."""
    from geo.planning import exports, season_figures

    kind = (fmt or out.suffix.lstrip(".")).lower()
    if kind not in exports.FORMATS:
        raise InvalidInput(f"--format must be xlsx or gpkg, got {kind or 'none'!r}")
    exports.check_target(out, kind)  # before minutes of work
    season = clock.current_season() if season is None else season
    with session_scope() as session:
        as_system(session, _me().name)
        season_figures.check_season(session, season)
        with _progress(season_figures.STEPS) as step:
            figures = season_figures.season_figures(session, _me(), season, step)
        if kind == "xlsx":
            written = exports.write_xlsx(figures, out)
        else:
            written = exports.write_gpkg(session, figures, out)
    err.print(f"Wrote season {season}'s figures to {out}.")
    print_json(written)


@report_app.command("season")
def season_cmd(
    season: int = typer.Argument(..., help="the season (its year, e.g. 2026)"),
    out: Path | None = typer.Option(
        None, "--out", help="the folder to write into (default ./report-SEASON, created)"
    ),
) -> None:
    """Write report.html and report.pdf of a season: presence by month with the year before,
    peaks per community, age bands, origins, weekly flows, walking coverage and gaps, and next
    season's forecast with its interval; plots labelled in Chinese (Noto Sans CJK), small
    counts suppressed. The PDF is printed by headless Chromium."""
    from geo.planning import season_figures
    from maps.report import plots
    from maps.report import season as report

    folder = report.check_out_dir(out or Path(f"report-{season}"))  # before any work
    plots.cjk_font()  # a missing font fails here, before minutes of work
    with session_scope() as session:
        as_system(session, _me().name)
        season_figures.check_season(session, season)
        report.check_out_dir(folder, create=True)
        with _progress(season_figures.STEPS + report.PLOT_STEPS) as step:
            figures = season_figures.season_figures(session, _me(), season, step)
            paths = report.write_report(figures, folder, step)
    err.print(f"Wrote the season {season} report to {folder}.")
    print_json({k: str(v) for k, v in paths.items()})
