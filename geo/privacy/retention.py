"""Retention: personal data of people not seen for the last N seasons is anonymised; the rows
(and so every aggregate) stay. Seasons are the city's (geo.core.clock: season Y runs from 1 May of Y
to 30 April of Y+1).

Each domain that stores personal data writes a purger next to its models and registers it in its
models' `register()`, which `geo.models.load_models()` runs at startup::

    def purge_residents(session, cutoff: date, dry_run: bool) -> int:
        ...  # anonymise residents with no stay ending on or after `cutoff`; return how many

    retention.register_purger("resident", purge.purge_residents)

`houniao privacy purge [--dry-run]` runs them all in one transaction and audits the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.accounts import tokens
from geo.accounts.models import Account, AuthSession
from geo.accounts.tokens import rowcount
from geo.audit import service as audit
from geo.core import clock
from geo.core.config import security_settings
from geo.models import require_loaded

Purger = Callable[[Session, date, bool], int]
PURGERS: dict[str, Purger] = {}


def register_purger(name: str, fn: Purger) -> None:
    """Add a domain's purger (each domain's `register()`, run by `geo.models.load_models`)."""
    PURGERS[name] = fn


def cutoff(today: date, seasons: int) -> date:
    """Start of the oldest of the last `seasons` seasons: data last seen before it goes.

    >>> cutoff(date(2026, 11, 26), 3)
    datetime.date(2024, 5, 1)
    >>> cutoff(date(2026, 3, 1), 3)
    datetime.date(2023, 5, 1)
    """
    if seasons < 1:
        raise ValueError("keep at least one season")
    return clock.season_start(clock.season_of(today) - seasons + 1)


def purge(
    session: Session,
    actor: Principal,
    *,
    today: date | None = None,
    seasons: int | None = None,
    dry_run: bool = False,
) -> dict[str, object]:
    """Run every registered purger; counts per purger. The caller commits (or, dry, rolls back)."""
    require_loaded("privacy purge")  # else PURGERS could be silently empty
    keep = seasons or security_settings().retention_seasons
    limit = cutoff(today or clock.today(), keep)
    as_system(session, actor.name)
    counts = {name: fn(session, limit, dry_run) for name, fn in sorted(PURGERS.items())}
    if not dry_run:
        audit.record(session, actor, "privacy.purge", detail={"cutoff": limit, "counts": counts})
    return {"cutoff": limit.isoformat(), "seasons": keep, "dry_run": dry_run, "counts": counts}


def purge_disabled_accounts(session: Session, limit: date, dry_run: bool) -> int:
    """Staff phone and ID numbers of accounts disabled before the cutoff."""
    where = and_(
        Account.is_active.is_(False),
        Account.disabled_at < datetime.combine(limit, time.min, clock.CITY_TZ),  # city midnight
        or_(Account.phone_enc.is_not(None), Account.id_number_enc.is_not(None)),
    )
    if dry_run:
        return session.scalar(select(func.count()).select_from(Account).where(where)) or 0
    stmt = (
        update(Account)
        .where(where)
        .values(phone_enc=None, phone_hash=None, id_number_enc=None, id_number_hash=None)
    )
    return rowcount(session.execute(stmt))


def purge_expired_logins(session: Session, limit: date, dry_run: bool) -> int:
    """Login sessions (with their client address and user agent) past their absolute limit,
    and revoked-token rows past their expiry: nothing to check against any more."""
    now = datetime.now(UTC)
    if dry_run:
        return (
            session.scalar(
                select(func.count()).select_from(AuthSession).where(AuthSession.expires_at < now)
            )
            or 0
        )
    return tokens.prune(session, now=now)["sessions"]


def register() -> None:
    """The accounts' purgers, defined here (called by `geo.models.load_models`)."""
    register_purger("account_personal_data", purge_disabled_accounts)
    register_purger("expired_logins", purge_expired_logins)
