"""`houniao audit verify|head|list`: check and read the audit log (runs as the owner)."""

from __future__ import annotations

import typer

from api.cli.output import err, fail, print_json
from api.cli.users import cli_actor
from geo.audit import service as audit
from geo.core.db import session_scope

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
open_session = session_scope  # tests point this at their own session


@app.command("verify")
def verify(
    expect: str | None = typer.Option(
        None,
        help="SEQ:HASH printed earlier by `houniao audit head`: also detects removal of "
        "the newest rows",
    ),
) -> None:
    """Recompute the hash chain; report the first edited or removed row. Exit 1 if broken."""
    with open_session() as session:
        anchor = audit.parse_anchor(expect) if expect else None
        report = audit.verify(session, expect=anchor)
        audit.record(
            session,
            cli_actor(),
            "audit.verify",
            outcome="ok" if report.ok else "failed",
            detail=report.as_dict(),
        )
    print_json(report.as_dict())
    if not report.ok:
        fail(f"audit log broken at seq {report.first_bad_seq}: {report.problem}", 1)
    err.print(f"audit log intact: {report.rows} rows, head {report.head_seq}:{report.head_hash}")


@app.command("head")
def head() -> None:
    """Print SEQ:HASH of the newest row; keep it somewhere else to pass to verify --expect."""
    with open_session() as session:
        seq, digest = audit.head(session)
    typer.echo(f"{seq}:{digest}")


@app.command("list")
def list_events(
    action: str | None = typer.Option(None, help="exact, or a prefix ending in '.'"),
    actor: str | None = typer.Option(None),
    limit: int = typer.Option(50),
) -> None:
    """The newest events, as JSON."""
    with open_session() as session:
        print_json(audit.search(session, action=action, actor=actor, limit=limit))
