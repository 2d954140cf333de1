"""Tokens that must not work: expired, forged, alg=none, revoked, after logout, after a role
change; refresh rotation and reuse; lockout after repeated bad passwords; API keys."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from geo.access.principal import Role
from geo.accounts import apikeys, passwords, tokens
from geo.accounts import service as accounts
from geo.accounts.models import Account, AuthSession
from geo.audit.models import AuditEvent
from geo.core.config import security_settings
from geo.core.errors import Unauthorized
from tests.security.conftest import add_account, as_owner, bearer

PASSWORD = "Forest-City-838"


@pytest.fixture
def worker(session) -> Account:
    return add_account(
        session, "t-login", Role.grid_worker, password_hash=passwords.hash_password(PASSWORD)
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(session, account: Account) -> dict:
    pair = tokens.start_session(session, account)
    return jwt.decode(pair.access_token, options={"verify_signature": False})


def _me(client, token: str):
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_login_issues_tokens_that_work(session, app_client, worker):
    client = app_client()
    r = client.post("/api/v1/auth/token", data={"username": "t-login", "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert (
        body["token_type"] == "bearer"
        and body["expires_in"] == 60 * security_settings().access_token_minutes
    )
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["jti"] and claims["sid"] and claims["exp"] - claims["iat"] <= 3600
    me = _me(client, body["access_token"])
    assert me.status_code == 200
    assert me.json()["scope"] == {"cells": ["230717001001001"]}
    as_owner(session)
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_name == "t-login"))
    assert "auth.login" in set(actions)


def test_missing_and_malformed_credentials_are_401_with_www_authenticate(app_client):
    client = app_client()
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer x.y.z"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "hn_nope"},
    ):
        r = client.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert "www-authenticate" in r.headers
        assert set(r.json()) == {"detail"}


def test_expired_token_is_401(session, app_client, worker):
    login = tokens.start_session(session, worker)
    old, _, _ = tokens.encode_access_token(
        worker, login.session_id, now=datetime.now(UTC) - timedelta(hours=1), minutes=15
    )
    r = _me(app_client(), old)
    assert r.status_code == 401 and r.json()["detail"] == "access token expired"


def test_forged_signature_is_401(session, app_client, worker):
    claims = _claims(session, worker)
    claims["role"] = "admin"
    forged = jwt.encode(claims, "not-the-server-key-but-long-enough-to-sign", algorithm="HS256")
    r = _me(app_client(), forged)
    assert r.status_code == 401 and r.json()["detail"] == "invalid access token"


def test_tampered_payload_is_401(session, app_client, worker):
    header, _, signature = tokens.start_session(session, worker).access_token.split(".")
    claims = _claims(session, worker)
    claims["sub"] = "1"
    r = _me(app_client(), f"{header}.{_b64(claims)}.{signature}")
    assert r.status_code == 401


def test_alg_none_is_401(session, app_client, worker):
    claims = _claims(session, worker)
    for alg in ("none", "None", "NONE"):
        unsigned = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."
        r = _me(app_client(), unsigned)
        assert r.status_code == 401, alg


def test_other_algorithms_and_token_types_are_401(session, app_client, worker):
    claims = _claims(session, worker)
    key = security_settings().secret_key
    r = _me(app_client(), jwt.encode(claims, key, algorithm="HS512"))
    assert r.status_code == 401  # only HS256 is accepted
    r = _me(app_client(), jwt.encode({**claims, "typ": "refresh"}, key, algorithm="HS256"))
    assert r.status_code == 401
    r = _me(app_client(), jwt.encode({**claims, "aud": "elsewhere"}, key, algorithm="HS256"))
    assert r.status_code == 401
    no_jti = {k: v for k, v in claims.items() if k != "jti"}
    r = _me(app_client(), jwt.encode(no_jti, key, algorithm="HS256"))
    assert r.status_code == 401


def test_logout_revokes_the_token_and_its_session(session, app_client, worker):
    client = app_client()
    pair = tokens.start_session(session, worker)
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    assert client.post("/api/v1/auth/logout", headers=auth).status_code == 200
    r = client.get("/api/v1/auth/me", headers=auth)
    assert r.status_code == 401 and r.json()["detail"] == "access token revoked"
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token})
    assert r.status_code == 401


def test_revoked_jti_alone_is_401(session, app_client, worker):
    """The jti list works on its own, even if the session were still open."""
    from geo.accounts.models import RevokedToken

    pair = tokens.start_session(session, worker)
    jti = jwt.decode(pair.access_token, options={"verify_signature": False})["jti"]
    session.add(
        RevokedToken(
            jti=jti,
            account_id=worker.id,
            revoked_at=datetime.now(UTC),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    session.flush()
    assert _me(app_client(), pair.access_token).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_session(session, app_client, worker):
    client = app_client()
    first = tokens.start_session(session, worker)
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first.refresh_token
    assert _me(client, second["access_token"]).status_code == 200
    # The answer was lost (two parts of a page renewing at once, a dropped signal): the spent
    # token again within the leeway, nothing used since, gets a pair of its own.
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert r.status_code == 200, r.text
    third = r.json()
    assert len({first.refresh_token, second["refresh_token"], third["refresh_token"]}) == 3
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert r.status_code == 200, r.text
    fourth = r.json()
    # The family moved on (a later token was used): the spent token again is stolen. The
    # whole session dies, new tokens included.
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert r.status_code == 401 and "session is revoked" in r.json()["detail"]
    for access in (second["access_token"], fourth["access_token"]):
        assert _me(client, access).status_code == 401
    for spare in (second["refresh_token"], fourth["refresh_token"]):
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": spare})
        assert r.status_code == 401
    as_owner(session)
    reason = session.scalar(
        select(AuthSession.revoked_reason).where(
            AuthSession.id == __import__("uuid").UUID(first.session_id)
        )
    )
    assert reason == "refresh_reuse"
    assert session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "auth.refresh_reuse"))
    leeway = session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "auth.refresh")
    ).all()
    assert {"within_reuse_leeway": True} in leeway  # the lost answer is on record


def test_a_spent_refresh_token_after_the_leeway_revokes_the_session(session, worker):
    first = tokens.start_session(session, worker)
    used = datetime.now(UTC)
    tokens.refresh(session, first.refresh_token, now=used)
    later = used + tokens.REUSE_LEEWAY + timedelta(seconds=1)
    with pytest.raises(Unauthorized, match="session is revoked"):
        tokens.refresh(session, first.refresh_token, now=later)


def test_refresh_token_is_stored_hashed(session, worker):
    pair = tokens.start_session(session, worker)
    from geo.accounts.models import RefreshToken

    stored = session.scalars(select(RefreshToken.token_hash)).all()
    assert pair.refresh_token not in stored and tokens.digest(pair.refresh_token) in stored


def test_disabling_or_changing_scope_kills_existing_tokens(session, app_client, worker):
    from geo.access.principal import Principal

    client = app_client()
    auth = bearer(session, worker)
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
    accounts.update_account(session, Principal.system(), "t-login", cells=["230717001001002"])
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401
    auth = bearer(session, worker)
    assert client.get("/api/v1/auth/me", headers=auth).json()["scope"]["cells"] == [
        "230717001001002"
    ]
    accounts.update_account(session, Principal.system(), "t-login", is_active=False)
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "t-login", "password": PASSWORD})
    assert r.status_code == 401


def test_repeated_bad_passwords_lock_the_name(session, app_client, worker):
    as_owner(session)  # this test's audit rows only: tests with live servers commit their own
    before = session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
    client = app_client()
    n = security_settings().lockout_threshold
    for _ in range(n):
        r = client.post(
            "/api/v1/auth/token", data={"username": "t-login", "password": "wrong-pw-123"}
        )
        assert r.status_code == 401
        assert r.json()["detail"] == "incorrect name or password"
    r = client.post("/api/v1/auth/token", data={"username": "t-login", "password": PASSWORD})
    assert r.status_code == 429, "even the right password waits out the lockout"
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["retry_after"] == int(r.headers["retry-after"])
    as_owner(session)
    failed = session.scalars(
        select(AuditEvent.outcome).where(
            AuditEvent.action.in_(["auth.login_failed", "auth.locked"]), AuditEvent.seq > before
        )
    ).all()
    assert failed.count("failed") == n and "denied" in failed  # kept although each request failed


def test_unknown_names_lock_too_so_lockout_reveals_nothing(app_client):
    client = app_client()
    for _ in range(security_settings().lockout_threshold):
        client.post("/api/v1/auth/token", data={"username": "nobody-here", "password": "x" * 12})
    r = client.post("/api/v1/auth/token", data={"username": "nobody-here", "password": "x" * 12})
    assert r.status_code == 429


def test_lock_expires_and_admin_unlock(session, worker):
    from geo.access.principal import Principal
    from geo.accounts import login
    from geo.core.errors import RateLimited, Unauthorized

    s = security_settings()
    t0 = datetime.now(UTC)
    for _ in range(s.lockout_threshold):
        with pytest.raises(Unauthorized):
            login.authenticate(session, "t-login", "wrong-pw-123", now=t0)
    with pytest.raises(RateLimited):
        login.authenticate(session, "t-login", PASSWORD, now=t0 + timedelta(minutes=1))
    later = t0 + timedelta(minutes=s.lockout_minutes, seconds=1)
    assert login.authenticate(session, "t-login", PASSWORD, now=later).access_token
    for _ in range(s.lockout_threshold):
        with pytest.raises(Unauthorized):
            login.authenticate(session, "t-login", "wrong-pw-123", now=later)
    accounts.unlock(session, Principal.system(), "t-login")
    assert login.authenticate(session, "t-login", PASSWORD, now=later).access_token


def test_password_policy_and_change(session, app_client, worker):
    client = app_client()
    auth = bearer(session, worker)
    r = client.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert r.status_code == 422 and "at least 10" in r.json()["detail"]
    r = client.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": "nope-nope-nope", "new_password": "Another-Pw-2026"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": "Another-Pw-2026"},
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401  # sessions ended
    r = client.post(
        "/api/v1/auth/token", data={"username": "t-login", "password": "Another-Pw-2026"}
    )
    assert r.status_code == 200


def test_api_keys_authenticate_channels_rotate_and_revoke(session, app_client):
    client = app_client()
    rider = add_account(session, "t-rider", Role.channel)
    key = apikeys.create_key(session, rider)
    assert key.startswith("hn_") and key not in str(
        session.scalars(
            select(__import__("geo.accounts.models", fromlist=["ApiKey"]).ApiKey.key_hash)
        ).all()
    )
    me = client.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json() == {
        "name": "t-rider",
        "role": "channel",
        "role_label": "上报渠道",
        "scope": {"channel": "delivery_rider"},
        "via": "api_key",
    }
    new = apikeys.rotate(session, rider)
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": new}).status_code == 200
    wrong_secret = new[:12] + ("A" if new[12] != "A" else "B") + new[13:]
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": wrong_secret}).status_code == 401
    apikeys.revoke_all(session, rider)
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": new}).status_code == 401
    pair = tokens.start_session(session, rider)
    both = {"X-API-Key": new, "Authorization": f"Bearer {pair.access_token}"}
    assert client.get("/api/v1/auth/me", headers=both).status_code == 401


def test_api_key_rotation_with_grace(session):
    rider = add_account(session, "t-rider2", Role.channel)
    t0 = datetime.now(UTC)
    old = apikeys.create_key(session, rider, now=t0)
    new = apikeys.rotate(session, rider, grace=timedelta(hours=2), now=t0)
    assert (
        apikeys.principal_from_api_key(session, old, now=t0 + timedelta(hours=1)).role == "channel"
    )
    assert (
        apikeys.principal_from_api_key(session, new, now=t0 + timedelta(hours=3)).role == "channel"
    )
    from geo.core.errors import Unauthorized

    with pytest.raises(Unauthorized):
        apikeys.principal_from_api_key(session, old, now=t0 + timedelta(hours=3))


def test_only_channel_accounts_get_api_keys(session):
    from geo.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="only channel accounts"):
        apikeys.create_key(session, add_account(session, "t-noapi", Role.dispatcher))


def test_password_hashes_are_argon2id(session, worker):
    stored = session.scalar(select(Account.password_hash).where(Account.id == worker.id))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.fixture
def rotate(monkeypatch):
    """rotate(secret, previous): restart-equivalent of new HOUNIAO_SECRET_KEY and
    HOUNIAO_PREVIOUS_SECRET_KEYS (the settings are read again)."""

    def apply(secret: str, previous: list[str]) -> None:
        monkeypatch.setenv("HOUNIAO_SECRET_KEY", secret)
        monkeypatch.setenv("HOUNIAO_PREVIOUS_SECRET_KEYS", json.dumps(previous))
        security_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    security_settings.cache_clear()


def test_secret_key_rotation_signs_nobody_out(session, app_client, worker, rotate):
    import secrets

    old_key = security_settings().secret_key
    before = tokens.start_session(session, worker).access_token
    assert jwt.get_unverified_header(before)["kid"] == tokens.key_id(old_key)
    # A token from before kids existed (no kid header) is tried against every accepted key.
    legacy = jwt.encode(_claims(session, worker), old_key, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(legacy)
    client = app_client()

    new_key = secrets.token_urlsafe(32)
    rotate(new_key, [old_key])  # step 1: sign with the new key, still accept the old one
    after = tokens.start_session(session, worker).access_token
    assert (
        jwt.get_unverified_header(after)["kid"] == tokens.key_id(new_key) != tokens.key_id(old_key)
    )
    jwt.decode(after, new_key, algorithms=["HS256"], audience=tokens.AUDIENCE)
    for token in (before, legacy, after):
        assert _me(client, token).status_code == 200
    # A kid we never issued, or the right kid with another key's signature: 401.
    forged = jwt.encode(_claims(session, worker), secrets.token_urlsafe(32), algorithm="HS256")
    wrong = jwt.encode(
        _claims(session, worker),
        "x" * 40,
        algorithm="HS256",
        headers={"kid": tokens.key_id(new_key)},
    )
    stranger = jwt.encode(
        _claims(session, worker), "x" * 40, algorithm="HS256", headers={"kid": "0" * 12}
    )
    for token in (forged, wrong, stranger):
        assert _me(client, token).status_code == 401

    rotate(new_key, [])  # step 2, after the access-token lifetime: the old key is retired
    assert _me(client, before).status_code == 401
    assert _me(client, legacy).status_code == 401
    assert _me(client, after).status_code == 200


def test_csrf_tokens_of_pages_served_before_a_rotation_still_verify(rotate):
    import hmac
    import secrets

    from api import csrf

    old_key = security_settings().secret_key
    page_token = csrf.token_for_session("sid-1")
    rotate(secrets.token_urlsafe(32), [old_key])
    assert csrf.token_for_session("sid-1") != page_token  # new pages get the new key's token
    accepted = [csrf.token_for_session("sid-1", k) for k in tokens.verification_keys()]
    assert any(hmac.compare_digest(page_token, t) for t in accepted)


def _settings(session) -> dict[str, str]:
    from geo.access.principal import SETTINGS

    return {k: session.scalar(select(func.current_setting(f"houniao.{k}", True))) for k in SETTINGS}


@pytest.mark.parametrize("role", [r for r in Role if r != Role.admin])
def test_a_token_sets_its_principals_rls_settings_in_the_checking_statement(session, role):
    """The request path checks a token and sets the row-level-security settings in one statement
    (SQL over the account row): exactly what `rls_settings` gives for the principal, and nothing
    at all for a token that no longer holds."""
    from geo.access.principal import Principal, apply_rls, rls_settings

    account = add_account(session, f"t-rls-{role.value}", role)
    token = tokens.start_session(session, account).access_token
    me = tokens.principal_from_access_token(session, token, with_rls=True)
    assert me == tokens.principal_from_access_token(session, token)
    assert _settings(session) == rls_settings(me)

    apply_rls(session, Principal.anonymous())
    before = _settings(session)
    tokens.revoke_all_sessions(session, account, reason="test")
    with pytest.raises(Unauthorized):
        tokens.principal_from_access_token(session, token, with_rls=True)
    assert _settings(session) == before
