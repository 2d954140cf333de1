"""Count, after a fault, what the writers were told against what the database holds.

- acknowledged: writes answered 2xx; found: those present; lost: acknowledged but absent;
- doubled: any write (acknowledged or not) present more than once;
- half-written: a case without its first event (`report`), a stay without the report that made
  it, an archive without any report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.faults.cluster import Cluster
from tests.faults.writers import Ledger, case_marker

HALF_WRITTEN = {
    "case without its first event": """
        SELECT count(*) FROM cases c
         WHERE NOT EXISTS (SELECT 1 FROM case_event e
                            WHERE e.case_id = c.id AND e.action = 'report')""",
    "stay without its report": """
        SELECT count(*) FROM stay s
         WHERE NOT EXISTS (SELECT 1 FROM intake_report r
                            WHERE r.resident_id = s.resident_id AND r.season = s.season)""",
    "archive without a report": """
        SELECT count(*) FROM resident p WHERE p.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM intake_report r WHERE r.resident_id = p.id)""",
    "case idempotency key without its case": """
        SELECT count(*) FROM case_idempotency k
         WHERE k.case_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = k.case_id)""",
}


@dataclass
class Census:
    acknowledged: int = 0
    found: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    wrong_id: list[str] = field(default_factory=list)  # a case acknowledged under another id
    half_written: dict[str, int] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return not (self.lost or self.doubled or self.wrong_id or any(self.half_written.values()))

    def row(self, fault: str, recover_seconds: float | None) -> dict[str, object]:
        return {
            "fault": fault,
            "acknowledged": self.acknowledged,
            "found": self.found,
            "lost": len(self.lost),
            "doubled": len(self.doubled),
            "recover_s": None if recover_seconds is None else round(recover_seconds, 2),
        }


def take(cluster: Cluster, ledgers: list[Ledger]) -> Census:
    census = Census()
    with cluster.connect() as conn:
        case_rows: dict[str, list[int]] = {}
        for case_id, description in conn.execute(
            "SELECT id, description FROM cases WHERE description LIKE %s", [case_marker("%")]
        ):
            case_rows.setdefault(description, []).append(case_id)
        reports = Counter(
            dict(
                conn.execute(
                    "SELECT external_id, count(*) FROM intake_report"
                    " WHERE external_id LIKE 'fault-%%' AND decision <> 'rejected'"
                    " GROUP BY external_id"
                ).fetchall()
            )
        )
        census.half_written = {
            name: int(conn.execute(sql).fetchone()[0]) for name, sql in HALF_WRITTEN.items()
        }
    for ledger in ledgers:
        for key in ledger.attempted_cases:
            ids = case_rows.get(case_marker(key), [])
            if len(ids) > 1:
                census.doubled.append(f"case {key}: ids {ids}")
            if key in ledger.cases:
                census.acknowledged += 1
                if not ids:
                    census.lost.append(f"case {key} (acknowledged as id {ledger.cases[key]})")
                else:
                    census.found += 1
                    if ledger.cases[key] not in ids:
                        census.wrong_id.append(f"case {key}: told {ledger.cases[key]}, has {ids}")
        for external in ledger.attempted_reports:
            if reports[external] > 1:
                census.doubled.append(f"report {external}: {reports[external]} rows")
            if external in ledger.reports:
                census.acknowledged += 1
                if reports[external]:
                    census.found += 1
                else:
                    census.lost.append(f"report {external}")
    return census
