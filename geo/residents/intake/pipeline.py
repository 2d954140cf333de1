"""The intake: reports from the six channels -> checked, placed in a cell, linked, stored.

One `Intake` per transaction, with a linkage index of the archives it has seen in memory. Its
locks (`geo.residents.intake.locks`) keep two intakes from deciding about the same person or
rewriting the same archive at once: a request that fits in one chunk locks only the keys its
reports could link under, so intakes about other people run beside it; a larger import, like a
review decision, takes the intake to itself. A dry run (`lock=False`) is rolled back and takes no
lock. Checking, placing and geocoding depend on no other intake and run before any lock. An
intake that would hold more than `KEYED_LOCK_BUDGET` key locks (a bulk load submitting batch after
batch in one transaction) takes the exclusive lock instead.
Reports are processed in chunks: checked (`records.normalize`), placed (coordinates through
`geo.spatial.batch.CellIndex` after conversion from their declared crs; addresses through the
gazetteer, `geocode_many`), candidate archives loaded in one query per chunk, linked one by one in
order (`linkage.LinkageIndex.link`), then written in bulk: reports, then the archives they touched,
recomputed from all their reports (`geo.residents.archive.values`), and their stays. Linkage scores
city-wide; `geo.residents.intake.routing` bounds the outcome by the submitter's scope and says which
review queue a report waits in.

Every report is stored, rejected ones included, with its raw payload (masked; the full payload
encrypted), its geocoding result and its decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import any_, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.access.principal import Channel
from geo.core import clock
from geo.residents import sensitive
from geo.residents.archive.store import ArchiveWriter, id_array, linkage_rows
from geo.residents.intake import locks, records
from geo.residents.intake.linkage import Evidence, LinkageIndex, Outcome, blocking_keys
from geo.residents.intake.reports import (
    Item,
    Located,
    ReportOutcome,
    Submission,
    finite,
    report_row,
)
from geo.residents.intake.routing import Scope, is_person, route
from geo.residents.models import PRECISION_M, IntakeBatch, IntakeReport, Precision, Resident
from geo.spatial.addresses.geocode import geocode_many
from geo.spatial.addresses.results import AddressMatch
from geo.spatial.batch import CellIndex
from geo.spatial.crs import Crs, to_wgs84

__all__ = ["Intake", "Item", "ReportOutcome", "Submission", "report_row", "take_lock"]

UNPLACED = "a report from a grid worker or staff needs an address or coordinates in their scope"
CHUNK = 2000
ANALYZE_AFTER = 5000  # reports written before the first in-transaction ANALYZE
_TABLE_ROWS = text(  # the tables an intake grows, with the planner's count of their rows
    "SELECT relname, greatest(reltuples, 0)::bigint FROM pg_class WHERE oid IN"
    " ('intake_report'::regclass, 'resident'::regclass, 'stay'::regclass)"
)
DEADLOCK_RETRIES = 3  # writes of two keyed intakes can deadlock in the presence triggers
# Key locks one intake may hold; past it, the exclusive lock (PostgreSQL's lock table is shared by
# every session, 64 per connection: a bulk load locking key by key would fill it).
KEYED_LOCK_BUDGET = 256
Progress = Callable[[int], None]  # reports done so far


class Intake:
    """Take reports in within the session's transaction (the caller commits or rolls back)."""

    def __init__(
        self,
        session: Session,
        *,
        today: date | None = None,
        chunk: int = CHUNK,
        lock: bool = True,
    ) -> None:
        self.session = session
        self.today = today or clock.today()
        self.chunk = chunk
        self._lock = lock
        self._exclusive = False  # taken once for good: every later chunk is covered
        self._held: set[tuple[Any, ...]] = set()  # key locks taken so far
        self.index = LinkageIndex()
        self.loaded_keys: set[tuple[str, ...]] = set()
        self.cells = CellIndex.of_release(session)
        self.geocoded: dict[str, AddressMatch] = {}
        self.writer = ArchiveWriter(session)
        # The current scope of every archive seen (kept current by the writer's refreshes).
        self.archives: dict[int, Scope] = self.writer.scopes
        self.seen_external: set[tuple[str, int | None, str]] = set()
        # Each table's rows at its last ANALYZE (the planner's estimate to start with), and the
        # reports written since.
        self._analyzed_rows: dict[str, int] = {
            name: int(rows) for name, rows in session.execute(_TABLE_ROWS).all()
        }
        self._written_since = dict.fromkeys(self._analyzed_rows, 0)

    # -- public ---------------------------------------------------------------------------------

    def submit(
        self,
        sub: Submission,
        items: Sequence[Item],
        *,
        progress: Progress | None = None,
        received_at: datetime | None = None,
    ) -> tuple[int, list[ReportOutcome]]:
        """Take in a batch; returns (batch id, one outcome per item, in order)."""
        received = received_at or datetime.now(UTC)
        batch_id: int = self.session.scalar(  # type: ignore[assignment]
            insert(IntakeBatch)
            .values(
                channel=sub.channel.value,
                source=sub.source,
                filename=sub.filename,
                crs=sub.default_crs.value if sub.default_crs else "",
                submitted_by=sub.submitted_by,
                submitted_by_name=sub.submitted_by_name,
                received_at=received,
            )
            .returning(IntakeBatch.id)
        )
        self.prime_addresses(
            it.fields["address"]
            for it in items
            if it.fields.get("address") and it.fields.get("lon") in (None, "")
        )
        outcomes: list[ReportOutcome] = []
        fingerprints: dict[str, int] = {}
        if self._lock and not self._exclusive and len(items) > self.chunk:
            locks.take_exclusive(self.session)
            self._exclusive = True
        for start in range(0, len(items), self.chunk):
            part = items[start : start + self.chunk]
            outcomes += self._chunk(sub, batch_id, start, part, received, fingerprints)
            if progress:
                progress(len(outcomes))
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.decision] = counts.get(o.decision, 0) + 1
        self.session.execute(
            update(IntakeBatch).where(IntakeBatch.id == batch_id).values(counts=counts)
        )
        return batch_id, outcomes

    def prime_addresses(self, texts: Iterable[Any]) -> None:
        """Geocode these addresses now, in one pass over the gazetteer (cached for the intake)."""
        todo = sorted({str(t) for t in texts if t} - set(self.geocoded))
        for start in range(0, len(todo), 20_000):
            part = todo[start : start + 20_000]
            for t, m in zip(part, geocode_many(self.session, part), strict=True):
                self.geocoded[t] = m

    # -- one chunk ------------------------------------------------------------------------------

    def _chunk(
        self,
        sub: Submission,
        batch_id: int,
        start: int,
        items: Sequence[Item],
        received: datetime,
        fingerprints: dict[str, int],
    ) -> list[ReportOutcome]:
        normalized = [
            records.normalize(
                it.fields,
                default_crs=sub.default_crs,
                received_at=received,
                today=self.today,
                as_received=it.as_received,
            )
            for it in items
        ]
        for it, n in zip(items, normalized, strict=True):
            n.problems[:0] = it.problems
        keyed = self._lock and not self._exclusive
        if keyed:
            located = self._locate(normalized)
            evidence = [self._evidence(n, loc) for n, loc in zip(normalized, located, strict=True)]
            keys = self._lock_keys(sub, normalized, evidence) - self._held
            if len(self._held) + len(keys) > KEYED_LOCK_BUDGET:
                locks.take_exclusive(self.session)
                self._exclusive, keyed = True, False
            else:
                locks.take_keyed(self.session, keys)
                self._held |= keys
            placed = [not n.problems for n in normalized]
            self._duplicates(sub, start, items, normalized, fingerprints)
            # A duplicate is stored unplaced, as if found before placing.
            located = [
                loc if not n.problems or not fresh else Located()
                for n, loc, fresh in zip(normalized, located, placed, strict=True)
            ]
        else:
            self._duplicates(sub, start, items, normalized, fingerprints)
            located = self._locate(normalized)
            evidence = [self._evidence(n, loc) for n, loc in zip(normalized, located, strict=True)]
        self._load_candidates(
            [e for e, n in zip(evidence, normalized, strict=True) if not n.problems]
        )
        outcomes: list[ReportOutcome] = []
        rows: list[dict[str, Any]] = []
        for i, (it, n, loc, e) in enumerate(zip(items, normalized, located, evidence, strict=True)):
            decision, answer = self._decide(sub, n, loc, e)
            decision, queue = route(
                decision,
                loc.scope,
                self.archives,
                sub.submitter,
                unverified=sub.channel == Channel.self_registration,
            )
            if decision.decision == "new":
                rid = self.writer.new_resident_id()
                decision = Outcome("new", rid, decision.score, decision.reasons)
                assert loc.scope is not None  # nothing unplaced founds an archive
                self.archives[rid] = loc.scope
            if decision.resident_id is not None:
                self.index.absorb(decision.resident_id, e)
            row = report_row(sub, batch_id, received, it, n, loc, decision, answer=answer)
            if queue is not None:
                row.update(queue)  # waits for the archive's own grid worker
            rows.append(row)
            outcomes.append(
                ReportOutcome(
                    index=start + i,
                    row_number=it.row_number,
                    decision=decision.decision,
                    answer=answer,
                    external_id=n.external_id,
                    resident_id=decision.resident_id,
                    score=finite(decision.score),
                    reasons=row["reasons"] or [],
                    candidates=row["candidates"] or [],
                    reject_reason=decision.reject_reason,
                    geocode=loc.geocode,
                    truth=it.truth,
                )
            )
        if keyed:
            locks.lock_archives(self.session, (r["resident_id"] for r in rows if r["resident_id"]))
        ids = self._write(rows)
        for o, rid in zip(outcomes, ids, strict=True):
            o.report_id = rid
        self._analyze_when_grown(len(rows))
        return outcomes

    def _lock_keys(
        self, sub: Submission, normalized: list[records.Normalized], evidence: list[Evidence]
    ) -> set[tuple[Any, ...]]:
        """Every key under which these reports could meet another intake's: the channel's
        external ids, and the blocking keys (old key ids too) linkage looks candidates up by."""
        keys: set[tuple[Any, ...]] = set()
        for n, e in zip(normalized, evidence, strict=True):
            if n.problems:
                continue
            if n.external_id:
                keys.add(("external", sub.channel.value, sub.submitted_by, n.external_id))
            keys.update(blocking_keys(e), e.older_keys)
        return keys

    def _write(self, rows: list[dict[str, Any]]) -> list[int]:
        """`writer.write` from a savepoint, again if PostgreSQL ended it as a deadlock's victim:
        two intakes adding to the same cell-days in the presence triggers' separate passes
        (inserted stays, then updated ones) can each hold a row the other waits for."""
        for attempt in range(1, DEADLOCK_RETRIES + 1):
            try:
                with self.session.begin_nested():
                    return self.writer.write(rows)
            except DBAPIError as exc:
                if attempt == DEADLOCK_RETRIES or getattr(exc.orig, "sqlstate", "") != "40P01":
                    raise
        raise AssertionError("unreachable")

    def _analyze_when_grown(self, written: int) -> None:
        """Refresh planner statistics once the tables have grown by half since the last time.

        A large intake runs in one transaction, which autovacuum cannot see into; without this
        the planner keeps the empty tables' statistics and scans them whole for every chunk.
        (ANALYZE inside a transaction counts that transaction's own new rows.)

        Each table by its own size: a national world's ten million stays are not re-sampled
        for every 5,000 reports (an ANALYZE of `stay` read 2 GB at random: a minute a batch).
        """
        for table, rows in self._analyzed_rows.items():
            self._written_since[table] += written
            if self._written_since[table] >= max(ANALYZE_AFTER, rows // 2):
                self.session.execute(text(f"ANALYZE {table}"))
                self._analyzed_rows[table] = rows + self._written_since[table]
                self._written_since[table] = 0

    def _duplicates(
        self,
        sub: Submission,
        start: int,
        items: Sequence[Item],
        normalized: list[records.Normalized],
        fingerprints: dict[str, int],
    ) -> None:
        """Same content twice in one batch, or an external id this channel already sent."""
        externals = [n.external_id for n in normalized if n.external_id]
        known: dict[str, int] = {}
        if externals:
            rows = self.session.execute(
                select(IntakeReport.external_id, IntakeReport.id).where(
                    IntakeReport.channel == sub.channel.value,
                    IntakeReport.submitted_by.is_not_distinct_from(sub.submitted_by),
                    IntakeReport.external_id.in_(externals),
                    IntakeReport.decision != "rejected",
                )
            ).all()
            known = {str(e): int(i) for e, i in rows}
        for i, (it, n) in enumerate(zip(items, normalized, strict=True)):
            where = it.row_number if it.row_number is not None else start + i
            fp = n.fingerprint()
            if fp in fingerprints:
                label = "row" if it.row_number is not None else "report"
                n.problems.append(f"duplicate of {label} {fingerprints[fp]} in this batch")
            else:
                fingerprints[fp] = where
            if n.external_id:
                key = (sub.channel.value, sub.submitted_by, n.external_id)
                if n.external_id in known:
                    n.problems.append(
                        f"external_id {n.external_id!r} was already received"
                        f" (report {known[n.external_id]})"
                    )
                elif key in self.seen_external and not n.problems:
                    n.problems.append(f"external_id {n.external_id!r} repeats in this batch")
                if not n.problems:
                    self.seen_external.add(key)

    # -- placing --------------------------------------------------------------------------------

    def _locate(self, normalized: list[records.Normalized]) -> list[Located]:
        out = [Located() for _ in normalized]
        by_crs: dict[Crs, list[int]] = {}
        for i, n in enumerate(normalized):
            if not n.problems and n.has_point and n.crs is not None:
                by_crs.setdefault(n.crs, []).append(i)
        for crs, idx in by_crs.items():
            xs = np.array([normalized[i].lon for i in idx], dtype=float)
            ys = np.array([normalized[i].lat for i in idx], dtype=float)
            lon, lat = to_wgs84(xs, ys, crs)
            codes = self.cells.assign(lon, lat)
            for i, x, y, code in zip(idx, np.ravel(lon), np.ravel(lat), codes, strict=True):
                geocode = {
                    "method": "coordinates",
                    "crs": crs.value,
                    "lon": round(float(x), 7),
                    "lat": round(float(y), 7),
                    "cell_code": code,
                }
                if code is None:
                    geocode["note"] = f"the point lies outside every grid cell (given as {crs})"
                    out[i] = Located(geocode=geocode, problem="location outside the covered area")
                    continue
                out[i] = Located(
                    float(x), float(y), Precision.point, code, code[:12], code[:9], geocode
                )
        wanted = [
            i
            for i, n in enumerate(normalized)
            if not n.problems and n.address and (out[i].precision is None)
        ]
        self.prime_addresses(normalized[i].address for i in wanted)
        for i in wanted:
            address = normalized[i].address
            assert address is not None
            before = out[i].geocode
            located = self._from_address(self.geocoded[address])
            if before is not None and located.geocode is not None:
                located.geocode["coordinates"] = before
            out[i] = located
        return out

    @staticmethod
    def _from_address(m: AddressMatch) -> Located:
        geocode = {
            "method": "address",
            "match": m.match,
            "score": m.score,
            "cell_code": m.cell_code,
            "community_code": m.community_code,
            "matched_address": m.matched_address,
            "note": m.note,
        }
        if m.match == "none" or m.lon is None or m.lat is None or not m.community_code:
            return Located(geocode=geocode, problem=f"address not found: {m.note}")
        if m.match == "community" or m.cell_code is None:
            precision = Precision.community
        elif m.match == "exact" and m.building is not None:
            precision = Precision.building
        else:
            precision = Precision.compound
        return Located(
            m.lon, m.lat, precision, m.cell_code, m.community_code, m.community_code[:9], geocode
        )

    # -- linking --------------------------------------------------------------------------------

    @staticmethod
    def _evidence(n: records.Normalized, loc: Located) -> Evidence:
        return Evidence(
            name=n.name,
            sex=n.sex,
            birth_year=n.birth_year,
            birth_exact=n.birth_exact,
            id_hash=n.id_number.lookup_hash if n.id_number else None,
            phone_hash=n.phone.lookup_hash if n.phone else None,
            older_keys=(
                *(("id", h) for h in (n.id_number.older_hashes if n.id_number else ())),
                *(("ph", h) for h in (n.phone.older_hashes if n.phone else ())),
            ),
            id_partial=sensitive.id_partial_hash(n.id_mask),
            phone_partial=sensitive.phone_partial_hash(n.phone_mask),
            season=n.season,
            lon=loc.lon,
            lat=loc.lat,
            precision_m=PRECISION_M[loc.precision] if loc.precision else 30.0,
            cell_code=loc.cell_code,
            community_code=loc.community_code,
            origin_province=n.origin.province if n.origin else None,
            origin_city=n.origin.city if n.origin else None,
        )

    def _load_candidates(self, evidence: Iterable[Evidence]) -> None:
        """Absorb every stored archive that shares a blocking key with the chunk (once), and
        note its current scope."""
        keys = {k for e in evidence for k in (*blocking_keys(e), *e.older_keys)}
        keys -= self.loaded_keys
        if not keys:
            return
        self.loaded_keys |= keys
        ids = self.writer.residents_by_keys(keys) - set(self.index.profiles)
        for resident_id, e in linkage_rows(self.session, ids):
            self.index.absorb(resident_id, e)
        if ids:
            rows = self.session.execute(
                select(
                    Resident.id, Resident.cell_code, Resident.community_code, Resident.street_code
                ).where(Resident.id == any_(id_array(ids)))
            )
            for rid, cell, community, street in rows:
                self.archives.setdefault(
                    rid, {"cell_code": cell, "community_code": community, "street_code": street}
                )

    def _decide(
        self, sub: Submission, n: records.Normalized, loc: Located, e: Evidence
    ) -> tuple[Outcome, str]:
        """The linkage outcome, and what a channel is told: `rejected` only for what is wrong
        with the report itself, `received` otherwise (so the answer never says who is known)."""
        if n.problems:
            return Outcome("rejected", reject_reason="; ".join(n.problems)), "rejected"
        if loc.problem and not e.id_hash:
            return Outcome("rejected", reject_reason=loc.problem), "rejected"
        if is_person(sub.submitter) and loc.precision is None:
            reason = loc.problem or "no location"
            return Outcome("rejected", reject_reason=f"{reason}: {UNPLACED}"), "rejected"
        outcome = self.index.link(e)
        if outcome.decision in ("new", "review") and loc.precision is None:
            reason = loc.problem or "no location (address or coordinates)"
            outcome = Outcome("rejected", reject_reason=f"{reason}: cannot place a new person")
        return outcome, "received"


def take_lock(session: Session) -> None:
    """The intake to oneself (review decisions, merges and splits relink archives by id)."""
    locks.take_exclusive(session)
