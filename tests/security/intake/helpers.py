"""Shared moves of the intake attack tests: reports sent over HTTP, the audit rows they leave,
and minimal .xlsx files built byte by byte (so a test can make one of any shape cheaply)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.audit.models import AuditEvent

INTAKE = "/api/v1/intake/reports"
REVIEW = "/api/v1/residents/review"
IMPORT = "/api/v1/residents/import"


def send(client, caller, channel: str, *reports: dict[str, Any], crs: str = "wgs84"):
    """POST one batch of reports as `caller`; the response, checked to be a 200."""
    response = client.post(
        INTAKE,
        json={"channel": channel, "crs": crs, "reports": list(reports)},
        headers=caller.headers,
    )
    assert response.status_code == 200, response.text
    return response


def at(point: tuple[float, float]) -> dict[str, float]:
    return {"lon": point[0], "lat": point[1]}


def audit_rows(session: Session, action: str) -> list[AuditEvent]:
    session.commit()  # the request's audit rows are written on its commit
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def xlsx_bytes(rows_xml: Iterable[str], *, level: int = 9) -> bytes:
    """A minimal valid .xlsx whose first sheet holds the given <row> elements (inline strings)."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType'
            '="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
            '"xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats'
            '.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id='
            '"rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
            '"worksheets/sheet1.xml"/></Relationships>'
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, body in parts.items():
            z.writestr(name, body)
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            for row in rows_xml:
                sheet.write(row.encode())
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def row_xml(values: Iterable[Any], number: int | None = None) -> str:
    """One <row>; without a number the cells carry no references (Excel's readers accept that,
    and such rows compress to almost nothing)."""
    cells = []
    for i, v in enumerate(values):
        ref = f' r="{chr(ord("A") + i)}{number}"' if number is not None else ""
        if isinstance(v, int | float):
            cells.append(f"<c{ref}><v>{v}</v></c>")
        else:
            cells.append(f'<c{ref} t="inlineStr"><is><t>{v}</t></is></c>')
    row = f' r="{number}"' if number is not None else ""
    return f"<row{row}>{''.join(cells)}</row>"
