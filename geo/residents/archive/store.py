"""Reading reports for linkage and writing archives: the SQL behind the intake, reviews, merges
and splits. An archive (resident row and its stays) is always rewritten from all its reports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    and_,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from geo.privacy import crypto
from geo.residents import sensitive
from geo.residents.archive import values as archive
from geo.residents.intake import bulk
from geo.residents.intake.linkage import Evidence
from geo.residents.intake.persons import parse_name
from geo.residents.models import PRECISION_M, IntakeReport, Precision, Resident, Stay

R = IntakeReport
LINKED = ("new", "linked")
_ID_BLOCK = 200  # resident ids fetched from the sequence at a time

ARCHIVE_COLUMNS = (
    R.id,
    R.channel,
    R.reported_at,
    R.season,
    R.name,
    R.name_key,
    R.name_partial,
    R.sex,
    R.birth_year,
    R.birth_exact,
    R.birth_date,
    R.id_number_hash,
    R.id_number_masked,
    R.id_number_enc,
    R.phone_hash,
    R.phone_masked,
    R.phone_enc,
    R.origin,
    R.origin_province,
    R.origin_city,
    R.occupation,
    R.tags,
    R.precision,
    R.address,
    R.cell_code,
    R.community_code,
    R.street_code,
    R.housing_type,
    R.household_size,
    R.arrived_on,
    R.expected_departure,
    R.departed_on,
    R.submitted_by_name,
    R.resident_id,
)
_REPORT_COLUMNS = {c.key for c in R.__table__.columns} - {"id", "geom"}
_REPORT_COPY = [c.name for c in R.__table__.columns]


def point(lon: float | None, lat: float | None) -> str | None:
    return None if lon is None or lat is None else f"SRID=4326;POINT({lon!r} {lat!r})"


def id_array(ids: Iterable[int]) -> BindParameter[Any]:
    """Ids as one array parameter, for `= ANY(...)`: an intake's candidates can number more than
    the 65,535 parameters an expanded IN list may have (a common name across a province)."""
    values: Any = list(ids)
    return bindparam(None, values, type_=ARRAY(BigInteger))


def archive_rows(session: Session, resident_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Every linked report of the residents, as dicts (with lon/lat), by resident id."""
    ids = list(resident_ids)
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = select(
        *ARCHIVE_COLUMNS, func.ST_X(R.geom).label("lon"), func.ST_Y(R.geom).label("lat")
    ).where(R.resident_id == any_(id_array(ids)), R.decision.in_(LINKED))
    for row in session.execute(stmt).mappings():
        out[row["resident_id"]].append(_under_current_key(dict(row)))
    return out


def _under_current_key(row: dict[str, Any]) -> dict[str, Any]:
    """The report's lookup hashes as the current HMAC key makes them: during a rotation a report
    not yet rehashed compares with new reports and the archive's other reports alike."""
    for field, kind in (("id_number", sensitive.ID_KIND), ("phone", sensitive.PHONE_KIND)):
        stored = row[f"{field}_hash"]
        if stored is not None:
            row[f"{field}_hash"] = crypto.current_hash(
                stored,
                kind=kind,
                ciphertext=row[f"{field}_enc"],
                context=f"intake_report.{field}",
            )
    return row


def linkage_rows(session: Session, resident_ids: Iterable[int]) -> Iterator[tuple[int, Evidence]]:
    """(resident id, evidence) for every linked report of the residents."""
    for rid, rows in archive_rows(session, resident_ids).items():
        for r in rows:
            yield rid, evidence_of(r)


def evidence_of(r: dict[str, Any]) -> Evidence:
    return Evidence(
        name=parse_name(r["name"]) if r["name"] else None,
        sex=r["sex"],
        birth_year=r["birth_year"],
        birth_exact=bool(r["birth_exact"]),
        id_hash=r["id_number_hash"],
        phone_hash=r["phone_hash"],
        id_partial=sensitive.id_partial_hash(r["id_number_masked"]),
        phone_partial=sensitive.phone_partial_hash(r["phone_masked"]),
        season=r["season"],
        lon=r["lon"],
        lat=r["lat"],
        precision_m=PRECISION_M[Precision(r["precision"])] if r["precision"] else 30.0,
        cell_code=r["cell_code"],
        community_code=r["community_code"],
        origin_province=r["origin_province"],
        origin_city=r["origin_city"],
    )


class ArchiveWriter:
    """Writes reports and rewrites the archives they touch."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._free_ids: list[int] = []
        self.scopes: dict[int, dict[str, Any]] = {}  # of the archives refreshed, as written

    def new_resident_id(self) -> int:
        if not self._free_ids:
            self._free_ids = bulk.next_ids(self.session, "resident", _ID_BLOCK)[::-1]
        return self._free_ids.pop()

    def residents_by_keys(self, keys: Iterable[tuple[str, ...]]) -> set[int]:
        """Ids of archives with a linked report under any of the blocking keys."""
        by_kind: dict[str, list[tuple[str, ...] | str]] = {}
        for k in keys:
            by_kind.setdefault(k[0], []).append(k[1:] if len(k) > 2 else k[1])
        conds = []
        if v := by_kind.get("id"):
            conds.append(R.id_number_hash.in_(v))
        if v := by_kind.get("ph"):
            conds.append(R.phone_hash.in_(v))
        if v := by_kind.get("nk"):
            conds.append(R.name_key.in_(v))
        if v := by_kind.get("cs"):
            conds.append(tuple_(R.community_code, R.surname_key).in_(v))
        if v := by_kind.get("cg"):
            conds.append(tuple_(R.community_code, R.given_key).in_(v))
        if not conds:
            return set()
        stmt = select(R.resident_id).where(R.decision.in_(LINKED), or_(*conds)).distinct()
        return set(self.session.scalars(stmt))

    def write(self, rows: list[dict[str, Any]], *, prune: bool = False) -> list[int]:
        """Insert reports (rejected ones too) and rewrite the archives they link to; report ids.

        The archives are written first (a new report's resident must exist), from their stored
        reports plus these.
        """
        touched = {r["resident_id"] for r in rows if r["resident_id"] is not None}
        pending: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            if r["resident_id"] is not None:
                pending.setdefault(r["resident_id"], []).append(r)
        scopes = self.refresh(touched, pending, prune=prune)
        for r in rows:
            # A report that places no one (a ticket with no address) is seen where its person
            # lives: it takes the archive's scope, so the person's grid worker sees it.
            if r["resident_id"] is not None and r["community_code"] is None:
                r.update(scopes[r["resident_id"]])
        ids = bulk.next_ids(self.session, "intake_report", len(rows))
        params = [
            {
                **{k: v for k, v in r.items() if k in _REPORT_COLUMNS},
                "id": i,
                "geom": point(r["lon"], r["lat"]),
            }
            for r, i in zip(rows, ids, strict=True)
        ]
        bulk.copy_rows(self.session, R.__table__, params, _REPORT_COPY)
        return ids

    def refresh(
        self,
        resident_ids: Iterable[int],
        pending: dict[int, list[dict[str, Any]]] | None = None,
        *,
        prune: bool = True,
    ) -> dict[int, dict[str, Any]]:
        """Recompute residents and their stays from their stored reports plus `pending` ones.

        `prune` deletes stays of seasons no report supports any more (after a merge or split;
        the intake only ever adds reports, so it skips that).
        """
        ids = sorted(set(resident_ids))
        if not ids:
            return {}
        stored = archive_rows(self.session, ids)
        current = {
            r.id: r
            for r in self.session.execute(
                select(
                    Resident.id,
                    Resident.id_number_hash,
                    Resident.id_number_enc,
                    Resident.phone_hash,
                    Resident.phone_enc,
                ).where(Resident.id.in_(ids))
            )
        }
        now = datetime.now(UTC)
        residents, stays, keep = [], [], []
        scopes: dict[int, dict[str, Any]] = {}
        for rid in ids:
            rows = stored[rid] + (pending or {}).get(rid, [])
            if not rows:
                continue
            values = archive.resident_values(rows)
            seasons = archive.stay_values(rows)
            scope = archive.scope_of(seasons)
            if scope is None:
                raise ValueError(f"resident {rid} would have no located report")
            scopes[rid] = scope
            residents.append(self._resident(rid, values, scope, current.get(rid), now))
            for s in seasons.values():
                stays.append(
                    {
                        "resident_id": rid,
                        **{k: v for k, v in s.items() if k not in ("lon", "lat")},
                        "geom": point(s["lon"], s["lat"]),
                        "updated_at": now,
                    }
                )
                keep.append((rid, s["season"]))
        cols = list(residents[0]) if residents else []
        bulk.copy_rows(
            self.session,
            Resident.__table__,
            residents,
            cols,
            conflict="(id)",
            update=[c for c in cols if c != "id"],
        )
        cols = list(stays[0]) if stays else []
        bulk.copy_rows(
            self.session,
            Stay.__table__,
            stays,
            cols,
            conflict="ON CONSTRAINT uq_stay_resident_season",
            update=[c for c in cols if c not in ("resident_id", "season")],
        )
        if prune:
            self.session.execute(
                delete(Stay).where(
                    Stay.resident_id.in_(ids),
                    tuple_(Stay.resident_id, Stay.season).not_in(keep) if keep else true(),
                )
            )
        self.scopes.update(scopes)
        return scopes

    @staticmethod
    def _resident(
        rid: int, v: dict[str, Any], scope: dict[str, Any], current: Any, now: datetime
    ) -> dict[str, Any]:
        id_enc = phone_enc = None
        if v["id_number_hash"]:
            if current is not None and current.id_number_hash == v["id_number_hash"]:
                id_enc = current.id_number_enc
            else:
                plain = crypto.decrypt(
                    v["id_number_enc_from"]["id_number_enc"], context="intake_report.id_number"
                )
                id_enc = crypto.encrypt(plain, context="resident.id_number")
        if v["phone_hash"]:
            if current is not None and current.phone_hash == v["phone_hash"]:
                phone_enc = current.phone_enc
            else:
                plain = crypto.decrypt(
                    v["phone_enc_from"]["phone_enc"], context="intake_report.phone"
                )
                phone_enc = crypto.encrypt(plain, context="resident.phone")
        return {
            "id": rid,
            "status": "active",
            "merged_into_id": None,
            "name": v["name"],
            "name_key": v["name_key"],
            "sex": v["sex"],
            "birth_year": v["birth_year"],
            "birth_date": v["birth_date"],
            "id_number_enc": id_enc,
            "id_number_hash": v["id_number_hash"],
            "id_number_masked": v["id_number_masked"],
            "phone_enc": phone_enc,
            "phone_hash": v["phone_hash"],
            "phone_masked": v["phone_masked"],
            "origin": v["origin"],
            "origin_province": v["origin_province"],
            "origin_city": v["origin_city"],
            "occupation": v["occupation"],
            "tags": v["tags"],
            "conflicts": v["conflicts"],
            **scope,
            "first_seen_at": v["first_seen_at"],
            "last_seen_at": v["last_seen_at"],
            "updated_at": now,
        }


def reports_of(session: Session, resident_id: int) -> list[int]:
    return list(
        session.scalars(
            select(R.id).where(and_(R.resident_id == resident_id, R.decision.in_(LINKED)))
        )
    )
