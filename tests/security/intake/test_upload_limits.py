"""Resource limits of the resident list upload (issue 9): a small .xlsx that expands to a huge
sheet is refused before it is parsed, reading stops one row past the limit, and a dry run does
not wait for (or hold) the intake's lock."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.core.errors import InvalidInput
from geo.residents.intake import excel
from geo.residents.intake.locks import LOCK_KEY
from tests.security.intake.helpers import IMPORT, row_xml, xlsx_bytes
from tests.security.intake.test_payloads import _xlsx

HEADER = ["姓名", "手机号", "地址"]


def _bomb(rows: int) -> bytes:
    return xlsx_bytes([row_xml(HEADER)] + [row_xml([1, 13800001111, 2])] * rows)


def test_a_small_file_that_expands_to_a_huge_sheet_is_refused_before_parsing(client, callers):
    bomb = _bomb(200_000)
    with zipfile.ZipFile(io.BytesIO(bomb)) as z:
        expanded = sum(i.file_size for i in z.infolist())
    assert len(bomb) < 64_000 and expanded > 100 * len(bomb)  # ~45 KB -> ~13 MB
    with pytest.raises(InvalidInput, match="expands"):
        excel.read_table(bomb, "名单.xlsx")
    response = client.post(
        IMPORT,
        headers=callers["community_staff"].headers,
        files={"file": ("名单.xlsx", bomb, "application/octet-stream")},
    )
    assert response.status_code == 422 and "expands" in response.json()["detail"]


def test_reading_stops_one_row_past_the_limit():
    # The sheet ends in malformed XML, megabytes after the limit: a reader that went on would
    # fail with "not a readable .xlsx file" instead.
    good = [row_xml(["王秀英", f"138{i:08d}", f"伊美区{i}号"], i) for i in range(2, 20_000)]
    data = xlsx_bytes([row_xml(HEADER, 1), *good, "<row><c><<<not xml"], level=1)
    assert len(excel.xlsx_rows(data, limit=51)) == 51
    with pytest.raises(InvalidInput, match="more than 50 rows"):
        excel.read_table(data, "名单.xlsx", max_rows=50)


@pytest.fixture
def intake_lock_held(engine: Engine) -> Iterator[None]:
    """Another connection holds the intake's lock (a long commit running) for the test."""
    with engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        try:
            yield
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})


def test_a_dry_run_does_not_wait_for_the_intake_lock(
    client, session, callers, here, intake_lock_held
):
    session.execute(text("SET LOCAL lock_timeout = '3s'"))  # waiting would end in an error
    data = _xlsx(HEADER, [["欧阳建国", "13599990000", here["address"]]])
    dry = client.post(
        IMPORT,
        headers=callers["community_staff"].headers,
        files={"file": ("名单.xlsx", data, "application/octet-stream")},
        data={"channel": "grid_worker"},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"]["new"] == 1 and not dry.json()["committed"]
    held = session.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
            " AND pid = pg_backend_pid() AND classid::bigint = :hi AND objid::bigint = :lo"
        ),
        {"hi": LOCK_KEY >> 32, "lo": LOCK_KEY & 0xFFFFFFFF},
    )
    assert held == 0
