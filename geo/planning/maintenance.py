"""Presence upkeep outside daily work: a full rebuild, and bulk loads that defer the triggers.

Daily writes keep presence current through the triggers of migration 0011presence. A bulk load
(the demo's six seasons of intake) would refresh ~120 days per stay once per batch; inside
`presence_deferred` the triggers skip and one rebuild runs at the end (migration 0012defer).
Both need the table owner's connection (the CLI's), never the API's role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session


def rebuild(session: Session) -> int:
    """Recompute the presence tables from every stay; returns the cell-days now counted."""
    session.execute(text("SELECT presence_rebuild()"))
    return int(session.scalar(text("SELECT count(*) FROM presence_day")) or 0)


@contextmanager
def presence_deferred(session: Session) -> Iterator[None]:
    """Skip the presence triggers for the rest of this block, then rebuild once. On an error the
    rebuild does not run and the transaction must roll back (committing it is refused)."""
    session.execute(text("SELECT presence_defer()"))
    yield
    session.execute(text("SELECT presence_resume()"))
