"""Shared CLI output: JSON to stdout, progress bars and errors to stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geo.errors import DomainError

err = Console(stderr=True)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain errors into a clear message and exit code 2 (never a traceback)."""
    try:
        yield
    except DomainError as exc:
        if "report" in exc.extra:
            print_json(exc.extra["report"])
        fail(exc.detail, 2)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
