"""Access tokens (JWT, HS256, short-lived, with jti), refresh tokens (opaque, stored hashed,
rotated on use), login sessions, logout and revocation.

An access token is accepted only if its signature, issuer, audience, expiry and claims check
out AND, in the database, its account is active with the same `token_version`, its session is
neither revoked nor past its absolute limit, and its jti is not revoked. So disabling an account,
changing its role or scope, logging out and refresh-token reuse all take effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, cast

import jwt
from sqlalchemy import CursorResult, Result, Row, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal, rls_setters, rls_settings_sql
from geo.accounts.models import Account, AuthSession, LoginThrottle, RefreshToken, RevokedToken
from geo.audit import service as audit
from geo.core.config import security_settings
from geo.core.errors import Unauthorized

ISSUER = "houniao"
AUDIENCE = "houniao-api"
ALGORITHM = "HS256"
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "sid", "ver", "typ"]
REFRESH_PREFIX = "hnr_"
# A spent refresh token presented again this soon, before its family moved on, is a lost answer
# (two parts of one page renewing at once, a page unloaded or the signal dropped mid-response),
# not theft: the OAuth 2.0 Security BCP's reuse interval, as Auth0's and Okta's grace periods.
REUSE_LEEWAY = timedelta(seconds=30)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds
    session_id: str
    token_type: str = "bearer"

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched."""
    return cast("CursorResult[Any]", result).rowcount or 0


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# What a Principal is built from: the account's own columns (a row of these, or an Account).
PRINCIPAL_COLUMNS = (
    Account.id,
    Account.name,
    Account.role,
    Account.cells,
    Account.community_code,
    Account.street_code,
    Account.department,
    Account.channel,
    Account.service_area_id,
)


# rls_settings(principal_for(account)) in SQL over the account's row.
_account = Account.__table__.c
ACCOUNT_RLS_SETTINGS = rls_settings_sql(
    role=_account.role,
    account=_account.id,
    cells=_account.cells,
    community=_account.community_code,
    street=_account.street_code,
    department=_account.department,
    channel=_account.channel,
    area=_account.service_area_id,
)


# The account of a token, only while the token holds: active, same token_version, its session
# open and unexpired, its jti not revoked. Built once (binding values per request), since it
# runs on every request: building it anew took longer than running it.
_TOKEN_ACCOUNT = (
    select(*PRINCIPAL_COLUMNS)
    .join(AuthSession, AuthSession.account_id == Account.id)
    .where(
        Account.id == bindparam("account"),
        AuthSession.id == bindparam("session"),
        Account.is_active.is_(True),
        Account.token_version == bindparam("version"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
        ~exists().where(RevokedToken.jti == bindparam("jti")),
    )
)
# ... and setting the row-level-security settings to the account's in the same statement.
_TOKEN_ACCOUNT_WITH_RLS = _TOKEN_ACCOUNT.add_columns(*rls_setters(ACCOUNT_RLS_SETTINGS))


def principal_for(account: Account | Row[Any], **extra: Any) -> Principal:
    """The Principal of an account (an Account, or a row of PRINCIPAL_COLUMNS): the scope
    straight from the row."""
    return Principal(
        role=account.role,
        name=account.name,
        account_id=account.id,
        cells=tuple(account.cells or ()),
        community=account.community_code,
        street=account.street_code,
        department=account.department,
        channel=account.channel,
        area=account.service_area_id,
        **extra,
    )


def encode_access_token(
    account: Account, session_id: str, *, now: datetime | None = None, minutes: int | None = None
) -> tuple[str, str, datetime]:
    """(token, jti, expires_at) for an account in a login session."""
    s = security_settings()
    issued = _now(now)
    expires = issued + timedelta(minutes=minutes or s.access_token_minutes)
    jti = uuid.uuid4().hex
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(account.id),
        "name": account.name,
        "role": account.role,
        "sid": session_id,
        "jti": jti,
        "ver": account.token_version,
        "typ": "access",
        "iat": issued,
        "nbf": issued,
        "exp": expires,
    }
    token = jwt.encode(
        claims, s.secret_key, algorithm=ALGORITHM, headers={"kid": key_id(s.secret_key)}
    )
    return token, jti, expires


def key_id(secret: str) -> str:
    """The `kid` header naming a signing key (a digest prefix: it says which, reveals nothing)."""
    return hashlib.sha256(b"houniao-jwt-kid|" + secret.encode()).hexdigest()[:12]


def verification_keys() -> list[str]:
    """The signing key first, then the former keys still accepted (HOUNIAO_PREVIOUS_SECRET_KEYS):
    a rotation does not sign everyone out; tokens signed with a former key live out their time."""
    s = security_settings()
    return [s.secret_key, *(k for k in s.previous_secret_keys if k != s.secret_key)]


def _verify(token: str, *, verify_exp: bool = True) -> dict[str, Any]:
    """jwt.decode with the key the token's `kid` names (every accepted key for a token without
    one, from before kids); jwt.InvalidTokenError otherwise."""
    claims = dict(_signed_claims(token, tuple(verification_keys())))
    if verify_exp and claims["exp"] <= datetime.now(UTC).timestamp():  # as jwt.decode, no leeway
        raise jwt.ExpiredSignatureError("Signature has expired")
    return claims


@lru_cache(maxsize=4096)
def _signed_claims(token: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    """A token's claims, its signature and every claim but its expiry checked: once per token
    and set of keys, since pyjwt's checks cost ~0.3 ms of Python and a caller sends the same
    token with every request (a refused token is checked anew each time: errors are not kept).
    `_verify` checks the expiry at each use."""
    kid = jwt.get_unverified_header(token).get("kid")
    candidates = [k for k in keys if key_id(k) == kid] if kid is not None else list(keys)
    if not candidates:
        raise jwt.InvalidSignatureError("unknown signing key")
    options: Any = {"require": _REQUIRED, "verify_exp": False}
    for i, key in enumerate(candidates):
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options=options,
            )
            return MappingProxyType(claims)
        except jwt.InvalidSignatureError:
            if i == len(candidates) - 1:
                raise
    raise jwt.InvalidSignatureError("unknown signing key")  # pragma: no cover


def access_token_expiry(token: str) -> datetime:
    """When a (verified) access token expires."""
    return datetime.fromtimestamp(int(decode_access_token(token)["exp"]), UTC)


def decode_access_token(token: str) -> dict[str, Any]:
    """Verified claims; Unauthorized for anything else (alg=none, forged, expired, malformed)."""
    try:
        claims = _verify(token)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("access token expired", headers=_bearer_error()) from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid access token", headers=_bearer_error()) from None
    if claims.get("typ") != "access":
        raise Unauthorized("invalid access token", headers=_bearer_error())
    return claims


def _bearer_error() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="houniao", error="invalid_token"'}


def principal_from_access_token(
    session: Session,
    token: str,
    *,
    now: datetime | None = None,
    client_addr: str | None = None,
    with_rls: bool = False,
) -> Principal:
    """The caller of a valid access token (Unauthorized otherwise): signature and claims here,
    the rest in the database (`_TOKEN_ACCOUNT`). With `with_rls`, the same statement sets this
    transaction's row-level-security settings to the caller's, only if the token holds: one
    round trip for all a request needs before its work."""
    claims = decode_access_token(token)
    try:
        account_id, session_id = int(claims["sub"]), uuid.UUID(str(claims["sid"]))
    except (TypeError, ValueError):
        raise Unauthorized("invalid access token", headers=_bearer_error()) from None
    version, jti = claims["ver"], str(claims["jti"])
    if type(version) is not int:
        raise Unauthorized("invalid access token", headers=_bearer_error())
    statement = _TOKEN_ACCOUNT_WITH_RLS if with_rls else _TOKEN_ACCOUNT
    # On the session's connection, not through the ORM (plain columns, no entities): the ORM's
    # execution path cost ~0.07 ms more on every authenticated request.
    row = (
        session.connection()
        .execute(
            statement,
            {
                "account": account_id,
                "session": session_id,
                "version": version,
                "jti": jti,
                "now": _now(now),
            },
        )
        .first()
    )
    if row is None:
        raise Unauthorized("access token revoked", headers=_bearer_error())
    return principal_for(
        row, session_id=str(session_id), token_id=jti, client_addr=client_addr, via="token"
    )


def start_session(
    session: Session,
    account: Account,
    *,
    now: datetime | None = None,
    client_addr: str | None = None,
    user_agent: str | None = None,
) -> TokenPair:
    """A new login session with its first access and refresh tokens."""
    s = security_settings()
    issued = _now(now)
    login = AuthSession(
        id=uuid.uuid4(),
        account_id=account.id,
        created_at=issued,
        expires_at=issued + timedelta(days=s.session_days),
        client_addr=client_addr,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(login)
    session.flush()
    return _pair(session, account, login, issued)


def _pair(session: Session, account: Account, login: AuthSession, now: datetime) -> TokenPair:
    s = security_settings()
    access, _, expires = encode_access_token(account, str(login.id), now=now)
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            session_id=login.id,
            token_hash=digest(refresh),
            created_at=now,
            expires_at=min(now + timedelta(days=s.refresh_token_days), login.expires_at),
        )
    )
    session.flush()
    return TokenPair(access, refresh, int((expires - now).total_seconds()), str(login.id))


def refresh(
    session: Session,
    refresh_token: str,
    *,
    now: datetime | None = None,
    client_addr: str | None = None,
) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one is spent.

    Presenting a spent token again means it was stolen (or the client is broken): the whole
    session is revoked, and the reuse is audited. Except within REUSE_LEEWAY of its use while
    no later token of the session has been used: the answer was lost, and a new pair is issued
    (the lost one stays single-use and expires as usual).
    """
    current = _now(now)
    row = session.execute(
        select(RefreshToken, AuthSession, Account)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(Account, Account.id == AuthSession.account_id)
        .where(RefreshToken.token_hash == digest(refresh_token))
        .with_for_update(of=RefreshToken)
    ).first()
    if row is None:
        raise Unauthorized("invalid refresh token")
    token, login, account = row.RefreshToken, row.AuthSession, row.Account
    actor = principal_for(account, client_addr=client_addr, session_id=str(login.id))
    if token.used_at is not None and not _answer_lost(session, token, current):
        if login.revoked_at is None:
            revoke_session(session, login, reason="refresh_reuse", now=current)
            audit.record(
                session,
                actor,
                "auth.refresh_reuse",
                object_type="auth_session",
                object_ids=[login.id],
                outcome="denied",
            )
        raise Unauthorized("refresh token already used; the session is revoked")
    if (
        login.revoked_at is not None
        or login.expires_at <= current
        or token.expires_at <= current
        or not account.is_active
    ):
        raise Unauthorized("refresh token expired or revoked")
    again = token.used_at is not None
    token.used_at = token.used_at or current
    pair = _pair(session, account, login, current)
    audit.record(
        session,
        actor,
        "auth.refresh",
        object_type="auth_session",
        object_ids=[login.id],
        detail={"within_reuse_leeway": True} if again else None,
    )
    return pair


def _answer_lost(session: Session, token: RefreshToken, current: datetime) -> bool:
    """Whether a spent token is presented again within the leeway, its family unmoved."""
    if token.used_at is None or current - token.used_at > REUSE_LEEWAY:
        return False
    used_since = select(RefreshToken.id).where(
        RefreshToken.session_id == token.session_id, RefreshToken.used_at > token.used_at
    )
    return session.scalar(used_since.limit(1)) is None


def revoke_session(
    session: Session, login: AuthSession, *, reason: str, now: datetime | None = None
) -> None:
    login.revoked_at = _now(now)
    login.revoked_reason = reason


def revoke_jti(session: Session, me: Principal, *, expires_at: datetime, now: datetime) -> None:
    if me.token_id and session.get(RevokedToken, me.token_id) is None:
        session.add(
            RevokedToken(
                jti=me.token_id, account_id=me.account_id, revoked_at=now, expires_at=expires_at
            )
        )


def logout(session: Session, me: Principal, *, now: datetime | None = None) -> None:
    """End the caller's login: its access token (by jti) and its whole session."""
    current = _now(now)
    s = security_settings()
    revoke_jti(
        session, me, expires_at=current + timedelta(minutes=s.access_token_minutes), now=current
    )
    if me.session_id:
        login = session.get(AuthSession, uuid.UUID(me.session_id))
        if login is not None and login.revoked_at is None:
            revoke_session(session, login, reason="logout", now=current)
    audit.record(
        session,
        me,
        "auth.logout",
        object_type="auth_session",
        object_ids=[me.session_id] if me.session_id else (),
    )
    session.flush()


def _claims_even_if_expired(token: str) -> dict[str, Any] | None:
    """The claims of an access token we signed, expired or not (its session id is still true);
    None for anything else."""
    try:
        claims = _verify(token, verify_exp=False)
    except jwt.InvalidTokenError:
        return None
    return claims if claims.get("typ") == "access" else None


def end_browser_session(
    session: Session,
    *,
    access_token: str | None,
    refresh_token: str | None,
    client_addr: str | None = None,
    now: datetime | None = None,
) -> int:
    """Sign a browser out on the server: revoke the login session its refresh token belongs to
    (the whole refresh-token family) and the one its access token names, even when that token
    has expired, and the access token itself. Returns how many sessions ended."""
    current = _now(now)
    logins: dict[uuid.UUID, AuthSession] = {}
    if refresh_token:
        login = session.scalar(
            select(AuthSession)
            .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
            .where(RefreshToken.token_hash == digest(refresh_token))
        )
        if login is not None:
            logins[login.id] = login
    claims = _claims_even_if_expired(access_token) if access_token else None
    if claims is not None:
        try:
            sid = uuid.UUID(str(claims["sid"]))
        except ValueError:
            sid = None
        login = session.get(AuthSession, sid) if sid else None
        if login is not None and str(login.account_id) == str(claims["sub"]):
            logins[login.id] = login
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            if expires > current and session.get(RevokedToken, str(claims["jti"])) is None:
                session.add(
                    RevokedToken(
                        jti=str(claims["jti"]),
                        account_id=login.account_id,
                        revoked_at=current,
                        expires_at=expires,
                    )
                )
    ended = 0
    for login in logins.values():
        if login.revoked_at is None:
            revoke_session(session, login, reason="logout", now=current)
            ended += 1
        account = session.get(Account, login.account_id)
        if account is not None:
            actor = principal_for(account, client_addr=client_addr, session_id=str(login.id))
            audit.record(
                session, actor, "auth.logout", object_type="auth_session", object_ids=[login.id]
            )
    session.flush()
    return ended


def revoke_all_sessions(
    session: Session, account: Account, *, reason: str, now: datetime | None = None
) -> int:
    """Revoke every open session of an account (password reset, disabling)."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.account_id == account.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=_now(now), revoked_reason=reason)
    )
    return rowcount(result)


def prune(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Delete expired revoked-jti rows, sessions past their limit and sign-in counters that
    have been forgotten (housekeeping; owner)."""
    current = _now(now)
    jtis = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < current))
    sessions = session.execute(delete(AuthSession).where(AuthSession.expires_at < current))
    quiet = current - timedelta(minutes=security_settings().lockout_window_minutes)
    throttles = session.execute(
        delete(LoginThrottle).where(
            func.coalesce(LoginThrottle.locked_until, LoginThrottle.window_start) < quiet
        )
    )
    return {
        "revoked_tokens": rowcount(jtis),
        "sessions": rowcount(sessions),
        "login_throttles": rowcount(throttles),
    }
