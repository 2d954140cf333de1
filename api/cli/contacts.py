"""`houniao contacts …`: designated contacts where community staff would script them: who is
present and not contacted for N days (常态互动), per contact, or counted per cell. Runs as the
system (every community), narrowed by --community or --cell; the listing is audited like the
API's."""

from __future__ import annotations

import typer

from api.cli.output import err, fail, print_json
from geo.access.principal import Principal, as_system
from geo.community.contacts import queries
from geo.community.contacts.schemas import DEFAULT_DAYS
from geo.core.db import session_scope
from geo.core.errors import InvalidInput

app = typer.Typer(
    help="Designated contacts and regular contact (专人对接、常态互动).", no_args_is_help=True
)
DAYS = typer.Option(DEFAULT_DAYS, "--days", help="not contacted for this many days")
COMMUNITY = typer.Option(None, "--community", help="12-digit community code")


@app.command("overdue")
def overdue(
    days: int = DAYS,
    community: str | None = COMMUNITY,
    cell: str | None = typer.Option(None, "--cell", help="15-digit cell code"),
    counts: bool = typer.Option(False, "--counts", help="per cell counts instead of the list"),
    limit: int = typer.Option(200, "--limit", min=1, max=500),
) -> None:
    """Residents present and not contacted for --days days (default 14) with their designated
    contact, longest first; --counts: per cell present, with a contact, overdue, never."""
    if community is not None and not (len(community) == 12 and community.isdigit()):
        fail("--community is a 12-digit code", 2)
    if cell is not None and not (len(cell) == 15 and cell.isdigit()):
        fail("--cell is a 15-digit code", 2)
    me = Principal.system("system:contacts")
    try:
        with session_scope() as session:
            as_system(session, me.name)
            if counts:
                out = queries.overdue_counts(session, me, days=days, community=community)
                err.print(
                    f"{out['overdue']} of {out['present']} residents present not contacted for"
                    f" {days} days ({len(out['cells'])} cells, on {out['on']})"
                )
            else:
                out = queries.overdue(
                    session, me, days=days, community=community, cell=cell, limit=limit
                )
                err.print(
                    f"{out['total']} residents present not contacted for {days} days"
                    f" (on {out['on']}, Yichun)"
                )
    except InvalidInput as exc:
        fail(exc.detail, 2)
    print_json(out)
