"""`houniao services …` through the installed entry point, against the test database: a dry
run lists matches, unmatched and idle entries; the stale list; bad options exit 2 with a line.

Its rows are committed (the CLI is another process) in the city's last community, so the
other tests of the lists (the test community's street, the demo's first communities) never
see them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.cases.conftest import point_in
from tests.community.lists.conftest import STREET, demand, make_stale, resource
from tests.db import test_database_url

LAST_CELL_SQL = (
    "SELECT code FROM grid_cell WHERE left(code, 9) <> :street ORDER BY code DESC LIMIT 1"
)
HOUNIAO = str(Path(sys.executable).with_name("houniao"))


@pytest.fixture(scope="module")
def far(engine):
    """A demand, a resource that serves it, and a stale resource, committed in a far street."""
    with Session(engine) as session:
        # The last cell of the city: far from the test street and from the demo's communities.
        cell = session.execute(text(LAST_CELL_SQL), {"street": STREET}).scalar_one()
        x, y = point_in(session, cell)
        d = demand(session, x, y, title="CLI需求")
        r = resource(session, x, y, title="CLI资源")
        old = resource(session, x, y, title="CLI过期资源")
        make_stale(session, "community_resource", old)
        session.commit()
    return cell[:12], d, r, old


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}
    return subprocess.run(
        [HOUNIAO, "services", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_match_dry_run_and_lists(far):
    community, d, r, old = far
    out = _run("match", "--community", community)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert [(m["demand_id"], m["resource_id"]) for m in got["matches"]] == [(d, r)]
    assert not got["committed"] and "dry run" in out.stderr
    listed = _run("unmatched", "--community", community)
    mine = json.loads(listed.stdout)[0]["communities"][0]
    assert [x["id"] for x in mine["unmatched_demands"]] == [d]  # a dry run made no plan
    assert mine["stale_resources"] == 1
    stale = json.loads(_run("stale", "--community", community).stdout)
    assert [x["id"] for x in stale["resources"]["resources"]] == [old]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("match", "--community", "12"), "community"),
        (("match", "--street", "230717001", "--commit"), "owner"),
        (("match",), "community or the street"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, words):
    out = _run(*args)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
