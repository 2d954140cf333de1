"""`houniao planning presence|flows|peaks|forecast|coverage|sites|hotspots|rebuild`: the
planners' figures as JSON (the same suppressed aggregates the API publishes), and a full rebuild
of the presence tables; `services|visits|health-checks`: community services in aggregate
(requests, bookings and visits of the activity spaces, health-check participation)."""

from __future__ import annotations

import getpass

import typer

from api.cli.output import err, print_json
from geo.access.principal import Principal, as_system
from geo.core import clock
from geo.core.db import session_scope
from geo.privacy import windows

app = typer.Typer(
    help="Planners' figures: presence, flows, peaks, forecast, coverage (suppressed)."
)
LEVEL = typer.Option("community", help="cell | community | street | district | city")


def _me() -> Principal:
    return Principal.system(f"cli:{getpass.getuser()}")


@app.command("presence")
def presence_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    month: str | None = typer.Option(None, help="a month YYYY-MM instead of a season"),
    level: str = LEVEL,
) -> None:
    """Residents present per area in one window, with the same window a year before."""
    from geo.planning import presence

    window = windows.current() if season is None and month is None else None
    with session_scope() as session:
        as_system(session, _me().name)
        window = window or windows.window(month=month, season=season)
        print_json(presence.presence(session, _me(), window, presence.level_of(level)))


@app.command("flows")
def flows_cmd(season: int | None = typer.Option(None, help="default the current")) -> None:
    """Arrivals and departures per week and community, and the city's."""
    from geo.planning import presence

    with session_scope() as session:
        as_system(session, _me().name)
        print_json(presence.flows(session, _me(), season or clock.current_season()))


@app.command("peaks")
def peaks_cmd(season: int | None = typer.Option(None, help="default the current")) -> None:
    """Peak day and peak month per community of a season."""
    from geo.planning import presence

    with session_scope() as session:
        as_system(session, _me().name)
        print_json(presence.peaks(session, _me(), season or clock.current_season()))


@app.command("forecast")
def forecast_cmd(
    season: int | None = typer.Option(None, help="default the next"), level: str = LEVEL
) -> None:
    """Next season's residents per area and month, with an 80 % interval."""
    from geo.planning import forecast, presence

    with session_scope() as session:
        as_system(session, _me().name)
        print_json(forecast.forecast(session, _me(), presence.level_of(level), season))


@app.command("coverage")
def coverage_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    month: str | None = typer.Option(None, help="a month YYYY-MM instead of a season"),
    item: str | None = typer.Option(None, help="a catalogue item 'category:item'; default any"),
    speed: float | None = typer.Option(None, help="walking speed in km/h (default 4.5)"),
) -> None:
    """Walking coverage: each cell's walk to the nearest service area offering ITEM and to the
    nearest health-check centre, residents (and 65+) within 5/10/15 minutes, and the gaps."""
    from geo.planning import coverage

    window = windows.current() if season is None and month is None else None
    with session_scope() as session:
        as_system(session, _me().name)
        window = window or windows.window(month=month, season=season)
        print_json(coverage.coverage(session, _me(), window, item, speed))


@app.command("sites")
def sites_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    month: str | None = typer.Option(None, help="a month YYYY-MM instead of a season"),
    item: str | None = typer.Option(None, help="a catalogue item 'category:item'; default any"),
    new: int = typer.Option(5, help="how many new service areas (1-20)"),
    speed: float | None = typer.Option(None, help="walking speed in km/h (default 4.5)"),
) -> None:
    """Candidate sites for new service areas: the cells whose centroids would bring the most
    residents aged 65+ beyond 15 minutes' walk within it (maximal covering, PySAL spopt)."""
    from geo.planning import sites

    window = windows.current() if season is None and month is None else None
    with session_scope() as session:
        as_system(session, _me().name)
        window = window or windows.window(month=month, season=season)
        print_json(sites.candidate_sites(session, _me(), window, item, new, speed))


@app.command("hotspots")
def hotspots_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    month: str | None = typer.Option(None, help="a month YYYY-MM instead of a season"),
    category: str | None = typer.Option(None, help="a case category code; default every one"),
    permutations: int = typer.Option(9999, help="conditional permutations (99-99999)"),
) -> None:
    """Hot and cold spots of cases per cell: Getis-Ord Gi* (PySAL esda) on queen contiguity,
    pseudo p-values from permutations, significant at 0.05 after the false discovery rate."""
    from geo.planning import hotspots

    window = windows.current() if season is None and month is None else None
    with session_scope() as session:
        as_system(session, _me().name)
        window = window or windows.window(month=month, season=season)
        print_json(hotspots.hotspots(session, _me(), window, category, permutations))


@app.command("rebuild")
def rebuild_cmd() -> None:
    """Recompute the presence tables from every stay (they are kept current without this;
    after a restore from an old dump, say)."""
    from geo.planning.maintenance import rebuild

    with session_scope() as session:
        days = rebuild(session)
    err.print(f"presence rebuilt: {days:,} cell-days")


# --- community services in aggregate (issue 13): requests, visits, health checks ---------------


def _services_window(season: int | None, month: str | None) -> windows.Window:
    if season is None and month is None:
        return windows.current()
    return windows.window(month=month, season=season)


@app.command("services")
def services_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    month: str | None = typer.Option(None, help="a month YYYY-MM instead of a season"),
) -> None:
    """Service requests per community and category, and per item city-wide: count, fulfilled
    share, median hours to fulfil, mean rating."""
    from geo.planning import service_figures

    with session_scope() as session:
        as_system(session, _me().name)
        window = _services_window(season, month)
        print_json(service_figures.requests(session, _me(), window))


@app.command("visits")
def visits_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
    month: str | None = typer.Option(None, help="a month YYYY-MM (per day) instead of a season"),
) -> None:
    """Bookings and visits of the activity spaces per space and day (a month) or month."""
    from geo.planning import service_figures

    with session_scope() as session:
        as_system(session, _me().name)
        window = _services_window(season, month)
        print_json(service_figures.visits(session, _me(), window))


@app.command("health-checks")
def health_checks_cmd(
    season: int | None = typer.Option(None, help="a season (its year); default the current"),
) -> None:
    """Health-check participation (65+) per community: invited, booked, attended, missed."""
    from geo.planning import service_figures

    with session_scope() as session:
        as_system(session, _me().name)
        window = _services_window(season, None)
        print_json(service_figures.health_checks(session, _me(), window))
