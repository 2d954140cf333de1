"""`houniao import residents FILE --channel CHANNEL [--crs ...] [--commit] [--skip-rejected]`."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from api.cli.output import err, fail, print_json, progress_bar
from geo.access.principal import CHANNEL_LABELS, Principal, as_system
from geo.core.db import session_scope

CHANNELS = ", ".join(f"{c.value} ({label})" for c, label in CHANNEL_LABELS.items())


def import_residents(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".xlsx or .csv"),
    channel: str = typer.Option(..., help=f"the channel the list comes from: {CHANNELS}"),
    crs: str | None = typer.Option(
        None, help="crs of 经度/纬度 where a row has no 坐标系: wgs84, cgcs2000, gcj02, bd09"
    ),
    commit: bool = typer.Option(False, help="import (default: dry run, nothing written)"),
    skip_rejected: bool = typer.Option(
        False, help="with --commit: keep rejected rows as rejected reports, import the rest"
    ),
) -> None:
    """Import a resident list with Chinese headers (姓名, 性别, 身份证号, 手机号,
    出生年份/年龄, 来源地, 职业, 地址, 经度, 纬度, 坐标系, 入住日期, 预计离开日期, 离开日期,
    住房类型, 同住人数, 备注) through the intake. Prints per row what was (or would be)
    created, linked, queued for review or rejected, and why. All or nothing: with a rejected
    row, --commit writes nothing."""
    from geo.residents.intake import excel, imports  # the intake: for this command only

    me = Principal.system(f"cli:{getpass.getuser()}")
    with session_scope() as session:
        as_system(session, me.name)
        table = excel.read_table(file.read_bytes(), file.name)
        with progress_bar() as bar:
            task = bar.add_task(f"importing {file.name}", total=len(table.items))
            report = imports.run_import(
                session,
                me,
                table,
                channel=channel,
                crs=crs,
                commit=commit,
                skip_rejected=skip_rejected,
                progress=lambda done: bar.update(task, completed=done),
            )
        report["message"] = _message(report, commit)
        print_json(report)
        counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
        if commit and not report["committed"]:
            fail(f"{report['message']} ({counts})", 2)
        err.print(f"{report['message']} ({counts})")


def _message(report: dict, commit: bool) -> str:
    """The report's message in the CLI's words (its flags, not the API's form fields)."""
    if report["committed"]:
        return report["message"]
    if commit:
        rejected = report["counts"]["rejected"]
        return (
            f"nothing imported: {rejected} row(s) rejected; fix them, or add"
            " --skip-rejected to keep them as rejected reports"
        )
    return "dry run: nothing written, use --commit"
