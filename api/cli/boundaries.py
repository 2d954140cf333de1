"""`houniao load yichun`, `houniao import boundaries`, `houniao releases ...`."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.output import err, fail, print_json, progress_bar
from api.cli.users import print_demo_accounts
from geo.core.db import session_scope
from geo.spatial.boundaries import releases
from geo.spatial.crs import FILE_ACCEPTED

load_app = typer.Typer(help="Load datasets.", no_args_is_help=True)
import_app = typer.Typer(help="Import files.", no_args_is_help=True)
releases_app = typer.Typer(help="Boundary releases (versions).", no_args_is_help=True)


@load_app.command("yichun")
def load_yichun() -> None:
    """Load Yichun: real district boundaries, synthetic streets/communities/cells, workers,
    service areas and the address gazetteer. Does nothing if the demo is already loaded."""
    # The demo generators (and the intake they feed) load here, not with every command.
    from geo.demo import bookings as demo_bookings
    from geo.demo import cases as demo_cases
    from geo.demo import council as demo_council
    from geo.demo import lists as demo_lists
    from geo.demo import load as demo
    from geo.demo import people as demo_people
    from geo.demo import residents_load as demo_residents
    from geo.demo import services as demo_services
    from geo.demo.accounts import create_demo_accounts
    from geo.planning.maintenance import presence_deferred

    with session_scope() as session, presence_deferred(session):  # one rebuild at the end
        if demo.demo_loaded(session):
            if demo_residents.residents_loaded(session):
                # A database loaded before service requests existed gets them now (else nothing).
                added = {
                    "service_requests": demo_services.load_demo_requests(session),
                    "lists": demo_lists.load_demo_lists(session),
                    **demo_bookings.load_demo_bookings(session),
                    "council_meetings": demo_council.load_demo_council(session),
                    **demo_people.load_demo_people(session),
                    "road_edges": demo.load_network(session),  # before road networks existed
                }
                if any(added.values()):
                    print_json(added)
                    return
                err.print("Yichun demo data is already loaded; nothing to do.")
                return
            # A database loaded before residents existed: add them (through the intake).
            with progress_bar() as bar:
                task = bar.add_task("loading demo residents", total=demo_residents.PROGRESS_STEPS)

                def add(description: str, rows: int) -> None:
                    bar.update(task, advance=1, description=f"{description} ({rows:,})")

                counts = {"residents": demo_residents.load_demo_residents(session, add)}
            print_json(counts)
            return
        with progress_bar() as bar:
            # places, network, cases per year, residents (intake steps), services, lists,
            # council, bookings, people (teams, activities, backbones, contacts)
            residents = demo_residents.PROGRESS_STEPS
            steps = 6 + len(demo_cases.YEARS) + 1 + residents + 1 + 1 + 1 + 4 + 4
            task = bar.add_task("loading Yichun", total=steps)

            def step(description: str, rows: int) -> None:
                bar.update(task, advance=1, description=f"{description} ({rows:,})")

            counts = demo.load_yichun(session, step)
            counts["residents"] = demo_residents.load_demo_residents(session, step)  # via intake
            counts["cases"] = demo_cases.load_demo_cases(session, step)  # through the workflow
            counts["service_requests"] = demo_services.load_demo_requests(session, step)
            counts["lists"] = demo_lists.load_demo_lists(session, step)  # through the service
            counts |= demo_bookings.load_demo_bookings(session, step)  # spaces, bookings, checks
            counts["council_meetings"] = demo_council.load_demo_council(session, step)
            counts |= demo_people.load_demo_people(session, step)  # teams, activities, contacts
        demo_accounts = create_demo_accounts(session)  # one per role, printed below
    print_json(counts)
    print_demo_accounts(demo_accounts)


@import_app.command("boundaries")
def import_boundaries(
    file: Path = typer.Argument(..., help="GeoJSON, GeoPackage or Shapefile"),
    level: str = typer.Option(..., help="community | grid (also street, district)"),
    crs: str | None = typer.Option(None, help=f"overrides the file's label: {FILE_ACCEPTED}"),
    layer: str | None = typer.Option(None, help="the layer of a multi-layer GeoPackage"),
    code_col: str | None = typer.Option(None, help="column with the codes"),
    name_col: str | None = typer.Option(None, help="column with the names"),
    commit: bool = typer.Option(False, help="write the release (default: validate only)"),
    force: bool = typer.Option(
        False, help="with --commit: write despite overlaps, gaps or rows outside their parent"
    ),
    activate: bool = typer.Option(True, help="activate the release once written"),
) -> None:
    """Validate a boundary file against the active release and, with --commit, load it as a new
    release. Prints a validation report per row; writes nothing unless it passes (or --force)."""
    from geo.spatial.boundaries import importing  # geopandas: for this command only

    with session_scope() as session:
        with progress_bar() as bar:
            task = bar.add_task(f"reading {file.name}", total=3)
            rows = importing.read_boundaries(file, level, crs, code_col, name_col, layer)
            bar.update(task, advance=1, description=f"staging {len(rows):,} rows")
            releases.stage(session, rows)
            bar.update(task, advance=1, description="validating")
            report = releases.validate(session)
            bar.update(task, advance=1, description="validated")
        print_json(report.as_dict())
        if not commit:
            session.rollback()
            if not report.ok:
                fail(f"{len(report.problems)} problem(s); nothing written (dry run)", 2)
            err.print("Dry run: the file passes validation. Add --commit to load it.")
            return
        release_id = releases.write_release(
            session,
            name=f"{file.name} ({level})",
            level=level,
            source=str(file),
            report=report,
            force=force,
            activate=activate,
        )
        state = "active" if activate else "pending (activate with `houniao releases activate`)"
        err.print(f"Release {release_id} written: {len(rows)} {level} rows, {state}.")


@releases_app.command("list")
def list_releases() -> None:
    """All boundary releases, newest last."""
    with session_scope() as session:
        print_json(releases.list_releases(session))


@releases_app.command("activate")
def activate(release_id: int) -> None:
    """Activate a pending release."""
    with session_scope() as session:
        releases.activate_release(session, release_id)
    err.print(f"Release {release_id} is now active.")
