"""What goes into the intake and what comes out: a submission (who sends), an item (one report
as sent), the place found for it, its outcome, the row stored for it (`report_row`), and reading
reports back (a channel its own, grid workers and staff those placed in their scope)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.access.principal import Channel, Principal, Role, scope_filter
from geo.core.errors import NotFound
from geo.privacy.masking import redact_text
from geo.residents import sensitive
from geo.residents.intake import records
from geo.residents.intake.linkage import Outcome
from geo.residents.models import IntakeReport, Precision
from geo.spatial.crs import Crs


@dataclass(frozen=True)
class Submission:
    """Who sends a batch, and how."""

    channel: Channel
    submitted_by_name: str
    submitted_by: int | None = None  # account id (the channel's own rows are readable by it)
    source: str = "api"  # api | file | demo | staff
    default_crs: Crs | None = None
    filename: str | None = None
    # A person role's reports stay within its scope (geo.residents.intake.routing); None: the
    # system.
    submitter: Principal | None = None
    # Self-registration (channel 'self'): the consent version agreed to, the client's key.
    consent_version: str | None = None
    client_key: str | None = None


@dataclass
class Item:
    """One report to take in: its fields (English keys) and, for files, the row as read."""

    fields: dict[str, Any]
    as_received: dict[str, Any] | None = None
    field_of: dict[str, str] | None = None  # as_received key -> field (default: the same key)
    row_number: int | None = None
    truth: int | None = None  # demo/bench only: the generator's person id
    problems: list[str] = field(default_factory=list)  # found while reading (e.g. a file cell)


@dataclass
class ReportOutcome:
    index: int
    row_number: int | None
    decision: str
    answer: str = "received"  # what a channel is told: received | rejected (its own mistakes)
    external_id: str | None = None
    report_id: int | None = None
    resident_id: int | None = None
    score: float | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    reject_reason: str | None = None
    geocode: dict[str, Any] | None = None
    truth: int | None = None

    def for_submitter(self, *, decided: bool) -> dict[str, Any]:
        """What the submitter is told: never an archive id or a score. A channel (`decided`
        false) learns only that its report was received, or what is wrong with it; a person
        role also learns the decision (new, linked, review), about its own scope."""
        out: dict[str, Any] = {"index": self.index, "report_id": self.report_id}
        if self.external_id is not None:
            out["external_id"] = self.external_id
        if self.row_number is not None:
            out["row"] = self.row_number
        if decided:
            out["decision"] = self.decision
            if self.reject_reason:
                out["reason"] = self.reject_reason
        else:
            out["status"] = self.answer
            if self.answer == "rejected":
                out["reason"] = self.reject_reason
        if self.geocode:
            out["placed"] = {k: self.geocode.get(k) for k in ("method", "match", "cell_code")}
        return out

    def as_dict(self, visible: Callable[[int], bool] | None = None) -> dict[str, Any]:
        """The full outcome (imports). With `visible`, archives show only where
        `visible(resident_id)`: ids, scores and per-field reasons of other scopes' archives
        are left out, and so are a new archive's score and reasons (they compare the report
        with an archive it was found not to be)."""
        show: Callable[[int], bool]
        if visible is None:
            shown, show = True, lambda _: True
        else:
            about = self.resident_id if self.decision == "linked" else None
            if self.decision == "review" and self.candidates:
                about = self.candidates[0]["resident_id"]
            shown, show = about is not None and visible(about), visible
        resident = self.resident_id
        out = {
            "index": self.index,
            "row": self.row_number,
            "report_id": self.report_id,
            "decision": self.decision,
            "resident_id": resident if resident is not None and show(resident) else None,
            "score": None if self.score is None or not shown else round(self.score, 2),
            "reasons": self.reasons if shown else None,
            "candidates": [c for c in self.candidates if show(c["resident_id"])],
            "reason": self.reject_reason,
            "geocode": self.geocode,
        }
        return {k: v for k, v in out.items() if v not in (None, [])}


@dataclass
class Located:
    lon: float | None = None  # WGS84
    lat: float | None = None
    precision: Precision | None = None
    cell_code: str | None = None
    community_code: str | None = None
    street_code: str | None = None
    geocode: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def scope(self) -> dict[str, str | None] | None:
        """The scope columns of the place (None: not placed)."""
        if self.community_code is None:
            return None
        return {
            "cell_code": self.cell_code,
            "community_code": self.community_code,
            "street_code": self.street_code,
        }


def report_row(
    sub: Submission,
    batch_id: int | None,
    received: datetime,
    it: Item,
    n: records.Normalized,
    loc: Located,
    d: Outcome,
    *,
    answer: str = "received",
) -> dict[str, Any]:
    name, idn, phone, origin = n.name, n.id_number, n.phone, n.origin
    return {
        "batch_id": batch_id,
        "row_number": it.row_number,
        "channel": sub.channel.value,
        "submitted_by": sub.submitted_by,
        "submitted_by_name": sub.submitted_by_name,
        "external_id": n.external_id,
        "received_at": received,
        "reported_at": n.reported_at,
        "season": n.season,
        "payload": records.redacted(n.raw, it.field_of),
        "payload_enc": sensitive.encrypt_payload(
            json.dumps(n.raw, ensure_ascii=False, default=str)
        ),
        "name": name.text if name else None,
        "name_key": name.key if name else None,
        "surname_key": name.surname_key if name else None,
        "given_key": name.given_key if name and not name.partial else None,
        "name_partial": name.partial if name else None,
        "sex": n.sex,
        "birth_year": n.birth_year,
        "birth_exact": n.birth_exact if n.birth_year else None,
        "birth_date": n.birth_date,
        "age": n.age,
        "id_number_enc": idn.ciphertext if idn else None,
        "id_number_hash": idn.lookup_hash if idn else None,
        "id_number_masked": n.id_mask,
        "phone_enc": phone.ciphertext if phone else None,
        "phone_hash": phone.lookup_hash if phone else None,
        "phone_masked": n.phone_mask,
        "origin": origin.text if origin else None,
        "origin_province": origin.province if origin else None,
        "origin_city": origin.city if origin else None,
        "occupation": n.occupation,
        "tags": [redact_text(t) for t in n.tags] if n.tags else n.tags,
        "note": redact_text(n.note) if n.note else n.note,
        "address": n.address,
        "crs": n.crs.value if n.crs else None,
        "lon": loc.lon,
        "lat": loc.lat,
        "precision": loc.precision.value if loc.precision else None,
        "geocode": loc.geocode,
        "cell_code": loc.cell_code,
        "community_code": loc.community_code,
        "street_code": loc.street_code,
        "housing_type": n.housing_type,
        "household_size": n.household_size,
        "arrived_on": n.arrived_on,
        "expected_departure": n.expected_departure,
        "departed_on": n.departed_on,
        "decision": d.decision,
        "resident_id": d.resident_id,
        "score": finite(d.score),
        "reasons": [{"level": lv, "weight": finite(w)} for lv, w in d.reasons] or None,
        "candidates": [c.as_dict() for c in d.candidates] or None,
        "reject_reason": d.reject_reason,
        "answer": answer,
        "decided_at": received,
        "decided_by": "intake",
        "consent_version": sub.consent_version,
        "client_key": sub.client_key,
    }


def finite(x: float | None) -> float | None:
    if x is None or not np.isfinite(x):
        return None if x is None else 999.0  # an ID-number match: certain
    return round(float(x), 2)


# --- reading reports back -----------------------------------------------------------------


def _in_scope(me: Principal) -> Any:
    r: Any = IntakeReport  # the columns as SQL expressions
    return scope_filter(
        me,
        cell=r.cell_code,
        community=r.community_code,
        street=r.street_code,
        owner=r.submitted_by,
    )


def shape(x: IntakeReport, me: Principal) -> dict[str, Any]:
    """A report as its channel (or the cell's staff) reads it back: masked, no linkage detail.
    A channel sees what it was told (`status`), not the decision (which says who is known)."""
    geocode = x.geocode or {}
    out = {
        "id": x.id,
        "batch_id": x.batch_id,
        "row": x.row_number,
        "channel": x.channel,
        "external_id": x.external_id,
        "reported_at": x.reported_at,
        "received_at": x.received_at,
        "payload": x.payload,
        "placed": {k: geocode.get(k) for k in ("method", "match", "cell_code", "note")},
    }
    if me.role == Role.channel:
        out["status"] = x.answer
        if x.answer == "rejected":
            out["reason"] = x.reject_reason
    else:
        out["decision"], out["reason"] = x.decision, x.reject_reason
    return out


def list_reports(
    session: Session,
    me: Principal,
    *,
    batch_id: int | None = None,
    decision: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """A channel's own reports, or those placed in the caller's cells; newest first."""
    r = IntakeReport
    stmt = select(r).where(_in_scope(me))
    if batch_id is not None:
        stmt = stmt.where(r.batch_id == batch_id)
    if decision:
        stmt = stmt.where(r.decision == decision)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(r.id.desc()).limit(limit).offset(offset)).all()
    return {"total": total, "items": [shape(x, me) for x in rows]}


def get_report(session: Session, me: Principal, report_id: int) -> dict[str, Any]:
    x = session.scalar(select(IntakeReport).where(IntakeReport.id == report_id, _in_scope(me)))
    if x is None:
        raise NotFound(f"no report {report_id}")
    return shape(x, me)
