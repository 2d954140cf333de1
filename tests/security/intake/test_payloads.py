"""Hole 2 of issue 9, as the attack: ID and phone numbers under headers the old redaction did not
know (公民身份号码, 证件号码, 联系方式) or inside free text (备注, tags) come back raw from
`GET /intake/reports` and in an archive's `reports[].payload`."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import select

from geo.residents.models import IntakeReport, Resident
from tests.residents.ids import id_number
from tests.security.intake.helpers import IMPORT, INTAKE, at, send
from tests.security.test_privacy_responses import ID_NUMBER, MOBILE


def _xlsx(headers: list[str], rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    for column in sheet.iter_cols():
        for cell in column:
            cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _raw_numbers(text: str) -> list[str]:
    return ID_NUMBER.findall(text) + MOBILE.findall(text)


def test_numbers_under_any_mapped_header_or_in_free_text_never_come_back(
    client, session, callers, here
):
    staff = callers["community_staff"]
    files = [
        _xlsx(
            ["姓名", "公民身份号码", "联系方式", "居住地址", "备注"],
            [
                [
                    "上官秀梅",
                    id_number(seq=611),
                    "13566667777",
                    here["address"],
                    "子女电话13800001234，身份证440106195503126118",
                ]
            ],
        ),
        _xlsx(
            ["姓名", "证件号码", "联系电话", "现住址", "说明"],
            [
                [
                    "上官建华",
                    id_number(seq=613),
                    "135-6666-8888",
                    here["address2"],
                    "女儿 139 1234 5678",
                ]
            ],
        ),
    ]
    for data in files:
        done = client.post(
            IMPORT,
            headers=staff.headers,
            files={"file": ("名单.xlsx", data, "application/octet-stream")},
            data={"channel": "grid_worker", "commit": "true"},
        )
        assert done.status_code == 200 and done.json()["committed"], done.text
    send(
        client,
        callers["grid_worker"],
        "grid_worker",
        {
            "name": "上官志强",
            "phone": "13566669999",
            **at(here["point"]),
            "note": "儿子手机13700001111",
            "tags": ["联系人13600002222"],
        },
    )

    listed = client.get(INTAKE, headers=staff.headers)
    assert listed.status_code == 200 and listed.json()["total"] == 3
    assert _raw_numbers(listed.text) == []
    payloads = {
        x["payload"].get("姓名") or x["payload"].get("name"): x["payload"]
        for x in listed.json()["items"]
    }
    assert payloads["上官秀梅"]["公民身份号码"].count("*") == 8
    assert payloads["上官秀梅"]["联系方式"] == "135****7777"
    assert "138****1234" in payloads["上官秀梅"]["备注"]
    assert payloads["上官建华"]["证件号码"].count("*") == 8

    session.commit()
    for name in ("上官秀梅", "上官建华", "上官志强"):
        resident = session.scalar(select(Resident.id).where(Resident.name == name))
        archive = client.get(f"/api/v1/residents/{resident}", headers=staff.headers)
        assert archive.status_code == 200 and _raw_numbers(archive.text) == []
    # What is stored in the clear holds no number either (the full payload is encrypted).
    for payload, note, tags in session.execute(
        select(IntakeReport.payload, IntakeReport.note, IntakeReport.tags)
    ):
        assert _raw_numbers(f"{payload} {note} {tags}") == []
