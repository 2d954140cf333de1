"""`houniao contacts overdue` through the installed entry point, against the test database:
the list (one overdue resident, one contacted yesterday) and the per-cell counts, --days;
bad options exit 2 with one line. Its rows are committed (the CLI is another process) in the
city's last cell, far from the other tests, and removed after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.contacts import service
from geo.community.contacts.schemas import ContactCreate
from geo.core import clock
from tests.community.contacts.conftest import make_present
from tests.db import test_database_url

LAST_CELL_SQL = "SELECT code FROM grid_cell ORDER BY code DESC LIMIT 1"
HOUNIAO = str(Path(sys.executable).with_name("houniao"))


@pytest.fixture(scope="module")
def far(engine) -> Iterator[tuple[str, int, int]]:
    with Session(engine) as session:
        cell = session.execute(text(LAST_CELL_SQL)).scalar_one()
        late = make_present(session, "CLI久未联系", cell, arrived_days_ago=40)
        fresh = make_present(session, "CLI昨日联系", cell, arrived_days_ago=40)
        service.log_contact(
            session,
            Principal.system("cli-test"),
            ContactCreate(
                resident_id=fresh, channel="call", contacted_on=clock.today() - timedelta(days=1)
            ),
        )
        session.commit()
    yield cell, late, fresh
    with Session(engine) as session:
        as_system(session)
        ids = {"ids": [late, fresh]}
        # Stays first, their presence triggers on: with them off the counts would outlive them.
        session.execute(text("DELETE FROM stay WHERE resident_id = ANY(:ids)"), ids)
        session.execute(text("SET LOCAL session_replication_role = replica"))  # append-only log
        session.execute(text("DELETE FROM contact_log WHERE resident_id = ANY(:ids)"), ids)
        session.execute(text("DELETE FROM resident WHERE id = ANY(:ids)"), ids)
        session.commit()


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}
    return subprocess.run(
        [HOUNIAO, "contacts", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_overdue_lists_and_counts(far):
    cell, late, fresh = far
    out = _run("overdue", "--cell", cell)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert [i["resident_id"] for i in got["items"]] == [late]
    assert got["on"] == str(clock.today()) and "not contacted for 14 days" in out.stderr
    one_day = json.loads(_run("overdue", "--cell", cell, "--days", "1").stdout)
    assert {i["resident_id"] for i in one_day["items"]} == {late, fresh}
    counts = json.loads(_run("overdue", "--counts", "--community", cell[:12]).stdout)
    mine = next(c for c in counts["cells"] if c["cell_code"] == cell)
    assert mine == {
        "cell_code": cell,
        "present": 2,
        "with_contact": 0,
        "overdue": 1,
        "never_contacted": 1,
    }


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("overdue", "--days", "0"), "days must be between 1 and 365"),
        (("overdue", "--community", "12"), "12-digit"),
        (("overdue", "--cell", "x"), "15-digit"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, words):
    out = _run(*args)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
