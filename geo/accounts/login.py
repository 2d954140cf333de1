"""Password login with lockout: N failures for one login name within a window lock that name
(and 10 N for one client address lock the address) for a while, whether or not the name exists.

Failed attempts raise `Unauthorized`, lockouts `RateLimited` (429 with Retry-After); both keep
their writes (counters, audit rows) although the request fails.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.access import Principal
from geo.accounts import passwords, tokens
from geo.accounts.models import Account, LoginThrottle
from geo.audit import service as audit
from geo.config import security_settings
from geo.errors import RateLimited, Unauthorized

ADDRESS_FACTOR = 10  # an address may fail this many times more than one name


def _keys(name: str, client_addr: str | None) -> dict[str, int]:
    n = security_settings().lockout_threshold
    keys = {f"name:{name.strip().lower()[:64]}": n}
    if client_addr:
        keys[f"addr:{client_addr[:64]}"] = n * ADDRESS_FACTOR
    return keys


def _locked_for(session: Session, keys: list[str], now: datetime) -> int:
    """Seconds until every lock on these keys has expired (0: not locked)."""
    until = session.scalar(
        select(func.max(LoginThrottle.locked_until)).where(
            LoginThrottle.key.in_(keys), LoginThrottle.locked_until > now
        )
    )
    return 0 if until is None else max(1, math.ceil((until - now).total_seconds()))


def _count_failure(session: Session, key: str, threshold: int, now: datetime) -> bool:
    """Count one failure atomically; True when it reaches the threshold (the key is now locked)."""
    s = security_settings()
    floor = now - timedelta(minutes=s.lockout_window_minutes)
    new = insert(LoginThrottle).values(key=key, failures=1, window_start=now)
    stale = LoginThrottle.window_start < floor
    stmt = new.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={
            # A failure after the window has passed starts a new window at 1.
            "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
            "window_start": case((stale, now), else_=LoginThrottle.window_start),
        },
    ).returning(LoginThrottle.failures)
    failures = session.execute(stmt).scalar_one()
    if failures < threshold:
        return False
    session.execute(
        update(LoginThrottle).where(LoginThrottle.key == key).values(
            failures=0, window_start=now,
            locked_until=now + timedelta(minutes=s.lockout_minutes),
        )
    )
    return True


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
    keys = _keys(name, client_addr)
    anonymous = Principal(role="public", name=name.strip()[:64] or "?", client_addr=client_addr,
                          via="anonymous")
    wait = _locked_for(session, list(keys), current)
    if wait:
        audit.record(session, anonymous, "auth.locked", outcome="denied",
                     detail={"retry_after": wait})
        raise RateLimited(f"too many failed logins; try again in {wait} s", retry_after=wait)

    account = session.scalar(select(Account).where(Account.name == name.strip().lower()))
    stored = account.password_hash if account is not None and account.is_active else None
    ok = passwords.verify_password(stored, password)  # same cost whether or not there is one
    if account is None or stored is None or not ok:
        locked = [k for k, n in keys.items() if _count_failure(session, k, n, current)]
        reason = ("unknown_name" if account is None else
                  "disabled" if not account.is_active else
                  "no_password" if account.password_hash is None else "bad_password")
        actor = anonymous if account is None else tokens.principal_for(
            account, client_addr=client_addr, via="anonymous")
        audit.record(session, actor, "auth.login_failed", outcome="failed",
                     detail={"reason": reason, "locked": locked})
        raise Unauthorized("incorrect name or password")

    session.execute(
        update(LoginThrottle).where(LoginThrottle.key == next(iter(keys))).values(failures=0)
    )
    if passwords.needs_rehash(account.password_hash or ""):
        account.password_hash = passwords.hash_password(password)
    account.last_login_at = current
    pair = tokens.start_session(
        session, account, now=current, client_addr=client_addr, user_agent=user_agent
    )
    audit.record(
        session, tokens.principal_for(account, client_addr=client_addr, session_id=pair.session_id),
        "auth.login", object_type="auth_session", object_ids=[pair.session_id],
    )
    return pair
