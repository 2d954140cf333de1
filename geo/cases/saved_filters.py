"""Saved filters of the dispatcher console: a user's filter bars under names of their own.

Per account and private to it (`console_saved_filter`, row-level security by account): another
account neither lists nor deletes them (NotFound, 404). At most `MAX_PER_ACCOUNT` per account,
names of 1 to `MAX_NAME` characters, unique per account; a breach is InvalidInput (422) with a
message the console shows as it is. The stored query is the filter bar's query string, built here
from validated values only (the caller validates them as the queue does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases.models import SAVED_FILTERS
from geo.core.errors import Forbidden, InvalidInput, NotFound

MAX_PER_ACCOUNT = 20
MAX_NAME = 40
# pg_advisory_xact_lock(key, account): saves of one account are counted one at a time.
LOCK_KEY = 0x5AFE

F = SAVED_FILTERS.c


@dataclass(frozen=True)
class SavedFilter:
    id: int
    name: str
    query: str
    created_at: datetime


def _account(me: Principal) -> int:
    if me.account_id is None:
        raise Forbidden("saved filters belong to a signed-in account")
    return me.account_id


def query_of(values: dict[str, str]) -> str:
    """The query string of a filter bar's non-empty values, in the bar's order."""
    return urlencode([(k, v) for k, v in values.items() if v])


def list_filters(session: Session, me: Principal) -> list[SavedFilter]:
    """`me`'s saved filters, oldest first (the order they were made in)."""
    rows = session.execute(
        select(F.id, F.name, F.query, F.created_at)
        .where(F.account_id == _account(me))
        .order_by(F.created_at, F.id)
    ).all()
    return [SavedFilter(*r) for r in rows]


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())  # no leading, trailing or doubled spaces, no line breaks
    if not name:
        raise InvalidInput("请给筛选起一个名称 (name is empty)")
    if len(name) > MAX_NAME:
        raise InvalidInput(
            f"名称最多 {MAX_NAME} 个字，现有 {len(name)} 个字 (name longer than {MAX_NAME})"
        )
    return name


def save(session: Session, me: Principal, name: str, values: dict[str, str]) -> SavedFilter:
    """Save the filter bar `values` under `name` for `me`."""
    account = _account(me)
    name = clean_name(name)
    session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY, account)))
    taken = session.scalar(
        select(func.count()).select_from(SAVED_FILTERS).where(F.account_id == account)
    )
    if taken is not None and taken >= MAX_PER_ACCOUNT:
        raise InvalidInput(
            f"最多保存 {MAX_PER_ACCOUNT} 个筛选，请先删除不用的 (at most {MAX_PER_ACCOUNT})"
        )
    if session.scalar(select(F.id).where(F.account_id == account, F.name == name)) is not None:
        raise InvalidInput(f"已有名为「{name}」的筛选，请换一个名称 (duplicate name)")
    try:
        with session.begin_nested():
            row = session.execute(
                SAVED_FILTERS.insert()
                .values(account_id=account, name=name, query=query_of(values))
                .returning(F.id, F.name, F.query, F.created_at)
            ).one()
    except IntegrityError:  # the same name saved at the same instant by another tab
        raise InvalidInput(f"已有名为「{name}」的筛选，请换一个名称 (duplicate name)") from None
    return SavedFilter(*row)


def remove(session: Session, me: Principal, filter_id: int) -> str:
    """Delete one of `me`'s saved filters; its name. NotFound for anyone else's."""
    gone = session.execute(
        delete(SAVED_FILTERS)
        .where(F.id == filter_id, F.account_id == _account(me))
        .returning(F.name)
    ).scalar()
    if gone is None:
        raise NotFound(f"no saved filter {filter_id}")
    return str(gone)
