"""Soft locks (who is working on a case): the console's "张三 正在处理（2分钟前打开）".

A console user whose panel shows a case holds its soft lock for `LOCK_TTL`, renewed while the
panel stays open (the panel polls every `RENEW_SECONDS`) and on each action from it; closing the
panel releases it, and an abandoned one ends by itself. It is advisory: nothing refuses an
action because of it (the version check, 412, already prevents lost updates); it tells a second
user that someone else is on the case.

- One lock per case (`case_soft_lock`, primary key case_id). A live lock of someone else is
  left alone: the first holder keeps it until it expires or is released; opening the case
  afterwards takes it over. Renewing one's own keeps `taken_at` (when the panel was opened).
- One lock per user: taking a lock releases the user's others (their panel shows one case).
- Expired rows count as absent in every read (`expires_at > city_now()`) and are swept when a
  lock is taken. Times are the database's `city_now()`, so frozen test clocks apply.
- Scope: every read and write goes through `case_filter` (a lock of a case outside the caller's
  scope does not exist for them); row-level security on `case_soft_lock` says the same in the
  database (a lock row is visible exactly where its case is).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.types import Interval

from geo.access.principal import Principal
from geo.accounts.models import Account
from geo.cases.models import CASES, SOFT_LOCKS
from geo.cases.scope import case_filter
from geo.core.clock import sql_now
from geo.core.errors import NotFound

LOCK_TTL = timedelta(minutes=3)
RENEW_SECONDS = 60  # the panel's renewal poll; well inside the TTL, so a missed poll is harmless

L = SOFT_LOCKS.c
C = CASES.c


@dataclass(frozen=True)
class SoftLock:
    case_id: int
    holder_account: int
    holder_name: str
    taken_at: datetime
    expires_at: datetime

    def held_by(self, me: Principal) -> bool:
        return me.account_id is not None and self.holder_account == me.account_id


def _ttl() -> object:
    return literal(LOCK_TTL, Interval())


def _live_of_visible(me: Principal, case_ids: Iterable[int]) -> object:
    ids = list(case_ids)
    return and_(
        L.case_id.in_(ids),
        L.expires_at > sql_now(),
        L.case_id.in_(select(C.id).where(C.id.in_(ids), case_filter(me))),
    )


def locks_of(session: Session, me: Principal, case_ids: Iterable[int]) -> dict[int, SoftLock]:
    """The live soft locks of those of `case_ids` that `me` may see, by case id."""
    ids = list(case_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(L.case_id, L.holder_account, L.holder_name, L.taken_at, L.expires_at).where(
            _live_of_visible(me, ids)  # type: ignore[arg-type]
        )
    ).all()
    return {r.case_id: SoftLock(*r) for r in rows}


def live_holders(session: Session, me: Principal) -> frozenset[tuple[int, int]]:
    """(case id, holder account) of every live soft lock on a case `me` may see: the live feed
    compares it poll to poll, so consoles learn who took or left a case without a reload."""
    rows = session.execute(
        select(L.case_id, L.holder_account).where(
            L.expires_at > sql_now(), L.case_id.in_(select(C.id).where(case_filter(me)))
        )
    ).all()
    return frozenset((r.case_id, r.holder_account) for r in rows)


def current(session: Session, me: Principal, case_id: int) -> SoftLock | None:
    """The live soft lock of one case `me` may see, or None."""
    return locks_of(session, me, [case_id]).get(case_id)


def _visible(session: Session, me: Principal, case_id: int) -> bool:
    return session.scalar(select(C.id).where(C.id == case_id, case_filter(me))) is not None


def take(session: Session, me: Principal, case_id: int) -> SoftLock | None:
    """Take or renew `me`'s soft lock on a case; the live lock afterwards (maybe another's).

    NotFound when the case is outside `me`'s scope. A caller without an account (no name to
    show) takes none and only reads.
    """
    if not _visible(session, me, case_id):
        raise NotFound(f"no case {case_id}")
    if me.account_id is None:
        return current(session, me, case_id)
    now = sql_now()
    session.execute(delete(SOFT_LOCKS).where(L.expires_at <= now))  # the opportunistic sweep
    session.execute(
        delete(SOFT_LOCKS).where(L.holder_account == me.account_id, L.case_id != case_id)
    )
    name = session.scalar(select(Account.display_name).where(Account.id == me.account_id))
    stmt = insert(SOFT_LOCKS).values(
        case_id=case_id,
        holder_account=me.account_id,
        holder_name=(name or me.name)[:100],
        taken_at=now,
        expires_at=now + _ttl(),
    )
    mine = and_(L.holder_account == stmt.excluded.holder_account, L.expires_at > now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[L.case_id],
            set_={
                "holder_account": stmt.excluded.holder_account,
                "holder_name": stmt.excluded.holder_name,
                "taken_at": case((mine, L.taken_at), else_=stmt.excluded.taken_at),
                "expires_at": stmt.excluded.expires_at,
            },
            # Someone else's live lock stays theirs: advisory locks are not stolen.
            where=or_(L.expires_at <= now, L.holder_account == stmt.excluded.holder_account),
        )
    )
    return current(session, me, case_id)


def release(session: Session, me: Principal, case_id: int) -> bool:
    """Release `me`'s soft lock on a case (the panel closed); whether there was one. Another
    user's lock is never released by `me`. NotFound outside `me`'s scope."""
    if not _visible(session, me, case_id):
        raise NotFound(f"no case {case_id}")
    if me.account_id is None:
        return False
    gone = session.execute(
        delete(SOFT_LOCKS)
        .where(L.case_id == case_id, L.holder_account == me.account_id)
        .returning(L.case_id)
    ).all()
    return bool(gone)
