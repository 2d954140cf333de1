"""`houniao load synthetic`: a province-sized world on its own database, through COPY."""

from __future__ import annotations

from datetime import date

import typer

from api.cli.output import err, print_json, progress_bar
from geo.core import clock
from geo.core.errors import InvalidInput

SEED = 20261130


def load_synthetic(
    cells: int = typer.Option(100_000, help="grid cells (1 to 1,000,000)"),
    residents: int = typer.Option(1_000_000, help="seasonal residents (archives)"),
    stays: int = typer.Option(
        10_000_000, help="stays, at least one per resident and at most 20 (one per season)"
    ),
    open_cases: int = typer.Option(1_000_000, help="open cases, each with its first event"),
    seed: int = typer.Option(SEED, help="the same seed (and --as-of) gives the same rows"),
    as_of: str = typer.Option("", help="the city date the world is generated at (default today)"),
    database: str = typer.Option(
        "", help="the database to write (default: DATABASE_URL's name + _synthetic), never the main"
    ),
    replace: bool = typer.Option(False, help="drop and recreate the database if it holds tables"),
) -> None:
    """Generate a province-sized grid (districts, streets, communities, cells as an active
    release), a grid worker per cell, a service area per community, residents with encrypted and
    hashed ID and phone numbers, their stays (presence rebuilt once) and open cases with their
    first event, on a database of its own (migrated first).

    Written through COPY, not through the intake and the case workflow: those would take hours at
    this scale. No intake reports, audit rows, accounts, gazetteer or road network are written.
    Needs a role that bypasses row-level security (COPY refuses tables under it otherwise).
    """
    from geo.demo import synthetic  # numpy, shapely: for this command only

    try:
        day = date.fromisoformat(as_of) if as_of else clock.today()
    except ValueError:
        raise InvalidInput(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    spec = synthetic.Spec(cells, residents, stays, open_cases, seed, day)
    spec.check()
    url = synthetic.target_url(database or None)
    synthetic.prepare(url, replace=replace)  # refusals before any progress bar is drawn
    err.print(
        f"writing a synthetic province to {url.database} through COPY (the real intake and"
        " case workflow would take hours at this scale)",
        highlight=False,
    )
    with progress_bar() as bar:
        tasks: dict[str, int] = {}

        def step(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=max(total, 1))
            bar.update(tasks[description], completed=done)

        result = synthetic.run(spec, url, progress=step)
    print_json(result)
