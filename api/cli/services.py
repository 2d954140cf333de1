"""`houniao services …`: the demand and resource lists where staff would script them: what is
unmatched or idle, what is stale, and a matching run (dry, or committed as plans)."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from api.cli.output import err, fail, print_json
from geo.access.principal import Principal, as_system
from geo.community.lists import matching, queries
from geo.community.lists.schemas import MatchRequest
from geo.core.db import session_scope

app = typer.Typer(
    help="Community services: demand and resource lists (需求清单 / 资源清单), matching.",
    no_args_is_help=True,
)
COMMUNITY = typer.Option(None, help="12-digit community code")
STREET = typer.Option(None, help="9-digit street code")


@app.command("unmatched")
def unmatched(community: str | None = COMMUNITY, street: str | None = STREET) -> None:
    """Per street and community: open demands without a plan, idle resources, stale counts."""
    with session_scope() as session:
        as_system(session, "system:lists")
        out = queries.overview(
            session, Principal.system("system:lists"), community=community, street=street
        )
    print_json(out)


@app.command("stale")
def stale(community: str | None = COMMUNITY, street: str | None = STREET) -> None:
    """Demands and resources past their valid-until: to be renewed or ended (review)."""
    me = Principal.system("system:lists")
    with session_scope() as session:
        as_system(session, "system:lists")
        demands = queries.list_demands(
            session, me, community=community, street=street, stale=True, limit=500
        )
        resources = queries.list_resources(
            session, me, community=community, street=street, stale=True, limit=500
        )
    print_json({"demands": demands, "resources": resources})


@app.command("match")
def match(
    community: str | None = COMMUNITY,
    street: str | None = STREET,
    max_distance: float = typer.Option(3000, help="metres on the ellipsoid"),
    commit: bool = typer.Option(False, help="make each match a service plan"),
    owner: str | None = typer.Option(None, help="责任人 of the plans (with --commit)"),
) -> None:
    """Match open demands to resources (greedy by distance with capacity); prints the matches,
    unmatched demands with their reasons and idle resources. A dry run unless --commit."""
    try:
        req = MatchRequest(
            community=community,
            street=street,
            max_distance_m=max_distance,
            commit=commit,
            owner=owner,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        fail(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}", 2)
    with session_scope() as session:
        as_system(session, "system:lists")
        out = matching.run(session, Principal.system("system:lists"), req)
    err.print(
        f"{len(out['matches'])} matched, {len(out['unmatched'])} unmatched,"
        f" {len(out['idle'])} idle" + (" (plans made)" if commit else " (dry run)")
    )
    print_json(out)
