"""`pg_terminate_backend` of the API's connections mid-request, again and again: each request
fails cleanly (503, Retry-After) or goes through on a fresh connection, and the writers' retries
(same Idempotency-Key, same external_id) never double a row."""

from __future__ import annotations

import pytest

from tests.faults import scenarios
from tests.faults.site import Site

pytestmark = pytest.mark.timeout(120, func_only=True)  # fixtures bound themselves


def test_terminated_connections_fail_cleanly_and_retries_never_double(site: Site) -> None:
    outcome = scenarios.terminate_backends(site)
    print("\n", outcome.row(), outcome.notes)
    census = outcome.census
    assert sum(outcome.notes["terminated"].values()) > 0
    assert (
        outcome.notes["terminated"].get("active", 0)
        + outcome.notes["terminated"].get("idle in transaction", 0)
        > 0
    ), "no connection was cut mid-request"
    assert 503 in outcome.overall, outcome.overall  # some requests were cut, and said so
    assert set(outcome.overall) <= {200, 201, 503}, outcome.overall
    assert not outcome.unexpected, outcome.unexpected[:5]
    assert outcome.api_restarts == 0
    assert census.acknowledged >= 8 * scenarios.WARM_UP
    assert census.found == census.acknowledged, census.lost
    assert not census.doubled, census.doubled
    assert not census.wrong_id, census.wrong_id
    assert not any(census.half_written.values()), census.half_written
    assert outcome.audit_ok, outcome.audit_verify
