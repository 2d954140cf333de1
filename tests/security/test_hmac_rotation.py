"""HMAC key rotation (issue 16): lookup hashes carry their key id, lookups during a rotation
compare under every configured key, `rehash_in_batches` moves stored hashes to the current key.
In-process, on the test's rolled-back session; the concurrent drill is
tests/residents/intake/test_hmac_rotation.py, the served one tests/faults/test_key_rotation.py."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from geo.access.principal import Principal
from geo.accounts import service as accounts
from geo.accounts.models import Account
from geo.core.config import DEV_HMAC_KEY, SecuritySettings
from geo.core.errors import Conflict
from geo.privacy import crypto
from geo.residents.archive.store import ArchiveWriter
from geo.residents.models import Resident
from tests.hmac_keys import A_AND_B, B_ONLY, KEY_B, A, B
from tests.residents.conftest import CELL, point_in, take_in
from tests.residents.ids import id_number

PHONE = "13812345678"
ADMIN = Principal.system("test-hmac")


def test_key_1_hashes_are_bare_and_unchanged_others_carry_their_id(use_keys):
    bare = crypto.lookup_hash(PHONE, kind="phone")
    assert bare == crypto.lookup_hash(PHONE, kind="phone", key=DEV_HMAC_KEY)  # as before ids
    assert len(bare) == 64 and crypto.hash_key_id(bare) == A
    use_keys(A_AND_B, B)
    new = crypto.lookup_hash(PHONE, kind="phone")
    assert new.startswith("k2:") and len(new) == crypto.HASH_WIDTH
    assert new[3:] == crypto.lookup_hash(PHONE, kind="phone", key=KEY_B)[:61]
    assert crypto.hash_key_id(new) == B and crypto.is_current_hash(new)
    assert not crypto.is_current_hash(bare)
    assert crypto.lookup_hashes(PHONE, kind="phone") == [new, bare]  # current first
    token = crypto.encrypt(PHONE, context="resident.phone")
    assert crypto.current_hash(bare, kind="phone", ciphertext=token, context="resident.phone") == (
        new
    )
    assert crypto.current_hash(new, kind="phone", ciphertext=None, context="x") == new
    use_keys(B_ONLY, B)
    assert crypto.lookup_hashes(PHONE, kind="phone") == [new]


def _settings(**kw: object) -> SecuritySettings:
    return SecuritySettings(**kw)  # type: ignore[arg-type]


def test_hmac_key_settings():
    real = "h" * 20 + os.urandom(16).hex()
    both = _settings(hmac_key=real, hmac_keys={B: KEY_B}, hmac_key_id=B)
    assert both.hmac_keyring == {A: real, B: KEY_B} and both.hmac_active_id == B
    assert _settings(hmac_key=real).hmac_keyring == {A: real}  # the single key is id "1"
    assert _settings().hmac_keyring == {A: DEV_HMAC_KEY} and _settings().hmac_active_id == A
    for kw, problem in [
        ({"hmac_keys": A_AND_B}, "must name the current key"),
        ({"hmac_keys": A_AND_B, "hmac_key_id": "k3"}, "not among the key ids"),
        ({"hmac_keys": {"way-too-long": KEY_B}, "hmac_key_id": "way-too-long"}, "1-8 letters"),
        ({"hmac_keys": {"a:b": KEY_B}, "hmac_key_id": "a:b"}, "1-8 letters"),
        ({"hmac_key": real, "hmac_keys": {A: KEY_B}}, 'gives id "1" another key'),
        ({"hmac_keys": {B: "x" * 40}, "hmac_key_id": B}, r"HOUNIAO_HMAC_KEYS\['k2'\] is not"),
    ]:
        with pytest.raises(ValueError, match=problem):
            _settings(**kw)
    production = {
        "env": "production",
        "secret_key": "s" * 20 + os.urandom(16).hex(),
        "encryption_keys": {"2026a": "9Xk1J0t0b3Zr0m5sYq6V8wq0cQ1cX3h2y7n4u5v6w7A="},
        "encryption_key_id": "2026a",
    }
    with pytest.raises(ValueError, match="HOUNIAO_HMAC_KEY"):  # the development key as id "1"
        _settings(**production, hmac_keys=A_AND_B, hmac_key_id=B)
    assert _settings(**production, hmac_keys=B_ONLY).hmac_active_id == B


def test_rehash_in_batches_moves_every_hash_and_resumes(session, use_keys):
    for i in range(5):
        _account_with(session, f"t-hmac-{i}", f"1391234567{i}")
    session.flush()
    use_keys(A_AND_B, B)
    # During the rotation a phone hashed under A still counts as taken.
    with pytest.raises(Conflict, match="phone"):
        _account_with(session, "t-hmac-dup", "13912345670")
    dry = crypto.rehash_in_batches(session, dry_run=True)
    assert dry["account.phone_hash"].get(A, 0) >= 5 and B not in dry["account.phone_hash"]

    class Interrupted(Exception):
        pass

    def stop(column: str, done: int) -> None:
        if column == "account.phone_hash":
            raise Interrupted  # the operator's Ctrl-C after the first batch

    with pytest.raises(Interrupted):
        crypto.rehash_in_batches(session, batch_size=2, progress=stop)
    assert crypto.count_hashes_by_key(session)["account.phone_hash"][B] == 2
    done = crypto.rehash_in_batches(session, batch_size=2)
    assert done["account.phone_hash"][A] == dry["account.phone_hash"][A] - 2
    by_key = crypto.count_hashes_by_key(session)
    assert all(set(per) <= {B} for per in by_key.values()), by_key
    again = crypto.rehash_in_batches(session, batch_size=2)
    assert not any(again.values()), again  # idempotent: nothing left to do
    # A retired: the stored hashes are B's, and the phone is still taken.
    use_keys(B_ONLY, B)
    with pytest.raises(Conflict, match="phone"):
        _account_with(session, "t-hmac-dup", "13912345670")
    hashes = session.scalars(select(Account.phone_hash).where(Account.name.like("t-hmac-%")))
    assert sorted(hashes) == sorted(
        crypto.lookup_hash(f"1391234567{i}", kind="phone") for i in range(5)
    )
    with pytest.raises(ValueError, match="batch size"):
        crypto.rehash_in_batches(session, batch_size=0)


def _account_with(session, name: str, phone: str) -> None:
    accounts.create_account(session, ADMIN, name=name, role="planner", phone=phone)


def test_intake_links_to_an_archive_hashed_under_either_key(session, use_keys):
    lon, lat = point_in(session, CELL)
    number = id_number("230717", "19560101", 123)
    first = {"name": "欧阳秀英", "id_number": number, "phone": PHONE, "lon": lon, "lat": lat}
    (seeded,) = take_in(session, "police", [first], crs="wgs84")
    assert seeded.decision == "new", seeded.reject_reason
    rid = seeded.resident_id
    old_id_hash = crypto.lookup_hash(number, kind="id_number")
    use_keys(A_AND_B, B)
    # Found by the ID number's hash under A (nothing else would find it: no name, no phone).
    assert ArchiveWriter(session).residents_by_keys({("id", old_id_hash)}) == {rid}
    (by_id,) = take_in(
        session, "police", [{"id_number": number, "lon": lon, "lat": lat}], crs="wgs84"
    )
    assert (by_id.decision, by_id.resident_id) == ("linked", rid)
    # The archive is rewritten with B's hashes; the phone still agrees with A's report.
    resident = session.get(Resident, rid)
    session.refresh(resident)
    assert crypto.hash_key_id(resident.id_number_hash or "") == B
    (by_phone,) = take_in(
        session, "merchant", [{"name": "欧阳秀英", "phone": PHONE, **_at(lon, lat)}], crs="wgs84"
    )
    assert (by_phone.decision, by_phone.resident_id) == ("linked", rid)
    crypto.rehash_in_batches(session, batch_size=1)
    use_keys(B_ONLY, B)  # A retired after the rehash
    (after,) = take_in(
        session, "police", [{"id_number": number, "lon": lon, "lat": lat}], crs="wgs84"
    )
    assert (after.decision, after.resident_id) == ("linked", rid)
    assert session.scalar(select(Resident.phone_hash).where(Resident.id == rid)) == (
        crypto.lookup_hash(PHONE, kind="phone")
    )


def _at(lon: float, lat: float) -> dict[str, float]:
    return {"lon": lon, "lat": lat}
