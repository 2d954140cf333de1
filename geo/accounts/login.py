"""Password checks (sign-in, and the current password when changing it) with progressive delays
instead of hard locks that a stranger could trigger.

Failures are counted per login name (whether or not it exists, so a delay reveals nothing), per
client address, and per (address, name) pair. The first `lockout_threshold` failures of a name
(10 times that of an address) cost nothing; each further one doubles the wait before the next
attempt is checked (`lockout_first_delay_seconds` first, at most `lockout_minutes`). A counter
is forgotten `lockout_window_minutes` after its last wait ended without a new failure.

- A name that waits refuses every attempt on it, the right password too: that is the
  account's own guessing budget, spent by whoever guesses.
- An address that waits (someone there failed on many names) refuses its attempts on the names
  it has failed on; a name without failures from there is still checked, so a colleague behind
  the same address signs in with the right password. Someone spraying passwords from one
  address gets one try per name instead of `lockout_threshold`.

The address is the peer's, or what a trusted proxy says (HOUNIAO_TRUSTED_PROXIES, see
api/hardening.py); X-Forwarded-For from anyone else is ignored. Waits raise `RateLimited` (429
with Retry-After), failures `Unauthorized` or `WrongPassword`; all keep their writes (counters,
audit rows) although the request fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.accounts import passwords, tokens
from geo.accounts.models import Account, LoginThrottle
from geo.audit import service as audit
from geo.core.config import security_settings
from geo.core.errors import RateLimited, Unauthorized, WrongPassword

ADDRESS_FACTOR = 10  # an address may fail this many times more than one name
_NEVER = 2**31  # the pair counter never makes anyone wait by itself: it only remembers


@dataclass(frozen=True)
class ThrottleKeys:
    name: str
    address: str | None = None
    pair: str | None = None

    def thresholds(self) -> dict[str, int]:
        n = security_settings().lockout_threshold
        out = {self.name: n}
        if self.address and self.pair:
            out[self.address] = n * ADDRESS_FACTOR
            out[self.pair] = _NEVER
        return out


def throttle_keys(name: str, client_addr: str | None) -> ThrottleKeys:
    login = name.strip().lower()[:64]
    if not client_addr:
        return ThrottleKeys(f"name:{login}")
    addr = client_addr[:64]
    return ThrottleKeys(f"name:{login}", f"addr:{addr}", f"pair:{addr}|{login}")


def delay_after(failures: int, threshold: int) -> timedelta:
    """The wait after the `failures`-th failure of a key: none below its threshold, then
    doubling from the first delay up to the longest."""
    if failures < threshold:
        return timedelta(0)
    s = security_settings()
    seconds = s.lockout_first_delay_seconds * 2 ** min(failures - threshold, 20)
    return timedelta(seconds=min(seconds, s.lockout_minutes * 60))


def _forgotten_before(now: datetime) -> datetime:
    return now - timedelta(minutes=security_settings().lockout_window_minutes)


def wait_seconds(session: Session, keys: ThrottleKeys, now: datetime) -> int:
    """Seconds before an attempt with these keys is checked (0: now)."""
    rows = {
        row.key: row
        for row in session.scalars(
            select(LoginThrottle).where(LoginThrottle.key.in_(keys.thresholds()))
        )
    }
    until = []
    name = rows.get(keys.name)
    if name is not None and name.locked_until is not None and name.locked_until > now:
        until.append(name.locked_until)
    address = rows.get(keys.address or "")
    pair = rows.get(keys.pair or "")
    if (
        address is not None
        and address.locked_until is not None
        and address.locked_until > now
        and pair is not None
        and pair.locked_until is not None
        and pair.locked_until >= _forgotten_before(now)
    ):
        until.append(address.locked_until)
    return max(1, math.ceil((max(until) - now).total_seconds())) if until else 0


def count_failure(session: Session, keys: ThrottleKeys, now: datetime) -> list[str]:
    """Count one failure on every key (atomically); the keys that now make callers wait."""
    waiting = []
    # A failure after a key has been quiet for the window starts it again at 1.
    stale = func.coalesce(LoginThrottle.locked_until, LoginThrottle.window_start) < (
        _forgotten_before(now)
    )
    for key, threshold in keys.thresholds().items():
        stmt = (
            insert(LoginThrottle)
            .values(key=key, failures=1, window_start=now, locked_until=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                    "window_start": case((stale, now), else_=LoginThrottle.window_start),
                },
            )
            .returning(LoginThrottle.failures)
        )
        failures = session.execute(stmt).scalar_one()
        wait = delay_after(failures, threshold)
        session.execute(
            update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=now + wait)
        )
        if wait:
            waiting.append(key)
    return waiting


def forget(session: Session, name: str) -> int:
    """Clear the counters of a name, from everywhere (success, unlock, new password)."""
    login = name.strip().lower()[:64]
    result = session.execute(
        delete(LoginThrottle).where(
            or_(LoginThrottle.key == f"name:{login}", LoginThrottle.key.like(f"pair:%|{login}"))
        )
    )
    return tokens.rowcount(result)


def _refuse_if_waiting(
    session: Session, keys: ThrottleKeys, actor: Principal, action: str, now: datetime
) -> None:
    wait = wait_seconds(session, keys, now)
    if wait:
        audit.record(session, actor, action, outcome="denied", detail={"retry_after": wait})
        raise RateLimited(f"too many failed attempts; try again in {wait} s", retry_after=wait)


def authenticate(
    session: Session,
    name: str,
    password: str,
    *,
    client_addr: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> tokens.TokenPair:
    """Check a name and password and start a session; every outcome is audited."""
    current = now or datetime.now(UTC)
    keys = throttle_keys(name, client_addr)
    anonymous = Principal(
        role="public", name=name.strip()[:64] or "?", client_addr=client_addr, via="anonymous"
    )
    _refuse_if_waiting(session, keys, anonymous, "auth.locked", current)

    account = session.scalar(select(Account).where(Account.name == name.strip().lower()))
    stored = account.password_hash if account is not None and account.is_active else None
    ok = passwords.verify_password(stored, password)  # same cost whether or not there is one
    if account is None or stored is None or not ok:
        waiting = count_failure(session, keys, current)
        reason = (
            "unknown_name"
            if account is None
            else "disabled"
            if not account.is_active
            else "no_password"
            if account.password_hash is None
            else "bad_password"
        )
        actor = (
            anonymous
            if account is None
            else tokens.principal_for(account, client_addr=client_addr, via="anonymous")
        )
        audit.record(
            session,
            actor,
            "auth.login_failed",
            outcome="failed",
            detail={"reason": reason, "waiting": waiting},
        )
        raise Unauthorized("incorrect name or password")

    forget(session, account.name)
    if passwords.needs_rehash(account.password_hash or ""):
        account.password_hash = passwords.hash_password(password)
    account.last_login_at = current
    pair = tokens.start_session(
        session, account, now=current, client_addr=client_addr, user_agent=user_agent
    )
    audit.record(
        session,
        tokens.principal_for(account, client_addr=client_addr, session_id=pair.session_id),
        "auth.login",
        object_type="auth_session",
        object_ids=[pair.session_id],
    )
    return pair


def confirm_password(
    session: Session,
    me: Principal,
    account: Account,
    password: str,
    *,
    now: datetime | None = None,
) -> None:
    """The signed-in caller proves they know their current password (before changing it),
    through the same counters as sign-in: a stolen token cannot guess it at full speed."""
    current = now or datetime.now(UTC)
    keys = throttle_keys(account.name, me.client_addr)
    _refuse_if_waiting(session, keys, me, "auth.password_change_locked", current)
    if not passwords.verify_password(account.password_hash, password):
        waiting = count_failure(session, keys, current)
        audit.record(
            session,
            me,
            "auth.password_change_failed",
            outcome="failed",
            object_type="account",
            object_ids=[account.id],
            detail={"waiting": waiting},
        )
        raise WrongPassword("current password is wrong")
