"""`houniao load synthetic` at a tiny scale, through its entry point, on a database of its own
(`<test database>_synthetic`, dropped at the end): the counts asked for, every point inside its
cell, consistent references and scopes, personal fields as the real tables hold them, presence
equal to a full rebuild, the same rows for the same seed, and bad arguments refused in one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session

from geo.core import clock
from geo.core.config import database_settings
from geo.core.db import drop_database
from geo.demo import synthetic
from geo.privacy import crypto, ids, masking
from geo.residents.intake.persons import id_birth_date
from tests.db import engine_for, test_database_url
from tests.live import houniao

CELLS, RESIDENTS, STAYS, OPEN = 200, 2000, 6000, 500
SCALE = ("--cells", str(CELLS), "--residents", str(RESIDENTS), "--stays", str(STAYS))
SCALE += ("--open-cases", str(OPEN))


@dataclass
class World:
    url: URL
    engine: Engine
    output: dict[str, Any]
    stderr: str
    as_of: str


def main_url() -> str:
    """The database the command treats as the main one (DATABASE_URL); never written."""
    return test_database_url().render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    url = test_database_url(synthetic.SUFFIX)  # the name the command derives by itself
    as_of = clock.today().isoformat()
    try:
        done = houniao(main_url(), "load", "synthetic", *SCALE, "--as-of", as_of, "--replace")
        assert done.returncode == 0, done.stderr[-3000:]
        engine = engine_for(url)
        try:
            yield World(url, engine, json.loads(done.stdout), done.stderr, as_of)
        finally:
            engine.dispose()
    finally:
        drop_database(url)


def scalar(world: World, sql: str) -> Any:
    with world.engine.connect() as conn:
        return conn.scalar(text(sql))


def test_counts_match_the_arguments(world: World) -> None:
    counts = world.output["counts"]
    assert counts["residents"] == RESIDENTS and counts["stays"] == STAYS
    assert counts["open_cases"] == OPEN and counts["case_events"] == OPEN
    assert counts["cells"] == CELLS and counts["grid_workers"] == CELLS
    assert counts["communities"] == scalar(world, "SELECT count(*) FROM service_area")
    assert world.output["database"] == world.url.database
    for table, n in (("resident", RESIDENTS), ("stay", STAYS), ("cases", OPEN)):
        assert scalar(world, f"SELECT count(*) FROM {table}") == n
    active = "(SELECT id FROM boundary_release WHERE status = 'active')"
    assert scalar(world, f"SELECT count(*) FROM grid_cell WHERE release_low = {active}") == CELLS
    assert scalar(world, "SELECT count(*) FROM cases WHERE status = 'reported'") == OPEN
    assert scalar(world, "SELECT count(*) FROM audit_event") == 0  # none written: chain intact
    assert "through COPY" in world.stderr and "hours" in world.stderr


def test_every_point_lies_in_its_own_cell_and_no_other(world: World) -> None:
    for table in ("stay", "cases"):
        outside = scalar(
            world,
            f"SELECT count(*) FROM {table} t LEFT JOIN grid_cell g ON g.code = t.cell_code"
            "  AND ST_Covers(g.geom, t.geom) WHERE g.code IS NULL",
        )
        assert outside == 0, table
        shared = scalar(
            world,
            f"SELECT count(*) FROM {table} t WHERE (SELECT count(*) FROM grid_cell g"
            "  WHERE ST_Covers(g.geom, t.geom)) <> 1",
        )
        assert shared == 0, table
        scopes = scalar(
            world,
            f"SELECT count(*) FROM {table} WHERE community_code <> left(cell_code, 12)"
            "  OR street_code <> left(cell_code, 9)",
        )
        assert scopes == 0, table


def test_stays_residents_and_cases_are_consistent(world: World) -> None:
    without_stay = "SELECT count(*) FROM resident r WHERE NOT EXISTS (SELECT 1 FROM stay s"
    assert scalar(world, without_stay + " WHERE s.resident_id = r.id)") == 0
    # the resident's scope is its latest stay's, and first/last seen bracket its stays
    assert (
        scalar(
            world,
            "SELECT count(*) FROM resident r JOIN LATERAL (SELECT * FROM stay s"
            "  WHERE s.resident_id = r.id ORDER BY season DESC LIMIT 1) s ON true"
            " WHERE s.cell_code <> r.cell_code OR r.first_seen_at > r.last_seen_at",
        )
        == 0
    )
    # every open case has exactly its first event: reported, at the grid tier, when filed
    assert (
        scalar(
            world,
            "SELECT count(*) FROM cases c WHERE (SELECT count(*) FROM case_event e"
            "  WHERE e.case_id = c.id AND e.action = 'report' AND e.to_status = 'reported'"
            "  AND e.to_tier = 'grid' AND e.at = c.reported_at AND e.from_status IS NULL) <> 1",
        )
        == 0
    )
    assert scalar(world, "SELECT count(*) FROM case_event") == OPEN
    # deadlines from the catalogue (the trigger ran under COPY), the release the cells are in
    assert (
        scalar(
            world,
            "SELECT count(*) FROM cases c JOIN case_time_limit l ON l.category_code = c.category_code"
            "  AND l.grade = c.grade WHERE c.due_at <> c.reported_at + l.total_limit"
            "  OR c.release_id <> (SELECT id FROM boundary_release WHERE status = 'active')",
        )
        == 0
    )
    # new rows after the load get fresh ids (the sequences moved past the copied ones)
    assert scalar(world, "SELECT nextval(pg_get_serial_sequence('stay', 'id'))") == STAYS + 1


def test_personal_fields_are_encrypted_hashed_and_masked(world: World) -> None:
    with Session(world.engine) as session:
        rows = session.execute(
            text(
                "SELECT id_number_enc, id_number_hash, id_number_masked, birth_date, sex,"
                " phone_enc, phone_hash, phone_masked FROM resident"
            )
        ).all()
        cases = session.execute(
            text(
                "SELECT reporter_phone_enc, reporter_phone_hash, reporter_phone_masked"
                " FROM cases WHERE reporter_phone_enc IS NOT NULL"
            )
        ).all()
    numbers = set()
    for id_enc, id_hash, id_mask, birth, sex, phone_enc, phone_hash, phone_mask in rows:
        number = crypto.decrypt(id_enc, context="resident.id_number")
        assert ids.validate_id_number(number) == number  # check digit and date valid
        assert id_birth_date(number) == birth and ("M" if int(number[16]) % 2 else "F") == sex
        assert crypto.lookup_hash(number, kind="id_number") == id_hash
        assert masking.mask_id_number(number) == id_mask
        phone = crypto.decrypt(phone_enc, context="resident.phone")
        assert ids.validate_mobile(phone) == phone
        assert crypto.lookup_hash(phone, kind="phone") == phone_hash
        assert masking.mask_phone(phone) == phone_mask
        numbers.add(number)
    assert len(numbers) == RESIDENTS  # unique ID numbers
    assert cases, "some cases are filed by the public with a phone"
    for enc, digest, mask in cases:
        phone = crypto.decrypt(enc, context="case.reporter_phone")
        assert crypto.lookup_hash(phone, kind="phone") == digest
        assert masking.mask_phone(phone) == mask


def test_presence_equals_a_full_rebuild(world: World) -> None:
    tables = ("presence_stay", "presence_day", "presence_month", "presence_season")
    sql = (
        "SELECT * FROM ("
        + " UNION ALL ".join(
            f"SELECT '{t}', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x"
            for t in tables
        )
        + ") q ORDER BY 1"
    )
    with world.engine.connect() as conn:
        loaded = conn.execute(text(sql)).all()
        assert conn.scalar(text("SELECT count(*) FROM presence_day")) > 0
        conn.execute(text("SELECT presence_rebuild()"))
        assert conn.execute(text(sql)).all() == loaded
        conn.rollback()


def test_the_same_seed_gives_the_same_rows(world: World) -> None:
    again = synthetic.SUFFIX + "_again"
    url = test_database_url(again)
    try:
        done = houniao(
            main_url(),
            *("load", "synthetic", *SCALE, "--as-of", world.as_of),
            *("--database", url.database or "", "--replace"),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        other = engine_for(url)
        try:
            with Session(world.engine) as a, Session(other) as b:
                assert synthetic.fingerprint(a) == synthetic.fingerprint(b)
        finally:
            other.dispose()
    finally:
        drop_database(url)


TINY = ("--cells", "1", "--residents", "0", "--stays", "0", "--open-cases", "0")


def cli(*args: str) -> Any:
    """The command in this process (typer's runner on the same app): a process per refusal
    spent seconds importing. Aimed at a scratch name with tiny counts, so that a refusal that
    fails to refuse writes little, and nowhere that matters (dropped below)."""
    from typer.testing import CliRunner

    from api.cli.main import app

    scratch = test_database_url(synthetic.SUFFIX + "_refused")
    try:
        return CliRunner().invoke(
            app, ["load", "synthetic", *TINY, "--database", scratch.database or "", *args]
        )
    finally:
        drop_database(scratch)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cells", "0"), "--cells must be 1 to"),
        (("--residents=-5",), "--residents must not be negative"),
        (("--residents", "100", "--stays", "99"), "every resident has a stay"),
        (("--residents", "10", "--stays", "500"), "20 per resident"),
        (("--as-of", "yesterday"), "is not a date"),
    ],
)
def test_bad_arguments_exit_2_in_one_line(args: tuple[str, ...], message: str) -> None:
    out = cli(*args)
    assert out.exit_code == 2 and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")


def test_the_main_and_a_non_empty_database_are_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", main_url())  # this process's settings read it anew
    database_settings.cache_clear()
    try:
        out = cli("--database", test_database_url().database or "")
    finally:
        monkeypatch.undo()
        database_settings.cache_clear()
    assert out.exit_code == 2 and "is the main database" in out.stderr, out.stderr
    # the real entry point's exit code, on the database the command derives (the world's)
    done = houniao(main_url(), "load", "synthetic", *TINY)
    assert done.returncode == 2 and "is not empty; add --replace" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert scalar(world, "SELECT count(*) FROM resident") == RESIDENTS  # left as it was


def test_help_says_it_writes_through_copy() -> None:
    out = cli("--help")
    assert out.exit_code == 0 and "COPY" in out.stdout and "hours" in out.stdout
