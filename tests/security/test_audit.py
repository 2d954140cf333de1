"""The audit log: chained, append-only, admin-readable only; tampering is detected."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import audit as audit_cli
from api.cli.main import app as cli
from geo.access.principal import Principal, Role, apply_rls
from geo.accounts import service as accounts
from geo.audit import service as audit
from geo.audit.chain import GENESIS, row_hash
from geo.audit.models import AuditEvent
from geo.privacy import crypto
from tests.security.conftest import APP_ROLE, add_account, as_app_role, bearer, principal

ADMIN = Principal(role="admin", name="t-auditor", account_id=None, client_addr="10.0.0.1")


def _write(session: Session, n: int, action: str = "test.event") -> None:
    for i in range(n):
        audit.record(
            session,
            ADMIN,
            action,
            object_type="thing",
            object_ids=[i],
            detail={"i": i, "note": f"电话 13812345678 #{i}"},
        )
    session.commit()


def _run_cli(monkeypatch, session, *args: str):
    @contextmanager
    def scope():
        yield session
        session.commit()

    monkeypatch.setattr(audit_cli, "open_session", scope)
    return CliRunner().invoke(cli, ["audit", *args])


def test_rows_are_chained_and_verify(session):
    _write(session, 3)
    rows = session.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq)).mappings().all()
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS
    for r in rows:
        assert r["prev_hash"] == prev and r["row_hash"] == row_hash(prev, dict(r))
        prev = r["row_hash"]
    assert audit.verify(session).ok
    assert "13812345678" not in str(rows[-1]["detail"])  # numbers in details are masked


def test_events_commit_with_the_transaction_and_vanish_on_rollback(session):
    before = audit.count(session)
    audit.record(session, ADMIN, "test.rolled_back")
    session.rollback()
    audit.record(session, ADMIN, "test.kept")
    assert audit.count(session) == before  # queued until commit
    session.commit()
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.seq > before)).all()
    assert actions == ["test.kept"]


def test_edited_row_is_detected_by_cli(session, monkeypatch):
    _write(session, 4)
    target = session.scalar(select(func.max(AuditEvent.seq))) - 2
    session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
    session.execute(text("UPDATE audit_event SET outcome = 'denied' WHERE seq = :s"), {"s": target})
    session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change"))
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == target and "edited" in report.problem
    result = _run_cli(monkeypatch, session, "verify")
    assert result.exit_code == 1
    assert f"broken at seq {target}" in result.output


def test_removed_row_is_detected(session, monkeypatch):
    _write(session, 4)
    target = session.scalar(select(func.max(AuditEvent.seq))) - 1
    session.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
    session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": target})
    session.execute(text("SET LOCAL session_replication_role = origin"))
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == target and "missing" in report.problem
    assert _run_cli(monkeypatch, session, "verify").exit_code == 1


def test_rewritten_chain_is_caught_by_a_published_anchor(session, monkeypatch):
    _write(session, 3)
    seq, digest = audit.head(session)
    # An owner deletes the newest row: the remaining chain is internally consistent...
    session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": seq})
    session.execute(text("SET LOCAL session_replication_role = origin"))
    assert audit.verify(session).ok
    # ... but not with the head published earlier.
    report = audit.verify(session, expect=(seq, digest))
    assert not report.ok and "newest rows removed" in report.problem
    result = _run_cli(monkeypatch, session, "verify", "--expect", f"{seq}:{digest}")
    assert result.exit_code == 1


def test_intact_log_verifies_via_cli(session, monkeypatch):
    _write(session, 2)
    result = _run_cli(monkeypatch, session, "verify")
    assert result.exit_code == 0, result.output
    head = _run_cli(monkeypatch, session, "head")
    seq, digest = head.output.strip().split(":")
    assert int(seq) >= 2 and len(digest) == 64


def test_trigger_refuses_update_delete_truncate_even_for_the_owner(session):
    _write(session, 1)
    for sql in (
        "UPDATE audit_event SET outcome = 'error'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(sql))


def test_insert_that_does_not_extend_the_chain_is_refused(session):
    _write(session, 1)
    seq, digest = audit.head(session)
    row = {
        "seq": seq + 5,
        "at": func.now(),
        "actor_name": "x",
        "actor_role": "admin",
        "action": "forged",
        "object_ids": [],
        "fields": [],
        "outcome": "ok",
        "detail": {},
        "prev_hash": digest,
        "row_hash": "0" * 64,
    }
    with pytest.raises(DBAPIError, match="does not extend the chain"), session.begin_nested():
        session.execute(AuditEvent.__table__.insert().values(row))
    row.update(seq=seq + 1, prev_hash="f" * 64)
    with pytest.raises(DBAPIError, match="does not extend the chain"), session.begin_nested():
        session.execute(AuditEvent.__table__.insert().values(row))


def test_app_role_may_append_but_not_change_and_reads_only_as_admin(session):
    _write(session, 2)
    as_app_role(session)
    assert session.scalar(text("SELECT current_user")) == APP_ROLE
    for sql in (
        "UPDATE audit_event SET outcome = 'error'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        with pytest.raises(DBAPIError, match="permission denied"), session.begin_nested():
            session.execute(text(sql))
    for role in (Role.planner, Role.dispatcher, Role.grid_worker):
        with session.begin_nested():
            apply_rls(session, principal(role))
            audit.record(session, principal(role), "test.append")
            audit.flush(session)  # appends although it cannot read a single row
            assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    session.commit()
    apply_rls(session, principal(Role.admin))
    assert session.scalar(select(func.count()).select_from(AuditEvent)) >= 5
    assert audit.verify(session).ok


def test_concurrent_appends_never_fork_the_chain(engine):
    """Eight connections append at once as the app role; the chain stays one line."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with Session(engine) as s:
                s.execute(text(f'SET LOCAL ROLE "{APP_ROLE}"'))  # this transaction only
                for j in range(5):
                    audit.record(s, ADMIN, "test.concurrent", object_ids=[f"{i}-{j}"])
                barrier.wait(timeout=30)
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with Session(engine) as s:
        report = audit.verify(s)
        assert report.ok, report
        n = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "test.concurrent")
        )
        assert n >= 40
        assert s.scalar(select(func.count(func.distinct(AuditEvent.prev_hash)))) == report.rows


def test_audit_api_for_admins_filterable(session, app_client, callers):
    admin = next(c for c in callers if c.role == Role.admin and c.own)
    _write(session, 3, action="test.api")
    client = app_client()
    auth = bearer(session, admin.account)
    r = client.get("/api/v1/audit", params={"action": "test.api", "limit": 2}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["action"] for e in body["events"]] == ["test.api", "test.api"]
    assert body["next_before_seq"] == body["events"][-1]["seq"]
    r = client.get("/api/v1/audit", params={"action": "test.", "object_id": "1"}, headers=auth)
    assert [e["object_ids"] for e in r.json()["events"]] == [["1"]]
    r = client.get("/api/v1/audit", params={"outcome": "nonsense"}, headers=auth)
    assert r.status_code == 422
    r = client.get("/api/v1/audit", params={"action": "audit.read"}, headers=auth)
    assert r.json()["events"], "reading the log is itself logged"
    assert client.get("/api/v1/audit/verify", headers=auth).json()["ok"] is True
    planner = next(c for c in callers if c.role == Role.planner and c.own)
    r = client.get("/api/v1/audit", headers=bearer(session, planner.account))
    assert r.status_code == 403 and set(r.json()) == {"detail"}
    denied = client.get("/api/v1/audit", params={"action": "access.denied"}, headers=auth)
    assert denied.json()["events"][0]["actor_name"] == planner.account.name


def test_reveal_needs_a_purpose_is_audited_and_admin_only(session, app_client, callers):
    admin = next(c for c in callers if c.role == Role.admin and c.own)
    staff = add_account(session, "t-staff", Role.planner)
    staff.phone_enc = crypto.encrypt("13856785678", context="account.phone")
    staff.id_number_enc = crypto.encrypt("230702199001011233", context="account.id_number")
    client = app_client()
    auth = bearer(session, admin.account)
    shown = client.get("/api/v1/admin/users/t-staff", headers=auth).json()
    assert shown["phone"] == "138****5678" and shown["id_number"] == "230702********1233"
    url = "/api/v1/admin/users/t-staff/reveal"
    assert client.post(url, headers=auth, json={"field": "phone"}).status_code == 422
    r = client.post(url, headers=auth, json={"field": "phone", "purpose": "because"})
    assert r.status_code == 422
    r = client.post(
        url, headers=auth, json={"field": "phone", "purpose": "emergency_contact", "reason": "ok"}
    )
    assert r.status_code == 422  # reason too short
    r = client.post(
        url,
        headers=auth,
        json={
            "field": "id_number",
            "purpose": "identity_check",
            "reason": "实名核验 account audit",
        },
    )
    assert r.status_code == 200 and r.json()["value"] == "230702199001011233"
    events = client.get("/api/v1/audit", params={"action": "account.reveal"}, headers=auth)
    event = events.json()["events"][0]
    assert event["fields"] == ["id_number"] and event["object_ids"] == [str(staff.id)]
    assert event["purpose"].startswith("identity_check: 实名核验")
    assert "230702199001011233" not in str(event)
    other = next(c for c in callers if c.role == Role.community_staff and c.own)
    r = client.post(
        url,
        headers=bearer(session, other.account),
        json={"field": "phone", "purpose": "identity_check", "reason": "curious!"},
    )
    assert r.status_code == 403 and "13856785678" not in r.text


def test_permission_changes_are_audited_with_old_and_new(session):
    add_account(session, "t-promote", Role.planner)
    accounts.update_account(session, ADMIN, "t-promote", role="dispatcher")
    session.commit()
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "account.update")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event.detail["changes"]["role"] == ["planner", "dispatcher"]
    assert event.client_addr == "10.0.0.1" and event.actor_name == "t-auditor"
