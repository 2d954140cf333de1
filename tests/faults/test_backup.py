"""Backup and restore drill: `houniao backup init` switches WAL archiving on, `houniao backup
base` takes a base backup while 8 writers write, more writes follow, then `houniao backup
restore --time` brings a fresh cluster to a moment between two bursts of writes. The restored
cluster holds exactly what was acknowledged before that moment and nothing after it, the same
rows per table, the same encrypted personal data byte for byte (still encrypted, still
decrypting with the configured key ids), and an intact audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.core.config import security_settings
from tests.faults import scenarios
from tests.faults.cluster import Cluster, give_to_owner, make_folder
from tests.faults.site import Site

pytestmark = pytest.mark.timeout(180, func_only=True)  # fixtures bound themselves


@pytest.fixture
def repo() -> Iterator[Path]:
    folder = make_folder("houniao-faults-backup-")
    try:
        yield folder / "repo"
    finally:
        Cluster(folder).destroy()  # removes the folder (nothing runs there)


@pytest.fixture
def fresh() -> Iterator[Cluster]:
    """An empty cluster folder for the restore (no initdb: the restore lays the data out)."""
    cluster = Cluster(make_folder("houniao-faults-restored-"))
    give_to_owner(cluster.root)
    try:
        yield cluster
    finally:
        cluster.destroy()


def test_point_in_time_restore_drill(site: Site, repo: Path, fresh: Cluster) -> None:
    drill = scenarios.point_in_time_restore(site, repo, fresh)
    print("\n", drill.row())
    # What was acknowledged before the target time is there, once; nothing after it.
    assert drill.census.acknowledged >= 8 * scenarios.WARM_UP
    assert drill.census.found == drill.census.acknowledged, drill.census.lost
    assert not drill.census.doubled and not drill.census.wrong_id
    assert not any(drill.census.half_written.values()), drill.census.half_written
    assert drill.later.acknowledged > 0 and drill.later.found == 0
    # Same rows per table, same personal data, still encrypted and readable with today's keys.
    assert drill.restored.rows == drill.source.rows
    assert drill.restored.personal == drill.source.personal
    keys = set(security_settings().encryption_keys)
    for column in ("resident.phone_enc", "intake_report.phone_enc", "cases.reporter_phone_enc"):
        printed = drill.restored.personal[column]
        assert printed.rows > 0, column
        assert set(printed.key_ids) <= keys, (column, printed.key_ids)
    for column, printed in drill.restored.personal.items():
        assert printed.not_encrypted == 0 and printed.undecryptable == 0, (column, printed)
    assert drill.audit_ok, drill.audit_verify
