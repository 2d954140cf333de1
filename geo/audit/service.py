"""Record, search and verify the audit log.

``record(session, me, action, ...)`` queues an event on the session; it is written, chained and
committed with the session's own transaction (a `before_commit` hook), so an audited change and
its audit row commit or roll back together, and the chain's lock is held only for the moment
before COMMIT (no deadlock with row locks taken earlier in the transaction). Events queued in a
transaction that rolls back are dropped, unless the failing error has `keep_writes`
(failed logins, lockouts, denied access: see geo/core/errors.py), in which case the request commits.

Actions are dotted names: ``auth.login``, ``auth.login_failed``, ``account.update``,
``person.reveal``, ``resident.read``, ``case.export``...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.orm import Session, SessionTransaction

from geo.access.principal import Principal
from geo.audit.chain import GENESIS, HASHED_FIELDS, clean_detail, row_hash
from geo.audit.models import OUTCOMES, AuditEvent
from geo.core import lock_waits
from geo.core.errors import InvalidInput

_PENDING = "houniao.audit.pending"
_TABLE = cast(Table, AuditEvent.__table__)


def record(
    session: Session,
    actor: Principal,
    action: str,
    *,
    object_type: str | None = None,
    object_ids: Iterable[Any] = (),
    fields: Iterable[str] = (),
    purpose: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Queue one audit event; it is written when the session commits.

    `fields` names the fields revealed or exported (never their values); `detail` is free JSON
    in which ID and phone numbers are masked anyway.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    values = {
        "at": at or datetime.now(UTC),
        "actor_id": actor.account_id,
        "actor_name": actor.name[:100],
        "actor_role": str(actor.role),
        "action": action,
        "object_type": object_type,
        "object_ids": [str(i) for i in object_ids],
        "fields": sorted({str(f) for f in fields}),
        "purpose": purpose,
        "outcome": outcome,
        "client_addr": actor.client_addr,
        "detail": clean_detail(detail or {}),
    }
    session.info.setdefault(_PENDING, []).append(values)


def flush(session: Session) -> int:
    """Write the queued events now (normally done by the commit hook); returns how many."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return 0
    # audit_chain_head() takes the append lock (held to COMMIT) and returns the current head;
    # it is SECURITY DEFINER, so callers who may not read the log can still extend it.
    with lock_waits.waiting("audit_chain"):
        head = session.execute(text("SELECT seq, row_hash FROM audit_chain_head()")).one()
    seq, prev = head.seq or 0, head.row_hash or GENESIS
    for values in pending:
        seq += 1
        row = {**values, "seq": seq, "prev_hash": prev}
        row["row_hash"] = prev = row_hash(prev, row)
        # One row per statement: the insert trigger checks each row extends the chain.
        session.execute(insert(_TABLE).values(row))
    return len(pending)


def pending(session: Session) -> list[dict[str, Any]]:
    return list(session.info.get(_PENDING, ()))


@event.listens_for(Session, "before_commit")
def _write_on_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        flush(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_PENDING, None)


# --- reading ------------------------------------------------------------------------------------


def search(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[dict[str, Any]]:
    """Events newest first. `action` ending in '.' is a prefix ("auth." = every auth event);
    page with `before_seq` = the last seq of the previous page."""
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
    t = AuditEvent
    stmt = select(AuditEvent.__table__).order_by(t.seq.desc()).limit(limit)
    if actor:
        stmt = stmt.where(t.actor_name == actor)
    if action:
        stmt = stmt.where(
            t.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else t.action == action
        )
    if object_type:
        stmt = stmt.where(t.object_type == object_type)
    if object_id:
        stmt = stmt.where(t.object_ids.contains([object_id]))
    if outcome:
        stmt = stmt.where(t.outcome == outcome)
    if since:
        stmt = stmt.where(t.at >= since)
    if until:
        stmt = stmt.where(t.at < until)
    if before_seq:
        stmt = stmt.where(t.seq < before_seq)
    return [dict(r) for r in session.execute(stmt).mappings()]


def head(session: Session) -> tuple[int, str]:
    """(seq, row_hash) of the newest row; (0, GENESIS) for an empty log. Publish it elsewhere
    now and then: verify --expect SEQ:HASH then also detects removal of the newest rows."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.row_hash) if row else (0, GENESIS)


@dataclass
class VerifyReport:
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(
    session: Session, *, expect: tuple[int, str] | None = None, batch: int = 2000
) -> VerifyReport:
    """Walk the chain from seq 1; report the first row that was edited, removed or inserted.

    `expect` = (seq, hash) published earlier: the chain must still hold that row unchanged.
    """
    cols = [getattr(AuditEvent, f) for f in (*HASHED_FIELDS, "row_hash")]
    result = session.execute(
        select(*cols).order_by(AuditEvent.seq), execution_options={"yield_per": batch}
    )
    prev, expected_seq, rows = GENESIS, 1, 0

    def bad(seq: int, problem: str) -> VerifyReport:
        return VerifyReport(False, rows, expected_seq - 1, prev, seq, problem)

    for r in result.mappings():
        row = dict(r)
        if row["seq"] != expected_seq:
            return bad(expected_seq, f"rows {expected_seq}..{row['seq'] - 1} are missing (removed)")
        if row["prev_hash"] != prev:
            return bad(row["seq"], "prev_hash does not match the previous row (chain broken)")
        if row_hash(prev, row) != row["row_hash"]:
            return bad(row["seq"], "row content does not match its hash (edited)")
        if expect and row["seq"] == expect[0] and row["row_hash"] != expect[1]:
            return bad(row["seq"], "row differs from the expected anchor hash")
        prev, expected_seq, rows = row["row_hash"], expected_seq + 1, rows + 1
    if expect and expect[0] > rows:
        return bad(
            rows + 1,
            f"chain ends at seq {rows}, before the expected anchor {expect[0]}"
            " (newest rows removed)",
        )
    return VerifyReport(True, rows, rows, prev)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def parse_anchor(value: str) -> tuple[int, str]:
    """'SEQ:HASH' as printed by `houniao audit head`."""
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise InvalidInput("anchor must be SEQ:HASH as printed by `houniao audit head`")
    return int(seq), digest


__all__: Sequence[str] = ("record", "flush", "search", "verify", "head", "VerifyReport")
