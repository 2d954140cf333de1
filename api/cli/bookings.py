"""`houniao bookings …`: the centre staff's lists and steps, scripted (as the system, which acts
as every centre's staff; each step is an event and an audit row like the API's)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import typer

from api.cli.output import err, fail, print_json
from geo.access.principal import Principal, as_system
from geo.bookings import queries, service
from geo.bookings.schemas import BookingTransition
from geo.bookings.workflow import Kind, Status
from geo.core.clock import as_city, city_date, db_now
from geo.core.db import session_scope

app = typer.Typer(
    help="Activity-space bookings (场地预约) and course seats (课程名额).", no_args_is_help=True
)
KIND = typer.Option("room", "--kind", help="room or seat")


def _kind(value: str) -> Kind:
    if value not in ("room", "seat"):
        fail("--kind is room or seat", 2)
    return Kind(value)


def _day(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"a day is YYYY-MM-DD, got {value!r}", 2)


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    if last < first:
        fail("--to is before --from", 2)
    return as_city(datetime.combine(first, time())), as_city(
        datetime.combine(last + timedelta(days=1), time())
    )


@app.command("list")
def list_bookings(
    kind: str = KIND,
    day_from: str | None = typer.Option(None, "--from", help="YYYY-MM-DD (default today)"),
    day_to: str | None = typer.Option(None, "--to", help="YYYY-MM-DD (default --from)"),
    space: str | None = typer.Option(None, help="a space code"),
    status: list[Status] = typer.Option([], help="repeatable"),  # noqa: B008
    limit: int = typer.Option(500, min=1, max=5000),
) -> None:
    """Bookings starting in the window, soonest first, as JSON."""
    with session_scope() as session:
        as_system(session, "cli")
        first = _day(day_from, city_date(db_now(session)))
        since, until = _bounds(first, _day(day_to, first))
        out = queries.list_bookings(
            session,
            Principal.system("cli"),
            _kind(kind),
            since=since,
            until=until,
            space=space,
            status=status,
            limit=limit,
        )
    err.print(f"{out['total']} booking(s)")
    print_json(out)


def _step(kind: str, booking_id: int, action: str, reason: str | None = None) -> None:
    with session_scope() as session:
        as_system(session, "cli")
        out = service.transition(
            session,
            Principal.system("cli"),
            _kind(kind),
            booking_id=booking_id,
            req=BookingTransition(action=action, reason=reason),
        )
    print_json({"id": out["id"], "status": out["status"], "public_id": out["public_id"]})


@app.command("cancel")
def cancel(
    booking_id: int = typer.Argument(..., help="the booking's id"),
    reason: str = typer.Option(..., help="why (the resident reads it)"),
    kind: str = KIND,
) -> None:
    """Cancel a booking (a cancelled seat promotes the first on the waitlist)."""
    _step(kind, booking_id, "cancel", reason)


@app.command("no-show")
def no_show(booking_id: int = typer.Argument(...), kind: str = KIND) -> None:
    """Record that nobody came (once the booking has started)."""
    _step(kind, booking_id, "no_show")


@app.command("attend")
def attend(booking_id: int = typer.Argument(...), kind: str = KIND) -> None:
    """Record that they came (counts as visits of the space that day)."""
    _step(kind, booking_id, "attend")


@app.command("visits")
def visits(
    day_from: str | None = typer.Option(None, "--from", help="YYYY-MM-DD (default today)"),
    day_to: str | None = typer.Option(None, "--to", help="YYYY-MM-DD (default --from)"),
) -> None:
    """Visits per space and day (people checked in), as JSON."""
    with session_scope() as session:
        as_system(session, "cli")
        first = _day(day_from, city_date(db_now(session)))
        since, until = _bounds(first, _day(day_to, first))
        rows = queries.visits(session, Principal.system("cli"), since=since, until=until)
    print_json([{**r, "day": r["day"].isoformat()} for r in rows])
