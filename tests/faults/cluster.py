"""A private PostgreSQL 15 cluster on a spare loopback port: initdb, start, stop, kill -9, clone.

Run as the `postgres` user when the tests run as root (initdb refuses root), like
scripts/lib.sh's `start_local_cluster`. Every cluster lives in its own temporary folder, owned
by that user, and is removed by `destroy()`. Binaries: /usr/lib/postgresql/15/bin, or
HOUNIAO_PG_BIN.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.live import free_port

PG_BIN = Path(os.environ.get("HOUNIAO_PG_BIN", "/usr/lib/postgresql/15/bin"))
AS_ROOT = os.geteuid() == 0
OWNER = "postgres"


def as_owner(*cmd: str | Path) -> list[str]:
    """The command line that runs `cmd` as the cluster's owner."""
    args = [str(c) for c in cmd]
    return ["runuser", "-u", OWNER, "--", *args] if AS_ROOT else args


def run_owner(*cmd: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        as_owner(*cmd), cwd="/", capture_output=True, text=True, timeout=timeout, check=True
    )


def give_to_owner(path: Path) -> None:
    if AS_ROOT:
        shutil.chown(path, OWNER, OWNER)
        for sub in path.rglob("*"):
            shutil.chown(sub, OWNER, OWNER)


def make_folder(prefix: str) -> Path:
    """A fresh temporary folder the cluster's owner may use (under /tmp: world-traversable)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    give_to_owner(path)
    return path


@dataclass
class Cluster:
    """One cluster: `root/data` (its data directory), `root/log`, a socket in `root`."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "log"

    def url(self, database: str = "houniao") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    # -- life cycle ------------------------------------------------------------------------------

    @classmethod
    def create(cls, *, prefix: str = "houniao-faults-", waldir: Path | None = None) -> Cluster:
        """initdb a new cluster (data checksums on, trust on loopback)."""
        cluster = cls(make_folder(prefix))
        extra = [f"--waldir={waldir}"] if waldir else []
        run_owner(
            PG_BIN / "initdb",
            "-D",
            cluster.data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--data-checksums",
            *extra,
        )
        cluster.configure()
        return cluster

    def clone(self, *, prefix: str = "houniao-faults-", data: Path | None = None) -> Cluster:
        """A copy of this (stopped) cluster in a new folder, on its own port.

        `data`: where the copy's data directory goes (e.g. a mounted tmpfs); linked as root/data.
        """
        if self.running():
            raise RuntimeError("stop the cluster before cloning it")
        copy = Cluster(make_folder(prefix))
        target = data if data is not None else copy.data
        # cp -a keeps owners and modes (PostgreSQL refuses a group-readable data directory).
        subprocess.run(["cp", "-a", f"{self.data}/.", str(target)], check=True)
        if data is not None:
            copy.data.symlink_to(target)
        copy.configure()
        return copy

    def replica(self, *, prefix: str = "houniao-faults-replica-") -> Cluster:
        """A streaming replica of this (running) cluster, started on its own port."""
        standby = Cluster(make_folder(prefix))
        run_owner(
            PG_BIN / "pg_basebackup",
            "-h",
            self.root,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-D",
            standby.data,
            "-X",
            "stream",
            "-R",
            "--checkpoint=fast",
            "--no-password",
        )
        standby.configure()
        standby.start()
        return standby

    def configure(self, **settings: str | int) -> None:
        """Append settings to postgresql.conf (later lines win): port, socket, loopback only."""
        base = {
            "port": self.port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": 100,
            "shared_buffers": "'32MB'",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        lines = [f"{k} = {v}" for k, v in {**base, **settings}.items()]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/faults\n" + "\n".join(lines) + "\n")

    def start(self, timeout: float = 60) -> None:
        run_owner(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.logfile,
            "-w",
            "-t",
            int(timeout),
            "start",
            timeout=timeout + 10,
        )

    def start_after_crash(self, timeout: float = 30) -> None:
        """Start after a kill, retrying as a service manager would: a backend forked just before
        the kill may hold the old shared memory a moment longer, and PostgreSQL refuses to start
        beside it ("pre-existing shared memory block is still in use")."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.start()
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            run_owner(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and _alive(pid)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def kill9(self, *, grace: float = 5.0) -> int:
        """SIGKILL the postmaster; then its orphaned backends (they notice the postmaster's death
        and exit on their own; any still alive after `grace` seconds get SIGKILL too).
        Returns the number of backends that had to be killed."""
        pid = self.postmaster_pid()
        if pid is None or not _alive(pid):
            raise RuntimeError("the cluster is not running")
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(c) for c in children):
            time.sleep(0.05)
        killed = 0
        for child in children:
            if _alive(child):
                with suppress(ProcessLookupError):  # exited since the check
                    os.kill(child, signal.SIGKILL)
                    killed += 1
        while _alive(pid) or any(_alive(c) for c in children):
            time.sleep(0.05)
        return killed

    def check_storage(self) -> dict[str, str]:
        """pg_amcheck (heap and every B-tree, each heap tuple found in its indexes) while
        running, then pg_checksums over every page once stopped. Returns each tool's complaint,
        empty when the storage is sound. Leaves the cluster stopped."""
        problems = {}
        amcheck = subprocess.run(
            as_owner(
                PG_BIN / "pg_amcheck",
                "--install-missing",
                "--heapallindexed",
                "--no-password",
                "-h",
                self.root,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "houniao",
            ),
            cwd="/",
            capture_output=True,
            text=True,
            timeout=300,
        )
        if amcheck.returncode != 0 or amcheck.stdout.strip():
            problems["pg_amcheck"] = (amcheck.stdout + amcheck.stderr)[-2000:]
        self.stop()
        checksums = subprocess.run(
            as_owner(PG_BIN / "pg_checksums", "--check", "-D", self.data),
            cwd="/",
            capture_output=True,
            text=True,
            timeout=300,
        )
        if checksums.returncode != 0:
            problems["pg_checksums"] = (checksums.stdout + checksums.stderr)[-2000:]
        return problems

    def destroy(self) -> None:
        """Stop (immediately if need be) and remove every file of the cluster."""
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pid = self.postmaster_pid()
            if pid is not None and _alive(pid):
                self.kill9(grace=0)
        target = self.data.resolve() if self.data.is_symlink() else None
        shutil.rmtree(self.root, ignore_errors=True)
        if target is not None:
            shutil.rmtree(target, ignore_errors=True)

    # -- SQL -------------------------------------------------------------------------------------

    def connect(self, database: str = "houniao", **kw: object) -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5, **kw)

    def scalar(self, sql: str, database: str = "houniao") -> object:
        with self.connect(database) as conn:
            cur = conn.execute(sql)
            row = cur.fetchone() if cur.description else None
            return row[0] if row else None

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until the cluster accepts connections."""
        start = time.monotonic()
        while True:
            try:
                self.scalar("SELECT 1", "postgres")
                return time.monotonic() - start
            except psycopg.OperationalError:
                if time.monotonic() - start > timeout:
                    raise
                time.sleep(0.1)


@contextmanager
def tmpfs(size_mb: int, *, prefix: str = "houniao-faults-volume-") -> Iterator[Path]:
    """A tmpfs of `size_mb` MB on a new folder the cluster's owner may use; unmounted after.
    Mounting needs root (or sudo without a password): anything else fails, saying so."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    root = [] if AS_ROOT else ["sudo", "-n"]
    mount = [*root, "mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)]
    done = subprocess.run(mount, capture_output=True, text=True)
    if done.returncode != 0:
        path.rmdir()
        raise RuntimeError(
            f"cannot mount a tmpfs for the disk-full test ({' '.join(mount)}:"
            f" {done.stderr.strip()}); run the fault tests as root"
        )
    try:
        subprocess.run([*root, "chown", f"{OWNER}:{OWNER}", str(path)], check=True)
        yield path
    finally:
        subprocess.run([*root, "umount", "--lazy", str(path)], check=False)
        path.rmdir()


def fill(volume: Path) -> Path:
    """Write zeros into `volume` until it is full; returns the file (delete it to free space)."""
    ballast = volume / "ballast"
    chunk = b"\0" * (1 << 20)
    with ballast.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12):
            with suppress(OSError):  # ENOSPC: the volume is full at this granularity
                while True:
                    out.write(chunk[:size])
    return ballast


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out
