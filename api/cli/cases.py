"""`houniao cases escalate-overdue`, `houniao kpis`."""

from __future__ import annotations

from datetime import datetime

import typer

from api.cli.output import err, fail, print_json
from geo.access.principal import Principal, Role, as_system
from geo.cases import clock, kpis
from geo.core.db import session_scope

app = typer.Typer(
    help="Cases (诉求): the three-tier closed loop on a 48-hour clock.", no_args_is_help=True
)


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now must be an ISO 8601 date-time with offset, got {value!r}", 2)
    if parsed.tzinfo is None:
        fail("--now needs a UTC offset, e.g. 2026-07-01T12:00:00+08:00", 2)
    return parsed


@app.command("escalate-overdue")
def escalate_overdue(
    now: str | None = typer.Option(None, help="ISO 8601 instant (default: the database's now)"),
) -> None:
    """Escalate every running case whose tier limit has passed (grid -> community -> street).

    Safe to run twice or from several processes at once: each case is escalated exactly once.
    Prints what was escalated as JSON."""
    at = _instant(now)
    with session_scope() as session:
        as_system(session, "system:escalation")
        done = clock.escalate_overdue(session, now=at)
    err.print(f"escalated {len(done)} case(s)")
    print_json(done)


def kpis_command(
    group_by: list[str] = typer.Option(  # noqa: B008
        [], "--group-by", "-g", help="cell, community, street, category, month (repeatable)"
    ),
    month_from: str | None = typer.Option(None, "--from", help="YYYY-MM"),
    month_to: str | None = typer.Option(None, "--to", help="YYYY-MM"),
    month: str | None = typer.Option(None, "--month", help="one month, YYYY-MM"),
    season: int | None = typer.Option(None, "--season", help="one season (1 May to 30 April)"),
    category: str | None = typer.Option(None),
    street: str | None = typer.Option(None),
    community: str | None = typer.Option(None),
    cell: str | None = typer.Option(None),
    now: str | None = typer.Option(None, help="ISO 8601 instant the rates are computed at"),
) -> None:
    """Case KPIs (response, on-time, resolution, satisfaction rates; medians; overdue) as JSON."""
    at = _instant(now)
    groups = [g for item in group_by for g in item.split(",") if g]
    me = Principal(role=Role.dispatcher.value, name="cli", via="cli")
    with session_scope() as session:
        as_system(session, "cli")
        rows = kpis.kpis(
            session,
            me,
            group_by=groups,
            month_from=month_from,
            month_to=month_to,
            month=month,
            season=season,
            category=category,
            street=street,
            community=community,
            cell=cell,
            now=at,
        )
    print_json({"group_by": groups, "rows": rows})


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="cases")
    root.command("kpis")(kpis_command)
