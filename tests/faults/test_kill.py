"""`kill -9` of the PostgreSQL postmaster while 8 clients file cases and intake reports.

Bookings (issue 13) do not exist yet; they join this test when they land.
"""

from __future__ import annotations

import pytest

from tests.faults import scenarios
from tests.faults.site import Site

pytestmark = pytest.mark.timeout(120, func_only=True)  # fixtures bound themselves


def test_kill_postmaster_loses_nothing_acknowledged(site: Site) -> None:
    outcome = scenarios.kill_postmaster(site)
    print("\n", outcome.row(), outcome.notes)
    census = outcome.census
    # While the database was down or starting up the API said 503 (retry), never 500.
    assert outcome.during and set(outcome.during) == {503}, outcome.during
    assert not outcome.unexpected, outcome.unexpected[:5]
    assert set(outcome.overall) <= {200, 201, 503}, outcome.overall
    # ... and recovered by itself: the same API process, writes acknowledged again.
    assert outcome.api_restarts == 0
    assert outcome.recover_seconds < 10
    # Every acknowledged write is there exactly once; nothing half-written.
    assert census.acknowledged >= 8 * scenarios.WARM_UP
    assert census.found == census.acknowledged, census.lost
    assert not census.doubled, census.doubled
    assert not census.wrong_id, census.wrong_id
    assert not any(census.half_written.values()), census.half_written
    assert outcome.audit_ok, outcome.audit_verify
