"""The fault table: the scenarios of tests/faults run on this machine, one row each.

Each scenario starts its own PostgreSQL cluster (a copy of a template migrated and loaded with
the Yichun demo once per run) on a spare port with a live API on it, and 8 writers that file
cases (Idempotency-Key) and intake reports (external_id) through HTTP, retrying until each write
is acknowledged:

- kill -9: the postmaster killed (its orphaned backends exit), down 1.5 s, started again;
- pg_terminate_backend: every API connection terminated every 50 ms for 3 s;
- disk full: data and WAL on a small tmpfs filled by a ballast file for 3 s (needs root);
- point-in-time restore: a hot base backup, more writes, restore to a moment between two bursts.

Columns: writes acknowledged (2xx) and found afterwards, lost (acknowledged, absent), doubled
(present twice), seconds to recover (fault over -> first acknowledged write; for the restore:
restore command -> restored cluster promoted), seconds writes failed (first failed write -> first
acknowledged write after the fault), and the API's answers while the fault lasted.

    .venv/bin/python bench/faults.py [--only kill terminate disk restore] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Throwaway clusters with the repository's development keys; no scheduler in the API.
os.environ.setdefault("HOUNIAO_ENV", "development")
os.environ["HOUNIAO_SCHEDULER"] = "0"

from tests.faults import scenarios  # noqa: E402
from tests.faults.cluster import Cluster, give_to_owner, make_folder, tmpfs  # noqa: E402
from tests.faults.site import Template, build_template, running_site  # noqa: E402

HEADER = (
    "| fault | writes acknowledged | found | lost | doubled | s to recover | s writes failing"
    " | answers during the fault |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


def _answers(counts: object) -> str:
    return ", ".join(f"{n}x {status}" for status, n in sorted(dict(counts).items()))  # type: ignore[call-overload]


def _row(outcome: scenarios.Outcome, extra: str = "") -> str:
    c = outcome.census
    return (
        f"| {outcome.fault} | {c.acknowledged} | {c.found} | {len(c.lost)} | {len(c.doubled)}"
        f" | {outcome.recover_seconds:.2f} | {outcome.failing_seconds:.2f}"
        f" | {_answers(outcome.during)}{extra} |"
    )


def kill(template: Template) -> str:
    with running_site(template) as site:
        outcome = scenarios.kill_postmaster(site)
    restart = outcome.notes["restart_seconds"]
    return _row(outcome, f"; crash recovery + start {restart} s")


def terminate(template: Template) -> str:
    with running_site(template) as site:
        outcome = scenarios.terminate_backends(site)
    cut = sum(outcome.notes["terminated"].values())  # type: ignore[union-attr]
    return _row(outcome, f"; {cut} connections terminated")


def disk(template: Template) -> str:
    used = subprocess.run(
        ["du", "-sm", str(template.cluster.data)], capture_output=True, text=True, check=True
    )
    with (
        tmpfs(int(used.stdout.split()[0]) + 40) as volume,
        running_site(template, data=volume / "data") as site,
    ):
        outcome = scenarios.disk_full(site, volume)
    reads = _answers(outcome.notes["reads_during"])
    storage = "storage clean" if not outcome.notes["storage"] else f"{outcome.notes['storage']}"
    return _row(outcome, f"; reads {reads}; {storage}")


def restore(template: Template) -> str:
    folder = make_folder("houniao-faults-backup-")
    target = Cluster(make_folder("houniao-faults-restored-"))
    give_to_owner(target.root)
    try:
        with running_site(template) as site:
            drill = scenarios.point_in_time_restore(site, folder / "repo", target)
    finally:
        target.destroy()
        Cluster(folder).destroy()
    c = drill.census
    same = (
        drill.restored.rows == drill.source.rows
        and drill.restored.personal == drill.source.personal
    )
    return (
        f"| point-in-time restore | {c.acknowledged} | {c.found} | {len(c.lost)}"
        f" | {len(c.doubled)} | {drill.restore_seconds:.2f} | - | written after the target:"
        f" {drill.later.acknowledged}, found {drill.later.found}; rows and personal-data checksums"
        f" {'equal' if same else 'DIFFER'}; audit {'ok' if drill.audit_ok else 'BROKEN'} |"
    )


SCENARIOS: dict[str, Callable[[Template], str]] = {
    "kill": kill,
    "terminate": terminate,
    "disk": disk,
    "restore": restore,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    load = os.getloadavg()[0]
    template = build_template()
    rows = []
    try:
        for name in args.only:
            for _ in range(args.rounds):
                rows.append(SCENARIOS[name](template))
                print(rows[-1], flush=True)
    finally:
        template.cluster.destroy()
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}, load average {load:.1f} at start;"
        f" {time.monotonic() - started:.0f} s in all\n"
    )
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
