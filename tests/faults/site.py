"""A whole Houniao site on a private cluster: the demo loaded once into a template cluster, then
per scenario a copy of it started on its own port with a live uvicorn serving the app on it.

    template = build_template()          # initdb, migrate, load the Yichun demo, accounts; stopped
    with running_site(template) as site: # a fresh copy started, the API served on it
        ...
    template.cluster.destroy()
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.accounts import apikeys, tokens
from geo.accounts.models import Account
from geo.core import migrate
from geo.demo.load import load_yichun
from tests.faults.cluster import Cluster
from tests.live import HOUNIAO, free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8  # writers in the fault scenarios; each has its own channel account and API key
CHANNEL = "police"
DISPATCHER = "faults-dispatcher"  # reads the live case feed


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@dataclass
class Template:
    """A stopped cluster holding the migrated demo, the writers' API keys and points to report."""

    cluster: Cluster
    api_keys: list[str]
    points: list[tuple[float, float]]  # one point inside each of a few grid cells


def build_template() -> Template:
    """initdb + migrate + `load_yichun` (the real loader) + one channel account per writer."""
    cluster = Cluster.create(prefix="houniao-faults-template-")
    try:
        cluster.start()
        cluster.scalar("CREATE DATABASE houniao", "postgres")
        url = sqlalchemy_url(cluster.url())
        migrate.upgrade("head", url)
        engine = create_engine(url)
        with Session(engine) as session:
            load_yichun(session)
            keys = []
            for i in range(CLIENTS):
                account = Account(
                    name=f"faults-{CHANNEL}-{i}",
                    display_name=f"压测渠道 {i}",
                    role="channel",
                    channel=CHANNEL,
                )
                session.add(account)
                session.flush()
                keys.append(apikeys.create_key(session, account))
            session.add(Account(name=DISPATCHER, display_name="压测指挥中心", role="dispatcher"))
            points = [
                (float(x), float(y))
                for x, y in session.execute(
                    text(
                        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p"
                        " FROM grid_cell ORDER BY code LIMIT 16) q"
                    )
                )
            ]
            session.commit()
        engine.dispose()
        cluster.stop()
    except BaseException:
        cluster.destroy()
        raise
    return Template(cluster, keys, points)


@dataclass
class Server:
    """One uvicorn process serving api.app:app."""

    process: subprocess.Popen
    base: str
    log: Path

    def stop(self, timeout: float = 20) -> float:
        """SIGTERM and wait; returns the seconds it took to exit (raises if it hung)."""
        start = time.monotonic()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=timeout)
        return time.monotonic() - start

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Site:
    template: Template
    cluster: Cluster
    servers: list[Server] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.servers[0].base

    @property
    def url(self) -> str:
        return self.cluster.url()

    def serve(self, port: int | None = None, **env: str) -> Server:
        """Start one more API process on this site's database (scheduler off unless `env`
        says otherwise; on `port`, e.g. a stopped server's, or a free one); returns once /healthz
        answers 200."""
        port = port or free_port()
        log = self.cluster.root / f"uvicorn-{port}.log"
        full_env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "HOUNIAO_SCHEDULER": "0",
            "PYTHONPATH": _pythonpath(),
            **env,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(process, f"http://127.0.0.1:{port}", log)
        self.servers.append(server)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(server.base + "/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{server.log_text()}")
            time.sleep(0.2)

    def engine(self) -> Engine:
        """An engine on this site's database, as its owner (the tests' own reads and writes)."""
        return create_engine(sqlalchemy_url(self.url), pool_size=2)

    def bearer(self, name: str = DISPATCHER) -> dict[str, str]:
        """Authorization headers of a fresh session of the account `name`."""
        engine = self.engine()
        try:
            with Session(engine) as session:
                account = session.scalars(select(Account).where(Account.name == name)).one()
                pair = tokens.start_session(session, account)
                session.commit()
        finally:
            engine.dispose()
        return {"Authorization": f"Bearer {pair.access_token}"}

    def houniao(
        self,
        *args: str,
        url: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """The `houniao` CLI against this site's database (or `url`), with `env` added."""
        env = {
            **os.environ,
            "DATABASE_URL": url or self.url,
            "HOUNIAO_SCHEDULER": "0",
            "PYTHONPATH": _pythonpath(),
            **(env or {}),
        }
        return subprocess.run(
            [HOUNIAO, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT
        )


def _pythonpath() -> str:
    """This tree first, then whatever the caller had (tests/cityclock.py's clock hook)."""
    return os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))


@contextmanager
def running_site(
    template: Template, *, data: Path | None = None, api: bool = True, **settings: str | int
) -> Iterator[Site]:
    """A copy of the template started on its own port (`settings` go to postgresql.conf;
    `data`: where its data directory lives), with one API process unless `api` is False.
    Everything is stopped and removed on the way out, whatever happened."""
    cluster = template.cluster.clone(data=data)
    site = Site(template, cluster)
    try:
        if settings:
            cluster.configure(**settings)
        cluster.start()
        if api:
            site.serve()
        yield site
    finally:
        for server in site.servers:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait(timeout=10)
        cluster.destroy()
