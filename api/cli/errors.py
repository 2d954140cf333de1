"""Expected failures of every `houniao` command: one line on stderr, exit code 2, no traceback.

The root command group (`HouniaoGroup`) maps them once, so no command spells its own `try`.
Domain errors and unsafe security settings (`geo.core.config.SettingsError`: development keys
without HOUNIAO_ENV=development, weak keys) carry their own message. Known library errors (a
file that cannot be read or written, a row the database refuses, an unknown migration, a
database that does not answer) get one sentence saying what to fix, never the values involved:
a refused INSERT's DETAIL echoes the row (a password hash, an ID number). Anything else is a bug
and keeps its traceback, shown without local variables (they may hold passwords).
"""

from __future__ import annotations

from typing import Any

import click
import typer
from alembic.util import CommandError
from psycopg import errors as pg
from sqlalchemy import exc as sa
from typer.core import TyperGroup

from api.cli.output import fail, print_json
from geo.core.config import SettingsError
from geo.core.errors import DomainError

# pyogrio's errors, matched by name: importing pyogrio loads GeoPandas, which most commands skip.
GDAL_ERRORS = ("DataSourceError", "DataLayerError")
# SQLSTATE classes of refused rows, in words (the DETAIL, which holds the values, is never shown).
_REFUSALS: dict[type[Exception], str] = {
    pg.UniqueViolation: "a row with the same key exists already",
    pg.CheckViolation: "a value breaks the rule",
    pg.ForeignKeyViolation: "it refers to a row that does not exist",
    pg.NotNullViolation: "a required value is missing",
    pg.ExclusionViolation: "it overlaps an existing row",
}


def expected_failure(exc: BaseException) -> str | None:
    """The one-line message for an expected failure, or None for a bug (keeps its traceback)."""
    match exc:
        case DomainError():
            return exc.detail
        case SettingsError():  # names the settings and what to do, never their values
            return str(exc)
        case UnicodeDecodeError():
            return (
                f"the input is not {exc.encoding} text (byte {exc.start}); "
                "name its encoding, e.g. --encoding gb18030"
            )
        case OSError() if exc.filename is not None:
            return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
        case _ if type(exc).__name__ in GDAL_ERRORS and type(exc).__module__ == "pyogrio.errors":
            return f"GDAL: {exc}"
        case CommandError():
            return f"migration: {exc}"
        case sa.IntegrityError():
            return _refused(exc)
        case sa.DataError():
            return f"the database refused a value ({type(exc.orig).__name__}); nothing was written"
        case sa.OperationalError() if not isinstance(exc.orig, pg.QueryCanceled):
            first = (str(exc.orig).strip().splitlines() or [""])[0]
            return f"cannot reach the database named by DATABASE_URL: {first}"
        case sa.ProgrammingError() if isinstance(exc.orig, pg.UndefinedTable | pg.UndefinedColumn):
            return "the database schema is missing or out of date: run `houniao db upgrade`"
    return None


def _refused(exc: sa.IntegrityError) -> str:
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    where = " ".join(
        part
        for part in (
            f"table {diag.table_name}" if diag and diag.table_name else "",
            f"(rule {diag.constraint_name})" if diag and diag.constraint_name else "",
        )
        if part
    )
    reason = next((text for cls, text in _REFUSALS.items() if isinstance(orig, cls)), "refused")
    return f"the database refused the change: {reason} {where}; nothing was written".replace(
        "  ", " "
    )


# Typer (0.29+) parses with its own copy of click and raises that copy's exceptions; either
# kind of usage error (a bad value, an unknown option, a missing argument) is one line too.
USAGE_ERRORS: tuple[type[Exception], ...] = (click.UsageError,)
NO_ARGS_HELP: tuple[type[Exception], ...] = (click.exceptions.NoArgsIsHelpError,)
try:
    from typer._click import exceptions as _typer_click

    USAGE_ERRORS += (_typer_click.UsageError,)
    NO_ARGS_HELP += (_typer_click.NoArgsIsHelpError,)
except ImportError:  # an older Typer: click's own exceptions
    pass


class HouniaoGroup(TyperGroup):
    """The root group: runs the chosen command and maps its expected failures (see above)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NO_ARGS_HELP:
            raise  # `houniao users`: the group's help
        except USAGE_ERRORS as exc:  # a bad option value, an unknown option: one line too
            where = exc.ctx.command_path if exc.ctx else ctx.command_path
            fail(f"{' '.join(exc.format_message().split())} (see `{where} --help`)", 2)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            message = expected_failure(exc)
            if message is None:
                raise
            if isinstance(exc, DomainError) and "report" in exc.extra:
                print_json(exc.extra["report"])
            fail(message, 2)


def root_app(**kwargs: Any) -> typer.Typer:
    """The `houniao` Typer app with the error mapping and tracebacks without locals."""
    return typer.Typer(cls=HouniaoGroup, pretty_exceptions_show_locals=False, **kwargs)
