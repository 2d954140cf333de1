"""Disk full on the database's volume (data directory and WAL on a small tmpfs, filled by a
ballast file): writes are refused with a clear 503, reads go on, and once the space returns the
same API writes again and nothing is lost, doubled or corrupted (pg_amcheck, pg_checksums, the
audit chain)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.faults import scenarios
from tests.faults.cluster import tmpfs
from tests.faults.site import Site, Template, running_site

pytestmark = pytest.mark.timeout(150, func_only=True)  # fixtures bound themselves
HEADROOM_MB = 40  # beyond the template's data directory: room to start and to write a while


@pytest.fixture
def site_on_small_volume(template: Template) -> Iterator[Site]:
    used = subprocess.run(
        ["du", "-sm", str(template.cluster.data)], capture_output=True, text=True, check=True
    )
    size = int(used.stdout.split()[0]) + HEADROOM_MB
    with tmpfs(size) as volume, running_site(template, data=volume / "data") as site:
        yield site


def test_disk_full_refuses_writes_cleanly_and_loses_nothing(site_on_small_volume: Site) -> None:
    site = site_on_small_volume
    outcome = scenarios.disk_full(site, site.cluster.data.resolve().parent)
    print("\n", outcome.row(), outcome.notes)
    census, notes = outcome.census, outcome.notes
    # Writes: refused with 503 and a message that says why; never a 500.
    assert 503 in outcome.during, outcome.during
    assert set(outcome.overall) <= {200, 201, 503}, outcome.overall
    assert not outcome.unexpected, outcome.unexpected[:5]
    assert any("out of disk space" in message for message in notes["refusals"]), notes
    # Reads went on while the disk was full.
    assert notes["reads_during"] and set(notes["reads_during"]) == {200}, notes["read_failures"]
    # Space back: the same API writes again; nothing lost, doubled, half-written or corrupted.
    assert outcome.api_restarts == 0
    assert census.found == census.acknowledged >= 8 * scenarios.WARM_UP, census.lost
    assert not census.doubled and not census.wrong_id, census.doubled + census.wrong_id
    assert not any(census.half_written.values()), census.half_written
    assert outcome.audit_ok, outcome.audit_verify
    assert notes["storage"] == {}, notes["storage"]
