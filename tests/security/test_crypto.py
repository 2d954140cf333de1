"""Encryption at rest: round trip, context binding, tampering, key rotation; lookup hashes."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from geo.accounts.models import Account
from geo.privacy import crypto
from geo.privacy.crypto import DecryptionError, Keyring

OLD, NEW = os.urandom(32), os.urandom(32)


def test_round_trip_and_fresh_nonce():
    ring = Keyring({"k1": OLD}, "k1")
    a = crypto.encrypt("13812345678", context="resident.phone", keyring=ring)
    b = crypto.encrypt("13812345678", context="resident.phone", keyring=ring)
    assert a != b  # random nonce: equal values do not look equal at rest
    assert "13812345678" not in a
    assert crypto.decrypt(a, context="resident.phone", keyring=ring) == "13812345678"
    assert crypto.key_id(a) == "k1"


def test_context_binds_the_ciphertext_to_its_field():
    ring = Keyring({"k1": OLD}, "k1")
    token = crypto.encrypt("230702199001011233", context="resident.id_number", keyring=ring)
    with pytest.raises(DecryptionError, match="does not authenticate"):
        crypto.decrypt(token, context="resident.phone", keyring=ring)


def test_tampering_is_detected():
    ring = Keyring({"k1": OLD}, "k1")
    token = crypto.encrypt("13812345678", context="c", keyring=ring)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        crypto.decrypt(flipped, context="c", keyring=ring)
    with pytest.raises(DecryptionError, match="not a houniao ciphertext"):
        crypto.decrypt("13812345678", context="c", keyring=ring)


def test_key_rotation_old_key_still_decrypts_new_writes_use_new_key():
    before = Keyring({"2025": OLD}, "2025")
    after = Keyring({"2025": OLD, "2026": NEW}, "2026")
    old_token = crypto.encrypt("13812345678", context="c", keyring=before)
    assert crypto.decrypt(old_token, context="c", keyring=after) == "13812345678"
    new_token = crypto.encrypt("13812345678", context="c", keyring=after)
    assert crypto.key_id(new_token) == "2026"
    assert crypto.needs_rekey(old_token, after) and not crypto.needs_rekey(new_token, after)
    rekeyed = crypto.rekey(old_token, context="c", keyring=after)
    assert crypto.key_id(rekeyed) == "2026"
    gone = Keyring({"2026": NEW}, "2026")  # the old key removed after rotate-keys
    assert crypto.decrypt(rekeyed, context="c", keyring=gone) == "13812345678"
    with pytest.raises(DecryptionError, match="no longer configured"):
        crypto.decrypt(old_token, context="c", keyring=gone)


def test_rekey_columns_re_encrypts_registered_columns(session):
    before = Keyring({"2025": OLD}, "2025")
    after = Keyring({"2025": OLD, "2026": NEW}, "2026")
    account = Account(
        name="t-rekey",
        role="planner",
        display_name="",
        phone_enc=crypto.encrypt("13812345678", context="account.phone", keyring=before),
    )
    session.add(account)
    session.flush()
    dry = crypto.rekey_columns(session, dry_run=True, keyring=after)
    assert dry["account.phone_enc"] >= 1
    crypto.rekey_columns(session, keyring=after)
    token = session.scalar(select(Account.phone_enc).where(Account.name == "t-rekey"))
    assert crypto.key_id(token) == "2026"
    assert crypto.decrypt(token, context="account.phone", keyring=after) == "13812345678"
    assert crypto.rekey_columns(session, dry_run=True, keyring=after)["account.phone_enc"] == 0


def test_rekey_in_batches_commits_per_batch_and_resumes(session):
    before = Keyring({"2025": OLD}, "2025")
    after = Keyring({"2025": OLD, "2026": NEW}, "2026")
    for i in range(5):
        session.add(
            Account(
                name=f"t-batch-{i}",
                role="planner",
                display_name="",
                phone_enc=crypto.encrypt(f"1381234567{i}", context="account.phone", keyring=before),
            )
        )
    session.flush()
    dry = crypto.rekey_in_batches(session, dry_run=True, keyring=after)
    assert dry["account.phone_enc"] == 5

    class Interrupted(Exception):
        pass

    seen: list[tuple[str, int]] = []

    def stop_after_first_batch(column: str, done: int) -> None:
        seen.append((column, done))
        raise Interrupted  # the operator's Ctrl-C, a lost connection...

    with pytest.raises(Interrupted):
        crypto.rekey_in_batches(
            session, batch_size=2, keyring=after, progress=stop_after_first_batch
        )
    assert seen == [("account.phone_enc", 2)]  # the first batch is committed
    assert crypto.count_by_key(session)["account.phone_enc"] == {"2025": 3, "2026": 2}
    progress: list[int] = []
    resumed = crypto.rekey_in_batches(
        session, batch_size=2, keyring=after, progress=lambda c, n: progress.append(n)
    )
    assert resumed["account.phone_enc"] == 3 and progress[:2] == [2, 3]  # the rest only
    assert crypto.count_by_key(session)["account.phone_enc"] == {"2026": 5}
    phones = session.scalars(select(Account.phone_enc).where(Account.name.like("t-batch-%")))
    assert sorted(crypto.decrypt(t, context="account.phone", keyring=after) for t in phones) == [
        f"1381234567{i}" for i in range(5)
    ]
    with pytest.raises(ValueError, match="batch size"):
        crypto.rekey_in_batches(session, batch_size=0, keyring=after)


def test_lookup_hash_is_keyed_and_stable():
    h = crypto.lookup_hash("13812345678", kind="phone")
    assert h == crypto.lookup_hash("13812345678", kind="phone") and len(h) == 64
    assert h != crypto.lookup_hash("13812345678", kind="id_number")  # kinds never collide
    assert h != crypto.lookup_hash("13812345678", kind="phone", key="another-key")


def test_keyring_refuses_bad_keys():
    with pytest.raises(ValueError):
        Keyring({"k": b"short"}, "k")
    with pytest.raises(ValueError):
        Keyring({"k": OLD}, "missing")
