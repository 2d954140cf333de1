"""`houniao check`: one line per check, exit 0 when all is well and 1 when anything is wrong,
against a real site: a scheduler leader (an API process), a backup repository with a base
backup, and a streaming replica (pg_basebackup -R) whose lag it measures."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo.core.config import security_settings
from geo.ops.check import FAIL, run_checks
from tests.faults.cluster import Cluster, make_folder
from tests.faults.site import Site, sqlalchemy_url

pytestmark = pytest.mark.timeout(180, func_only=True)  # fixtures bound themselves
SCHEDULER = {"HOUNIAO_SCHEDULER": "1", "HOUNIAO_SCHEDULER_INTERVAL_SECONDS": "0.3"}
OTHER_KEY = base64.b64encode(bytes(range(32))).decode()
NAMES = ["database", "migrations", "release", "scheduler", "replica", "backup", "keys"]


def check(site: Site, url: str | None = None, **env: str) -> tuple[int, dict[str, str]]:
    done = site.houniao("check", url=url, env=env)
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == NAMES, done.stdout + done.stderr
    return done.returncode, {line.split()[1]: line for line in lines}


@pytest.fixture
def repo() -> Iterator[Path]:
    folder = Cluster(make_folder("houniao-faults-check-"))
    try:
        yield folder.root / "repo"
    finally:
        folder.destroy()


def failing(url: str) -> dict[str, str]:
    """The details of the checks that fail, by name."""
    return {r.name: r.detail for r in run_checks(sqlalchemy_url(url)) if r.status == FAIL}


def test_check_reports_each_part_and_fails_when_one_is_wrong(
    site: Site, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bare site: no scheduler leader (the fixture's API runs without it), no backups.
    code, lines = check(site)
    assert code == 1
    assert {name for name, line in lines.items() if line.startswith("fail")} == {
        "scheduler",
        "backup",
    }, lines
    assert "at head" in lines["migrations"] and "active since" in lines["release"]

    # Everything in place: a leader, a base backup, a replica, data under the active key.
    site.serve(**SCHEDULER)
    answer = httpx.post(
        f"{site.base}/api/v1/cases",
        headers={"X-API-Key": site.template.api_keys[0]},
        json={
            "category": "other",
            "description": "检查测试 check",
            "lon": site.template.points[0][0],
            "lat": site.template.points[0][1],
            "reporter": {"phone": "13800001111"},
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    assert site.houniao("backup", "init", "--repo", str(repo)).returncode == 0
    site.cluster.stop()
    site.cluster.start()
    made = site.houniao("backup", "base", "--repo", str(repo))
    assert made.returncode == 0, made.stderr
    replica = site.cluster.replica()
    try:
        healthy = {"HOUNIAO_BACKUP_DIR": str(repo), "HOUNIAO_REPLICA_URL": replica.url()}
        code, lines = check(site, **healthy)
        assert code == 0, lines
        assert all(line.startswith("ok") for line in lines.values()), lines
        assert "behind" in lines["replica"] and "h old" in lines["backup"]
        assert "houniao-scheduler pid" in lines["scheduler"]
        # The HMAC key ids in use: the reporter's phone hash is under the single key, id "1".
        assert "HMAC key '1' of ['1']; hashes per key id {'1': 1}" in lines["keys"], lines

        # Each fault is a failing line (in process: the same checks without a CLI start-up).
        for name, value in healthy.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HOUNIAO_BACKUP_MAX_AGE_HOURS", "0.00001")
        assert "older than" in failing(site.url)["backup"]
        monkeypatch.delenv("HOUNIAO_BACKUP_MAX_AGE_HOURS")
        monkeypatch.setenv("HOUNIAO_ENCRYPTION_KEYS", json.dumps({"k2": OTHER_KEY}))
        monkeypatch.setenv("HOUNIAO_ENCRYPTION_KEY_ID", "k2")
        security_settings.cache_clear()
        assert "no longer configured: ['dev1']" in failing(site.url)["keys"]
        monkeypatch.undo()
        # A new HMAC key without the old one: the stored hashes would be missed by every lookup.
        monkeypatch.setenv("HOUNIAO_HMAC_KEYS", json.dumps({"k2": "k2-" + OTHER_KEY}))
        monkeypatch.setenv("HOUNIAO_HMAC_KEY_ID", "k2")
        security_settings.cache_clear()
        assert "HMAC key ids no longer configured: ['1']" in failing(site.url)["keys"]
        monkeypatch.undo()
        security_settings.cache_clear()
        monkeypatch.setenv("HOUNIAO_REPLICA_URL", replica.url())
        replica.stop()
        assert "unreachable" in failing(site.url)["replica"]
    finally:
        replica.destroy()
    site.cluster.scalar("UPDATE alembic_version SET version_num = '0001core'")
    assert "houniao db upgrade" in failing(site.url)["migrations"]

    # No database at all: every line fails, the first says why.
    dead = site.cluster.url().replace(str(site.cluster.port), "1")
    results = run_checks(sqlalchemy_url(dead))
    assert [r.status for r in results] == [FAIL] * len(NAMES)
    assert "unreachable" in results[0].detail
