"""`houniao users ...`: accounts, passwords, API keys (runs as the database owner)."""

from __future__ import annotations

import getpass
from datetime import timedelta

import typer

from api.cli.output import err, print_json
from geo.access.principal import Principal
from geo.accounts import apikeys
from geo.accounts import service as accounts
from geo.core.db import session_scope

app = typer.Typer(
    help="Accounts, roles and scopes, passwords, channel API keys.", no_args_is_help=True
)
open_session = session_scope  # tests point this at their own session


def cli_actor() -> Principal:
    return Principal.system(f"cli:{getpass.getuser()}")


def shout_secret(what: str, value: str) -> None:
    err.print(f"[bold yellow]{what} (shown once, store it now):[/] ", end="", highlight=False)
    typer.echo(value)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="login name: lower-case letters, digits, . _ -"),
    role: str = typer.Option(
        ...,
        help="admin | dispatcher | street_staff | community_staff | "
        "grid_worker | department | planner | channel | centre_staff",
    ),
    password: str | None = typer.Option(None, help="default: generate one and print it"),
    cell: list[str] = typer.Option([], help="grid_worker: a 15-digit cell code (repeatable)"),
    community: str | None = typer.Option(None, help="community_staff: 12-digit community code"),
    street: str | None = typer.Option(None, help="street_staff: 9-digit street code"),
    department: str | None = typer.Option(None, help="department: its code, e.g. health"),
    channel: str | None = typer.Option(
        None,
        help="channel: grid_worker | police | courier | delivery_rider | merchant | scenic_area"
        " (self, residents registering themselves, has no account)",
    ),
    area: str | None = typer.Option(
        None, help="centre_staff: the id of their service area (服务区), e.g. 12"
    ),
    display_name: str = typer.Option("", help="姓名 / label shown to people"),
) -> None:
    """Create an account. Channel accounts get an API key (printed once)."""
    with open_session() as session:
        created = accounts.create_account(
            session,
            cli_actor(),
            name=name,
            role=role,
            password=password,
            cells=cell,
            community=community,
            street=street,
            department=department,
            channel=channel,
            area=area,
            display_name=display_name,
        )
        print_json(accounts.view(created.account))
    if created.password:
        shout_secret(f"password of {name}", created.password)
    if created.api_key:
        shout_secret(f"API key of {name} (header X-API-Key)", created.api_key)


@app.command("list")
def list_users(role: str | None = typer.Option(None)) -> None:
    """All accounts (personal fields masked)."""
    with open_session() as session:
        print_json([accounts.view(a) for a in accounts.list_accounts(session, role=role)])


@app.command("show")
def show(name: str) -> None:
    """One account with its active API keys (prefixes only)."""
    with open_session() as session:
        account = accounts.get_account(session, name)
        print_json(accounts.view(account, api_keys=apikeys.active_keys(session, account)))


@app.command("disable")
def disable(name: str) -> None:
    """Disable an account: its tokens, sessions and API keys stop working at once."""
    with open_session() as session:
        accounts.update_account(session, cli_actor(), name, is_active=False)
    err.print(f"{name} is disabled.")


@app.command("enable")
def enable(name: str) -> None:
    with open_session() as session:
        accounts.update_account(session, cli_actor(), name, is_active=True)
    err.print(f"{name} is enabled.")


@app.command("set-role")
def set_role(
    name: str,
    role: str = typer.Option(...),
    cell: list[str] = typer.Option([]),
    community: str | None = typer.Option(None),
    street: str | None = typer.Option(None),
    department: str | None = typer.Option(None),
    channel: str | None = typer.Option(None),
    area: str | None = typer.Option(None, help="centre_staff: their service area's id"),
) -> None:
    """Change role and scope (replaces the whole scope; existing tokens stop working)."""
    with open_session() as session:
        account = accounts.update_account(
            session,
            cli_actor(),
            name,
            role=role,
            cells=cell or None,
            community=community,
            street=street,
            department=department,
            channel=channel,
            area=area,
        )
        print_json(accounts.view(account))


@app.command("reset-password")
def reset_password(name: str, password: str | None = typer.Option(None)) -> None:
    """Set a password (default: generate one); every session of the account ends."""
    with open_session() as session:
        new = accounts.set_password(session, cli_actor(), name, password)
    if password is None:
        shout_secret(f"password of {name}", new)


@app.command("unlock")
def unlock(name: str) -> None:
    """Lift a login lockout."""
    with open_session() as session:
        accounts.unlock(session, cli_actor(), name)
    err.print(f"{name} is unlocked.")


@app.command("rotate-key")
def rotate_key(
    name: str, grace_hours: float = typer.Option(0, help="old keys keep working this long")
) -> None:
    """Issue a new API key for a channel account and retire the old ones."""
    from geo.audit import service as audit

    with open_session() as session:
        account = accounts.get_account(session, name)
        key = apikeys.rotate(session, account, grace=timedelta(hours=grace_hours))
        audit.record(
            session,
            cli_actor(),
            "apikey.rotate",
            object_type="account",
            object_ids=[account.id],
            detail={"grace_hours": grace_hours},
        )
    shout_secret(f"new API key of {name} (header X-API-Key)", key)


@app.command("revoke-key")
def revoke_key(name: str) -> None:
    """Revoke every API key of an account at once."""
    from geo.audit import service as audit

    with open_session() as session:
        account = accounts.get_account(session, name)
        n = apikeys.revoke_all(session, account)
        audit.record(
            session,
            cli_actor(),
            "apikey.revoke",
            object_type="account",
            object_ids=[account.id],
            detail={"revoked": n},
        )
    err.print(f"{n} API key(s) of {name} revoked.")


def print_demo_accounts(created: list[tuple[str, str, str]]) -> None:
    """Print demo credentials so nobody mistakes them for real ones."""
    if not created:
        return
    bar = "!" * 72
    err.print(
        f"[bold red]{bar}\n  DEMO ACCOUNTS (演示账号): for demonstration only, never in"
        " production.\n  Passwords are random and shown only now; the channel account"
        f" gets an API key (X-API-Key).\n{bar}[/]",
        highlight=False,
    )
    for name, role, secret in created:
        err.print(f"[bold red]DEMO[/] {role:<16} {name:<16} ", end="", highlight=False)
        typer.echo(secret)
    err.print(f"[bold red]{bar}[/]", highlight=False)


@app.command("demo")
def demo() -> None:
    """Create the demo accounts that are missing (one per role) and print their credentials."""
    from geo.demo.accounts import create_demo_accounts

    with open_session() as session:
        created = create_demo_accounts(session)
    print_demo_accounts(created)
    if not created:
        err.print("Demo accounts exist already; `houniao users reset-password NAME` resets one.")
