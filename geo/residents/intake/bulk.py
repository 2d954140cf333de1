"""Bulk writes for the intake: COPY into a temporary table, then one INSERT ... SELECT.

COPY is about five times faster than a multi-row INSERT for the intake's wide rows, and COPY FROM
cannot target a table under row-level security, so the rows land in a temporary table (no RLS)
and move on with one INSERT, which the policies check as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session


def _temp(session: Session, table: Any) -> str:
    name = f"tmp_bulk_{table.name}"
    session.execute(
        # Columns and types only: no constraints or defaults (the INSERT applies the table's).
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DROP"
            f" AS SELECT * FROM {table.name} WITH NO DATA"
        )
    )
    return name


def copy_rows(
    session: Session,
    table: Any,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    conflict: str | None = None,
    update: Sequence[str] = (),
) -> None:
    """Insert `rows` (dicts; geometry as EWKT text) into `table`; with `conflict` (an ON
    CONFLICT target such as "(id)" or "ON CONSTRAINT uq_..."), update the `update` columns."""
    if not rows:
        return
    temp = _temp(session, table)
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSONB)}
    cols = ", ".join(columns)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {temp} ({cols}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(
                [
                    Jsonb(r[c]) if c in json_cols and r.get(c) is not None else r.get(c)
                    for c in columns
                ]
            )
    sql = f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {temp}"
    if conflict:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        sql += f" ON CONFLICT {conflict} {action}"
    session.execute(text(sql))
    session.execute(text(f"TRUNCATE {temp}"))


def next_ids(session: Session, table: str, n: int) -> list[int]:
    """`n` fresh ids from the table's serial sequence."""
    if n <= 0:
        return []
    return list(
        session.scalars(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"
                " FROM generate_series(1, :n)"
            ),
            {"n": n},
        )
    )
