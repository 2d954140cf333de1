"""Excel/CSV import with Chinese headers: every header variant, every bad row, dry run, all or
nothing, the upload endpoint for staff and the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from geo.residents.intake import excel, imports
from geo.residents.models import IntakeReport, Resident
from tests.db import test_database_url
from tests.residents.conftest import CELL, SYSTEM
from tests.residents.ids import bad_check_digit, id_number

HEADERS = [
    "姓名",
    "性别",
    "身份证号",
    "手机号",
    "出生年份",
    "来源地",
    "职业",
    "地址",
    "经度",
    "纬度",
    "坐标系",
    "入住日期",
    "预计离开日期",
    "离开日期",
    "住房类型",
    "同住人数",
    "备注",
]
HOUNIAO = str(Path(sys.executable).with_name("houniao"))


def xlsx(
    rows: list[list],
    headers: list[str] = HEADERS,
    title: str | None = "伊春市候鸟人员登记表",
    id_as_text: bool = True,
) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    if id_as_text:
        for cell in sheet["C"]:
            cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def row(here, name="李桂兰", idn=None, phone="13912340001", **kw) -> list:
    lon, lat = here["point"]
    values = {
        "姓名": name,
        "性别": "女",
        "身份证号": idn if idn is not None else id_number(birth="19520101", seq=222),
        "手机号": phone,
        "出生年份": 1952,
        "来源地": "海南海口",
        "职业": "退休护士",
        "地址": here["address"],
        "经度": lon,
        "纬度": lat,
        "坐标系": "WGS84",
        "入住日期": date(2026, 5, 15),
        "预计离开日期": "2026/9/30",
        "离开日期": None,
        "住房类型": "短租",
        "同住人数": 2,
        "备注": "腿脚不便",
    }
    values.update(kw)
    return [values[h] for h in HEADERS]


@pytest.mark.parametrize(
    ("header", "field"),
    [(h, f) for f, hs in excel.HEADERS.items() for h in hs]
    + [
        ("身份证号码（必填）", "id_number"),
        (" 手机号码 ", "phone"),
        ("经度(°)", "lon"),
        ("出生年月*", "birth_year"),
    ],
)
def test_every_header_variant_is_recognised(header, field):
    assert excel.header_field(header) == field


def test_variant_headers_title_rows_and_cell_formats_read_alike(here):
    headers = [
        "序号",
        "居民姓名",
        "性别",
        "身份证号码",
        "联系电话",
        "年龄",
        "来源城市",
        "原职业",
        "现住址",
        "入住时间",
        "预计返程日期",
        "居住类型",
        "同住人口",
        "说明",
    ]
    data = xlsx(
        [
            [
                1,
                "张淑珍",
                "女",
                "23070219550312002x",
                13800001111,
                "70",
                "哈尔滨",
                "退休工人",
                here["address"],
                46150,
                "2026年9月30日",
                "自有",
                "2",
                "无",
            ]
        ],
        headers,
        title="表一",
    )
    table = excel.read_table(data, "list.xlsx")
    assert table.ignored == ["序号"]
    (item,) = table.items
    f = item.fields
    assert f["id_number"] == "23070219550312002x" and f["phone"] == "13800001111"
    assert f["arrived_on"] == date(2026, 5, 8) and f["expected_departure"] == date(2026, 9, 30)
    assert f["age"] == "70" and item.row_number == 3 and item.as_received["居民姓名"] == "张淑珍"


def test_csv_in_gbk_and_utf8_with_bom(here):
    text = "姓名,身份证号,手机号,地址\n王建国,440106195503121231,013912345678,{}\n".format(
        here["address"]
    )
    for encoding in ("gbk", "utf-8-sig"):
        table = excel.read_table(text.encode(encoding), "list.csv")
        assert table.items[0].fields["phone"] == "013912345678"  # text: leading zero kept
        assert table.items[0].fields["name"] == "王建国"


def test_files_that_cannot_be_read_say_why():
    with pytest.raises(Exception, match="no header row"):
        excel.read_table(b"a,b\n1,2\n", "x.csv")
    with pytest.raises(Exception, match="姓名 or 身份证号") as caught:
        excel.read_table("手机号,地址,血型\n1,2,3\n".encode(), "x.csv")
    assert "the columns found are 手机号, 地址, 血型" in str(caught.value)
    with pytest.raises(Exception, match=".xls"):
        excel.read_table(b"", "old.xls")


def test_the_year_or_age_header_printed_by_help_is_honoured(here):
    """`houniao import residents --help` prints 出生年份/年龄: one column, a year or an age."""
    text = "姓名,出生年份/年龄,地址\n王建国,1955,{a}\n李秀英,68,{a}\n张三,1950年3月,{a}\n".format(
        a=here["address"]
    )
    table = excel.read_table(text.encode(), "list.csv")
    assert table.fields == {0: "name", 1: "birth_year_or_age", 2: "address"}
    years = [(i.fields.get("birth_year"), i.fields.get("age")) for i in table.items]
    assert years == [(1955, None), (None, "68"), (1950, None)]


def test_a_dry_run_names_no_row_or_resident_that_does_not_exist(session, here):
    """Report ids and ids of residents the file would create are rolled back with it; a row of
    the same person names the row that would create them."""
    first = row(here, name="周文", phone="13912340011", 身份证号=id_number(seq=411))
    again = row(here, name="周文", phone="13912340011", 身份证号=id_number(seq=411), 备注="复诊")
    table = excel.read_table(xlsx([first, again]), "list.xlsx")
    report = imports.run_import(session, SYSTEM, table, channel="police")
    assert not report["committed"]
    created, linked = report["rows"]
    assert created["decision"] == "new" and linked["decision"] in ("linked", "review")
    assert [r["report_id"] for r in report["rows"]] == [None, None]
    assert created["resident_id"] is None and linked["resident_id"] is None
    assert linked["same_person_as_row"] == created["row"]
    kept = imports.run_import(session, SYSTEM, table, channel="police", commit=True)
    assert kept["committed"] and all(r["report_id"] for r in kept["rows"])
    assert kept["rows"][0]["resident_id"] == kept["rows"][1]["resident_id"] is not None


def test_dry_run_reports_every_row_and_writes_nothing(session, here):
    good = row(here)
    rows = [
        good,
        row(here, name="赵大", idn=bad_check_digit(id_number(seq=301)), phone="13912340002"),
        row(here, name="赵二", idn="", phone="13912340003", 经度="NaN"),
        row(here, name="赵三", idn="", phone="13912340004", 坐标系="火星坐标系"),
        good,  # the same row twice
        row(
            here,
            name="赵五",
            idn="",
            phone="13912340005",
            经度=None,
            纬度=None,
            坐标系=None,
            地址="不存在小区",
        ),
    ]
    table = excel.read_table(xlsx(rows), "list.xlsx")
    before = session.scalar(select(func.count()).select_from(IntakeReport))
    report = imports.run_import(session, SYSTEM, table, channel="grid_worker")
    assert not report["committed"] and "dry run" in report["message"]
    assert report["counts"] == {"new": 1, "linked": 0, "review": 0, "rejected": 5}
    by_row = {r["row"]: r for r in report["rows"]}
    assert by_row[3]["decision"] == "new"
    assert "check digit" in by_row[4]["reason"]
    assert "finite" in by_row[5]["reason"]
    assert "unknown crs" in by_row[6]["reason"]
    assert "duplicate of row 3" in by_row[7]["reason"]
    assert "address not found" in by_row[8]["reason"]
    assert session.scalar(select(func.count()).select_from(IntakeReport)) == before


def test_commit_is_all_or_nothing(session, here):
    rows = [
        row(here),
        row(here, name="钱大", idn=bad_check_digit(id_number(seq=303)), phone="13912340009"),
    ]
    table = excel.read_table(xlsx(rows), "list.xlsx")
    refused = imports.run_import(session, SYSTEM, table, channel="police", commit=True)
    assert not refused["committed"] and "nothing imported" in refused["message"]
    assert session.scalar(select(func.count()).select_from(Resident)) == 0
    kept = imports.run_import(
        session, SYSTEM, table, channel="police", commit=True, skip_rejected=True
    )
    assert kept["committed"] and kept["counts"]["new"] == 1
    assert session.scalar(select(func.count()).select_from(IntakeReport)) == 2  # rejected kept
    r = session.scalar(select(Resident))
    assert r.cell_code == CELL and r.origin_city == "海口市" and r.sex == "F"


def test_an_id_stored_as_a_number_is_refused_not_guessed(session, here):
    rows = [row(here, idn=440106195201012220)]
    table = excel.read_table(xlsx(rows, id_as_text=False), "list.xlsx")
    report = imports.run_import(session, SYSTEM, table, channel="police")
    assert "Excel kept only 15 digits" in report["rows"][0]["reason"]


def test_staff_upload_endpoint(client, callers, here):
    data = xlsx([row(here)])
    files = {"file": ("list.xlsx", data, "application/octet-stream")}
    url = "/api/v1/residents/import"
    # Staff report as the grid (their own channel); another channel is refused.
    dry = client.post(
        url,
        files=files,
        data={"channel": "grid_worker"},
        headers=callers["community_staff"].headers,
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"]["new"] == 1 and not dry.json()["committed"]
    done = client.post(
        url,
        files=files,
        data={"commit": "true"},
        headers=callers["community_staff"].headers,
    )
    assert done.json()["committed"] and done.json()["channel"] == "grid_worker"
    claimed = client.post(
        url, files=files, data={"channel": "merchant"}, headers=callers["community_staff"].headers
    )
    assert claimed.status_code == 422 and "reports for channel grid_worker" in claimed.text
    worker = client.post(
        url, files=files, data={"channel": "merchant"}, headers=callers["grid_worker"].headers
    )
    assert worker.status_code == 403


def test_cli_import_dry_run_and_commit(engine, tmp_path, here):
    path = tmp_path / "候鸟登记.xlsx"
    path.write_bytes(
        xlsx([row(here, name="孙秀梅", phone="13912349999", 身份证号=id_number(seq=998))])
    )
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def run(*args):
        return subprocess.run(
            [HOUNIAO, "import", "residents", str(path), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    dry = run("--channel", "grid_worker")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["counts"]["new"] == 1 and "dry run" in dry.stderr
    assert "dry run: nothing written, use --commit" in dry.stderr
    assert json.loads(dry.stdout)["rows"][0]["report_id"] is None
    bad = run("--channel", "taxi")
    assert bad.returncode == 2 and "unknown channel" in bad.stderr
    done = run("--channel", "grid_worker", "--commit")
    try:
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["committed"]
    finally:  # committed for real: remove it again
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text("SET LOCAL houniao.role = 'system'"))
            for table in ("stay", "intake_report", "resident", "intake_batch"):
                conn.execute(text(f"DELETE FROM {table}"))
