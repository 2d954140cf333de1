"""Key rotation drill (issue 16): new encryption, HMAC and signing keys while writers write.

The site runs with the development keys (encryption key id A = dev1, HMAC key id "1", signing key
S1). The operator then, as the README's procedure says:

1. restarts the API with encryption keys A + B, B current, HMAC keys "1" + k2, k2 current, and
   signing key S2 with S1 kept for verification (HOUNIAO_PREVIOUS_SECRET_KEYS), writers still
   writing;
2. runs `houniao privacy rotate-keys --batch-size 200`, then `houniao privacy rehash --batch-size
   200`, while they go on writing;
3. restarts the API with B and k2 only (A and "1" retired), S1 still verifying until its tokens
   expire;
4. after the access-token lifetime, retires S1 too.

Then every personal-data value decrypts with B alone, none is left under A, every lookup hash is
k2's, the people filed before the rotation are found again by phone (filing them again makes no
new archive), every acknowledged write is there once, the audit chain verifies, a token from
before the rotation worked through steps 1-3 and a token refreshed after it is signed with S2.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import time

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.access.principal import as_system
from geo.accounts import tokens
from geo.accounts.models import Account
from geo.core.config import (
    DEV_ENCRYPTION_KEY,
    DEV_ENCRYPTION_KEY_ID,
    DEV_HMAC_KEY,
    LEGACY_HMAC_KEY_ID,
    security_settings,
)
from geo.privacy import crypto
from geo.residents.models import Resident
from tests.faults import census
from tests.faults.site import CHANNEL, DISPATCHER, Site
from tests.faults.writers import GIVEN, SURNAMES, Writers

pytestmark = pytest.mark.timeout(180, func_only=True)  # ~90 s on a busy 2-core machine

A = DEV_ENCRYPTION_KEY_ID
B = "k2"
BATCH = 200
SEED = 600  # intake reports (with phones) filed under key A before the drill


def _seed(site: Site, n: int, tag: str = "seed") -> None:
    """`n` intake reports in one batch from the first channel account (the same people for the
    same `n`)."""
    rng = random.Random(16)
    reports = []
    for i in range(n):
        lon, lat = rng.choice(site.template.points)
        reports.append(
            {
                "external_id": f"{tag}-{i}",
                "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
                "phone": f"13{rng.randrange(10**9):09d}",
                "birth_year": rng.randrange(1945, 1962),
                "origin": "上海",
                "lon": lon + rng.uniform(-1e-4, 1e-4),
                "lat": lat + rng.uniform(-1e-4, 1e-4),
            }
        )
    r = httpx.post(
        site.base + "/api/v1/intake/reports",
        json={"channel": CHANNEL, "crs": "wgs84", "reports": reports},
        headers={"X-API-Key": site.template.api_keys[0]},
        timeout=60,
    )
    assert r.is_success, r.text[:500]


def _pair(site: Site) -> tokens.TokenPair:
    """A login of the dispatcher, signed by this process's (the old) key."""
    engine = site.engine()
    try:
        with Session(engine) as session:
            account = session.scalars(select(Account).where(Account.name == DISPATCHER)).one()
            pair = tokens.start_session(session, account)
            session.commit()
    finally:
        engine.dispose()
    return pair


def _me(base: str, access: str) -> int:
    headers = {"Authorization": f"Bearer {access}"}
    return httpx.get(base + "/api/v1/auth/me", headers=headers, timeout=10).status_code


def _restart(site: Site, **env: str) -> float:
    """Stop the API and start it again on the same port with `env`; seconds it was away."""
    old = site.servers[0]
    port = int(old.base.rsplit(":", 1)[1])
    start = time.monotonic()
    old.stop()
    site.servers[0] = site.serve(port=port, **env)
    site.servers.pop()  # serve() appended it too
    return time.monotonic() - start


def _hashes_and_residents(site: Site) -> tuple[dict[str, dict[str, int]], int]:
    """Per lookup-hash column: counts by HMAC key id; and the number of archives."""
    engine = site.engine()
    try:
        with Session(engine) as session:
            as_system(session)
            by_key = crypto.count_hashes_by_key(session)
            archives = session.scalar(select(func.count()).select_from(Resident)) or 0
    finally:
        engine.dispose()
    return by_key, int(archives)


def _values(site: Site) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """Per encrypted column: counts by key id, and every value."""
    engine = site.engine()
    try:
        with Session(engine) as session:
            as_system(session)
            by_key = crypto.count_by_key(session)
            values = {
                enc.label: list(session.scalars(select(enc.column).where(enc.column.is_not(None))))
                for enc in crypto.registered()
            }
    finally:
        engine.dispose()
    return by_key, values


def test_key_rotation_under_writes_loses_nothing_and_signs_nobody_out(site: Site) -> None:
    t0 = time.monotonic()
    old_secret = security_settings().secret_key
    key_b = base64.b64encode(os.urandom(32)).decode()
    hmac_b = secrets.token_urlsafe(32)
    new_secret = secrets.token_urlsafe(32)
    both = {
        "HOUNIAO_ENCRYPTION_KEYS": json.dumps({A: DEV_ENCRYPTION_KEY, B: key_b}),
        "HOUNIAO_ENCRYPTION_KEY_ID": B,
        "HOUNIAO_HMAC_KEYS": json.dumps({LEGACY_HMAC_KEY_ID: DEV_HMAC_KEY, B: hmac_b}),
        "HOUNIAO_HMAC_KEY_ID": B,
        "HOUNIAO_SECRET_KEY": new_secret,
        "HOUNIAO_PREVIOUS_SECRET_KEYS": json.dumps([old_secret]),
    }
    b_only = {
        **both,
        "HOUNIAO_ENCRYPTION_KEYS": json.dumps({B: key_b}),
        "HOUNIAO_HMAC_KEYS": json.dumps({B: hmac_b}),
    }
    signed_b_only = {**b_only, "HOUNIAO_PREVIOUS_SECRET_KEYS": "[]"}

    _seed(site, SEED)  # personal data under A: the demo holds none
    before_counts, _ = _values(site)
    assert sum(before_counts["intake_report.phone_enc"].values()) >= SEED > 2 * BATCH
    assert all(set(c) <= {A} for c in before_counts.values()), before_counts
    hashes_before, _ = _hashes_and_residents(site)
    assert all(set(c) <= {LEGACY_HMAC_KEY_ID} for c in hashes_before.values()), hashes_before
    login = _pair(site)  # a dispatcher signed in before the rotation
    assert _me(site.base, login.access_token) == 200

    writers = Writers(site.base, site.template.api_keys, site.template.points)
    with writers:
        writers.wait_acknowledged(2)
        # 1. Key B added and current; the new signing key, the old one still verifying.
        away_1 = _restart(site, **both)
        restarted = time.monotonic()
        writers.wait_answer(restarted, success=True, timeout=30)
        assert _me(site.base, login.access_token) == 200  # nobody signed out
        # 2. Re-encryption in batches while the writers go on.
        started = time.monotonic()
        run = site.houniao("privacy", "rotate-keys", "--batch-size", str(BATCH), env=both)
        rekey_seconds = time.monotonic() - started
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        during_rekey = writers.statuses(started, started + rekey_seconds)
        # A second run (resuming) has nothing left to do.
        again = json.loads(
            site.houniao("privacy", "rotate-keys", "--batch-size", str(BATCH), env=both).stdout
        )
        # The lookup hashes: recomputed under k2 while the writers go on.
        started_hash = time.monotonic()
        run = site.houniao("privacy", "rehash", "--batch-size", str(BATCH), env=both)
        rehash_seconds = time.monotonic() - started_hash
        assert run.returncode == 0, run.stderr
        rehashed = json.loads(run.stdout)
        during_rehash = writers.statuses(started_hash, started_hash + rehash_seconds)
        # 3. Key A retired.
        away_2 = _restart(site, **b_only)
        retired = time.monotonic()
        writers.wait_answer(retired, success=True, timeout=30)
        time.sleep(1.0)

    def acknowledged(start: float, end: float = float("inf")) -> int:
        return sum(n for status, n in writers.statuses(start, end).items() if 200 <= status < 300)

    per_phase = {
        "key A": acknowledged(0, restarted),
        "keys A+B": acknowledged(restarted, retired),
        "key B": acknowledged(retired),
    }

    # A token from before the rotation still works with A retired (S1 verifies until it expires);
    # refreshing it gives a token signed with the new key.
    assert _me(site.base, login.access_token) == 200
    refreshed = httpx.post(
        site.base + "/api/v1/auth/refresh", json={"refresh_token": login.refresh_token}, timeout=10
    )
    assert refreshed.status_code == 200, refreshed.text
    new_access = refreshed.json()["access_token"]
    assert jwt.get_unverified_header(new_access)["kid"] == tokens.key_id(new_secret)
    assert jwt.get_unverified_header(login.access_token)["kid"] == tokens.key_id(old_secret)
    assert _me(site.base, new_access) == 200

    # Every personal-data value is under B and decrypts with B alone; nothing was lost.
    after_counts, values = _values(site)
    ring_b = crypto.Keyring({B: base64.b64decode(key_b)}, B)
    contexts = {enc.label: enc.context for enc in crypto.registered()}
    decrypted = 0
    for label, tokens_ in values.items():
        for token in tokens_:
            crypto.decrypt(token, context=contexts[label], keyring=ring_b)
            decrypted += 1
    assert all(set(c) <= {B} for c in after_counts.values()), after_counts
    for label, counts in before_counts.items():
        assert sum(after_counts[label].values()) >= sum(counts.values()), label
    rekeyed = sum(report["re_encrypted"].values())
    assert rekeyed >= sum(sum(c.values()) for c in before_counts.values())
    assert sum(again["re_encrypted"].values()) == 0
    assert set(report["re_encrypted"]) == set(after_counts)  # the CLI saw every column
    assert all(set(c) <= {B} for c in report["by_key"].values()), report["by_key"]

    found = census.take(site.cluster, writers.ledgers)
    unexpected = [u for g in writers.ledgers for u in g.unexpected]
    assert not unexpected, unexpected[:5]
    assert found.found == found.acknowledged, found.lost
    assert not found.doubled, found.doubled
    assert not any(found.half_written.values()), found.half_written
    assert set(during_rekey) <= {200, 201}, during_rekey  # the API kept serving
    assert sum(during_rekey.values()) > 0
    audit = site.houniao("audit", "verify", env=b_only)
    assert audit.returncode == 0, audit.stdout + audit.stderr

    # Every lookup hash is k2's; the people filed under "1" are found again by phone.
    hashes_after, archives = _hashes_and_residents(site)
    assert all(set(c) <= {B} for c in hashes_after.values()), hashes_after
    assert all(set(c) <= {B} for c in rehashed["by_key"].values()), rehashed["by_key"]
    moved = sum(sum(c.values()) for c in rehashed["rehashed"].values())
    assert rehashed["rehashed"]["intake_report.phone_hash"][LEGACY_HMAC_KEY_ID] >= SEED
    assert set(during_rehash) <= {200, 201}, during_rehash
    _seed(site, SEED, tag="again")  # the same people, under k2 alone
    assert _hashes_and_residents(site)[1] == archives  # every one linked to its archive

    # 4. After the access-token lifetime: the old signing key retired too.
    _restart(site, **signed_b_only)
    assert _me(site.base, login.access_token) == 401
    assert _me(site.base, new_access) == 200

    print(
        "\nkey rotation drill:",
        json.dumps(
            {
                "rekeyed": rekeyed,
                "rekeyed_per_column": report["re_encrypted"],
                "batch_size": BATCH,
                "rekey_s": round(rekey_seconds, 2),
                "rehashed": moved,
                "rehashed_per_column": {
                    c: sum(n.values()) for c, n in rehashed["rehashed"].items() if n
                },
                "rehash_s": round(rehash_seconds, 2),
                "writes_during_rehash": sum(during_rehash.values()),
                "writes_during_rekey": sum(during_rekey.values()),
                "api_away_s": [round(away_1, 2), round(away_2, 2)],
                "acknowledged": found.acknowledged,
                "found": found.found,
                "acknowledged_per_phase": per_phase,
                "decrypted_with_b": decrypted,
                "total_s": round(time.monotonic() - t0, 1),
            },
            ensure_ascii=False,
        ),
    )
