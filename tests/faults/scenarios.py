"""The fault scenarios, shared by the tests (which assert on them) and bench/faults.py (which
prints the table). Each takes a running site, injects one fault while writers write, ends the
fault, and returns what happened."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.ops import backup
from geo.ops.fingerprint import Fingerprint, fingerprint
from tests.faults import census
from tests.faults.cluster import Cluster, fill
from tests.faults.site import Site, sqlalchemy_url
from tests.faults.writers import Reader, Writers

WARM_UP = 2  # acknowledged writes per writer before the fault
AFTER = 1.5  # seconds of writing after the API recovered


@dataclass
class Outcome:
    fault: str
    census: census.Census
    during: Counter[int]  # the API's answers while the fault lasted
    overall: Counter[int]
    unexpected: list[str]
    recover_seconds: float  # fault over -> first acknowledged write
    failing_seconds: float  # first failed write -> first acknowledged write after the fault
    api_restarts: int  # API processes that died and had to be started again (must be 0)
    audit_verify: str  # output of `houniao audit verify`
    audit_ok: bool
    notes: dict[str, object] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        row = self.census.row(self.fault, self.recover_seconds)
        row["failing_s"] = round(self.failing_seconds, 2)
        return row


def _writers(site: Site, **kw: object) -> Writers:
    return Writers(site.base, site.template.api_keys, site.template.points, **kw)  # type: ignore[arg-type]


def _finish(
    site: Site, fault: str, writers: Writers, start: float, end: float, t0: float, **notes: object
) -> Outcome:
    """Census, audit verification and timings once the writers stopped."""
    recovered = writers.first(end, success=True)
    first_fail = min(
        (a.at for a in writers.answers() if a.at >= t0 and not a.ok),
        default=start,
    )
    audit = site.houniao("audit", "verify")
    return Outcome(
        fault=fault,
        census=census.take(site.cluster, writers.ledgers),
        during=writers.statuses(start, end),
        overall=writers.statuses(),
        unexpected=[u for g in writers.ledgers for u in g.unexpected],
        recover_seconds=(recovered - end) if recovered is not None else float("nan"),
        failing_seconds=(recovered - first_fail) if recovered is not None else float("nan"),
        api_restarts=sum(s.process.poll() is not None for s in site.servers),
        audit_verify=audit.stdout + audit.stderr,
        audit_ok=audit.returncode == 0,
        notes=notes,
    )


def kill_postmaster(site: Site, *, down_seconds: float = 1.5) -> Outcome:
    """`kill -9` of the postmaster (its orphaned backends exit or are killed), the database left
    down for `down_seconds`, then started again (crash recovery) under the same running API."""
    with _writers(site) as writers:
        writers.wait_acknowledged(WARM_UP)
        t0 = time.monotonic()
        killed = site.cluster.kill9()
        dead = time.monotonic()
        writers.wait_answer(dead, success=False, timeout=10)
        time.sleep(down_seconds)
        site.cluster.start_after_crash()
        ready = time.monotonic()
        writers.wait_answer(ready, success=True, timeout=60)
        time.sleep(AFTER)
    return _finish(
        site,
        "kill -9 postmaster",
        writers,
        dead,
        ready,
        t0,
        backends_killed=killed,
        restart_seconds=round(ready - dead - down_seconds, 2),
    )


# Pick the victims first (MATERIALIZED): in one WHERE clause the planner may call
# pg_terminate_backend before the other conditions, on any backend, ours included.
TERMINATE = """
    WITH victims AS MATERIALIZED (
        SELECT pid, state FROM pg_stat_activity
         WHERE datname = 'houniao' AND backend_type = 'client backend'
           AND pid <> pg_backend_pid())
    SELECT state FROM victims WHERE pg_terminate_backend(pid)
"""


def terminate_backends(site: Site, *, seconds: float = 3.0, every: float = 0.05) -> Outcome:
    """`pg_terminate_backend` of the API's connections, again and again for `seconds`: those
    in the middle of a statement or a transaction first (mid-request), idle pooled ones too."""
    terminated = Counter[str]()
    with _writers(site) as writers, site.cluster.connect("postgres") as admin:
        writers.wait_acknowledged(WARM_UP)
        t0 = start = time.monotonic()
        while time.monotonic() - start < seconds:
            for (state,) in admin.execute(TERMINATE):
                terminated[state or "unknown"] += 1
            time.sleep(every)
        end = time.monotonic()
        writers.wait_answer(end, success=True, timeout=60)
        time.sleep(AFTER)
    return _finish(
        site, "pg_terminate_backend", writers, start, end, t0, terminated=dict(terminated)
    )


def disk_full(site: Site, volume: Path, *, seconds: float = 3.0) -> Outcome:
    """The volume holding the database (data and WAL) fills up (a ballast file takes every free
    byte) for `seconds` after the first write is refused, while a reader keeps reading; then
    the ballast goes. Afterwards the storage is checked page by page (the cluster stops)."""
    lon, lat = site.template.points[0]
    reads = ["/healthz", f"/api/v1/locate?lon={lon}&lat={lat}", "/api/v1/cases?limit=10"]
    with _writers(site) as writers, Reader(site.base, reads, site.bearer()) as reader:
        writers.wait_acknowledged(WARM_UP)
        t0 = time.monotonic()
        ballast = fill(volume)
        start = time.monotonic()
        writers.wait_answer(start, success=False, timeout=60)
        time.sleep(seconds)
        ballast.unlink()
        end = time.monotonic()
        writers.wait_answer(end, success=True, timeout=60)
        time.sleep(AFTER)
    log = site.cluster.logfile.read_text(errors="replace")
    outcome = _finish(
        site,
        "disk full (data + WAL)",
        writers,
        start,
        end,
        t0,
        reads_during=dict(reader.statuses(start, end)),
        read_failures=reader.unexpected[:5],
        refusals=dict(sum((g.refusals for g in writers.ledgers), Counter())),
        panics=log.count("PANIC"),
    )
    outcome.notes["storage"] = site.cluster.check_storage()
    return outcome


@dataclass
class Restored:
    """A point-in-time restore drill: what was acknowledged before the target time and found in
    the restored cluster, what came after it (must be absent), and the two fingerprints."""

    census: census.Census  # writes acknowledged before the target time, in the restored copy
    later: census.Census  # writes after the target time, in the restored copy (found must be 0)
    source: Fingerprint  # the source at the target time
    restored: Fingerprint
    restore_seconds: float  # restore command + start + replay until promoted
    audit_verify: str
    audit_ok: bool
    steps: dict[str, str] = field(default_factory=dict)  # CLI output of each step

    def row(self) -> dict[str, object]:
        row = self.census.row("point-in-time restore", self.restore_seconds)
        row["after_target_found"] = self.later.found
        return row


def point_in_time_restore(site: Site, repo: Path, target: Cluster) -> Restored:
    """`houniao backup init` (and a restart), a base backup taken while the writers write, more
    writes, a target time, more writes, then `houniao backup restore --time` into `target`'s
    data directory (a fresh cluster folder) and that cluster started until it is promoted."""
    steps = {}

    def cli(*args: str, url: str | None = None) -> str:
        done = site.houniao(*args) if url is None else site.houniao(*args, url=url)
        if done.returncode != 0:
            raise RuntimeError(f"houniao {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        steps[args[1]] = done.stdout
        return done.stdout

    cli("backup", "init", "--repo", str(repo))
    site.cluster.stop()  # archive_mode takes effect at the next start
    site.cluster.start()
    with _writers(site) as before:
        before.wait_acknowledged(WARM_UP)
        cli("backup", "base", "--repo", str(repo))  # hot: the writers keep writing
        before.wait_acknowledged(WARM_UP + 1)
    engine = site.engine()
    try:
        with Session(engine) as session:
            source = fingerprint(session)
            session.rollback()
            until = session.scalar(text("SELECT clock_timestamp()"))
    finally:
        engine.dispose()
    time.sleep(0.2)
    with _writers(site) as after:
        after.wait_acknowledged(1)
    with backup.admin_connection(sqlalchemy_url(site.url)) as conn:
        backup.archive_now(conn)

    started = time.monotonic()
    cli("backup", "restore", str(target.data), "--time", until.isoformat(), "--repo", str(repo))
    target.configure()  # its own port and socket (the copied postgresql.conf has the source's)
    target.start()
    while target.scalar("SELECT pg_is_in_recovery()", "postgres"):
        if time.monotonic() - started > 120:
            raise TimeoutError("the restored cluster did not finish recovery")
        time.sleep(0.1)
    restore_seconds = time.monotonic() - started
    engine = create_engine(sqlalchemy_url(target.url()))
    try:
        with Session(engine) as session:
            restored = fingerprint(session)
    finally:
        engine.dispose()
    audit = site.houniao("audit", "verify", url=target.url())
    return Restored(
        census=census.take(target, before.ledgers),
        later=census.take(target, after.ledgers),
        source=source,
        restored=restored,
        restore_seconds=restore_seconds,
        audit_verify=audit.stdout + audit.stderr,
        audit_ok=audit.returncode == 0,
        steps=steps,
    )
