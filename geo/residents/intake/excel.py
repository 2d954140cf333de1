"""Reading resident lists from Excel (.xlsx) and CSV files with Chinese headers.

Headers (each with the variants offices write): 姓名, 性别, 身份证号, 手机号, 出生年份 or
年龄 (or one column 出生年份/年龄 holding either: a four-digit year is a year, else an age),
来源地, 职业, 地址, 经度, 纬度, 坐标系, 入住日期, 预计离开日期, 离开日期, 住房类型, 同住人数,
备注. The header row may sit below a title row. Unknown columns are listed and
ignored; a file with neither 姓名 nor 身份证号 is refused.

Files are read within limits: an .xlsx whose parts unpack to far more than the file's size (a
"zip bomb") is refused before parsing, and reading stops one row past MAX_ROWS.

ID and phone columns are read as text. A spreadsheet that stored an ID number as a number has
already lost its last digits (Excel keeps 15 significant digits): such a row is rejected with that
explanation rather than guessed. CSV files may be UTF-8 (with or without BOM) or GB18030/GBK,
as Excel on Chinese Windows writes them.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from annotated_types import MaxLen

from geo.core.errors import InvalidInput
from geo.core.inputs import MAX_TAGS, NUL, NUL_MESSAGE, TAG_LENGTH
from geo.residents.intake.pipeline import Item
from geo.residents.intake.records import ReportIn

MAX_ROWS = 100_000
HEADER_SEARCH = 10  # rows in which the header row may sit (below title rows)
# Unpacked size of an .xlsx that is refused unread: more than EXPANSION times the file (real
# sheets expand 5-20 times) once above EXPANSION_FLOOR, or above MAX_UNPACKED in any case.
EXPANSION = 100
EXPANSION_FLOOR = 8 * 1024 * 1024
MAX_UNPACKED = 256 * 1024 * 1024
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "居民姓名", "候鸟姓名"),
    "sex": ("性别",),
    "id_number": ("身份证号", "身份证号码", "身份证", "证件号码", "公民身份号码", "身份证件号码"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "手机", "联系方式"),
    "birth_year": ("出生年份", "出生年", "出生年月", "出生日期"),
    "age": ("年龄",),
    # One column holding a year or an age, as the CLI's --help prints it.
    "birth_year_or_age": ("出生年份/年龄", "出生年份或年龄", "年龄/出生年份", "出生年/年龄"),
    "origin": ("来源地", "来源城市", "来源省市", "户籍地", "常住地"),
    "occupation": ("职业", "原职业", "退休前职业"),
    "address": ("地址", "居住地址", "在伊住址", "现住址", "住址", "暂住地址"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "crs": ("坐标系", "crs"),
    "arrived_on": ("入住日期", "入住时间", "到达日期", "抵达日期", "来伊日期"),
    "expected_departure": ("预计离开日期", "预计离开时间", "预计返程日期", "预计离开"),
    "departed_on": ("离开日期", "离开时间", "实际离开日期"),
    "housing_type": ("住房类型", "居住类型", "住房性质", "居住方式"),
    "household_size": ("同住人数", "同住人口", "同住人员数"),
    "tags": ("需求标签", "兴趣爱好", "标签"),
    "note": ("备注", "说明"),
    "external_id": ("编号", "登记编号"),
}
TEXT_FIELDS = {"id_number", "phone"}
DATE_FIELDS = {"arrived_on", "expected_departure", "departed_on"}
_LOOKUP = {re.sub(r"\s", "", h).lower(): f for f, hs in HEADERS.items() for h in hs}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR = re.compile(r"(19\d{2}|20\d{2})")
_EXCEL_EPOCH = date(1899, 12, 30)
# A cell holds at most what the same field may hold in a report sent to the API (ReportIn);
# tags come as one cell ("就医, 太极拳"); other columns (dates, numbers) at most CELL_LENGTH.
FIELD_LENGTHS = {
    name: next(m.max_length for m in info.metadata if isinstance(m, MaxLen))
    for name, info in ReportIn.model_fields.items()
    if any(isinstance(m, MaxLen) for m in info.metadata)
} | {"tags": MAX_TAGS * (TAG_LENGTH + 1)}
CELL_LENGTH = 200


@dataclass
class Table:
    filename: str
    headers: list[str]
    fields: dict[int, str]  # column index -> field
    ignored: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "rows": len(self.items),
            "columns": {self.headers[i]: f for i, f in sorted(self.fields.items())},
            "ignored_columns": self.ignored,
        }


def header_field(text: Any) -> str | None:
    """The field a header names, or None.

    >>> header_field(" 身份证号码（必填）"), header_field("经度"), header_field("血型")
    ('id_number', 'lon', None)
    """
    if text is None:
        return None
    key = unicodedata.normalize("NFKC", str(text))
    key = re.sub(r"[(（\[【].*?[)）\]】]", "", key)  # (必填), (选填), units
    key = re.sub(r"[\s*:：]", "", key).lower()
    return _LOOKUP.get(key)


def read_table(data: bytes, filename: str, *, max_rows: int = MAX_ROWS) -> Table:
    """Rows of an .xlsx or .csv file as intake items (fields under English keys; the row as
    read, under its own headers, kept as received). More than `max_rows` rows below the
    header are refused; reading stops at the first one too many.

    A cell with a NUL character (a CSV saved as UTF-16, or not text at all) or longer than its
    field allows refuses the whole file, naming the row and column: nothing of it is stored.
    """
    if NUL in filename:
        raise InvalidInput(f"the file name {NUL_MESSAGE}")
    suffix = Path(filename).suffix.lower()
    limit = max_rows + HEADER_SEARCH + 1  # enough to find the header and one row too many
    if suffix in (".xlsx", ".xlsm"):
        check_expansion(data, filename)
        rows = xlsx_rows(data, limit)
    elif suffix in (".csv", ".txt"):
        rows = _csv_rows(data, limit)
    elif suffix == ".xls":
        raise InvalidInput("old .xls files are not read: save the sheet as .xlsx or .csv")
    else:
        raise InvalidInput(f"{filename}: give an .xlsx or .csv file")
    return _table(filename, rows, max_rows)


def check_expansion(data: bytes, filename: str) -> None:
    """Refuse an .xlsx whose parts unpack to far more than the file itself, from the sizes its
    zip directory declares (Python's zipfile never unpacks more than declared), unread."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise InvalidInput(f"{filename}: not a readable .xlsx file (not a zip archive)") from None
    if unpacked > MAX_UNPACKED or unpacked > max(EXPANSION_FLOOR, EXPANSION * len(data)):
        raise InvalidInput(
            f"{filename}: the file expands to {unpacked // 1024 // 1024} MB when unpacked,"
            f" {unpacked // max(len(data), 1)} times its size; a resident list does not:"
            f" save it again from Excel, or split it"
        )


def xlsx_rows(data: bytes, limit: int) -> list[tuple[int, list[Any]]]:
    """The first `limit` rows of the first sheet, numbered from 1 (the rest is never parsed)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(_sized(data)), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # read what is there, not what the file claims (lazily)
        rows = islice(sheet.iter_rows(values_only=True), limit)
        out = [(i, list(row)) for i, row in enumerate(rows, 1)]
        book.close()
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InvalidInput(f"not a readable .xlsx file ({type(exc).__name__})") from None
    return out


_SHEET_PART = re.compile(r"(^|/)worksheets/[^/]+\.xml$")
_SHEET_START = re.compile(rb"<(\w+:)?worksheet\b[^>]*>")
_DIMENSION = re.compile(rb"<(\w+:)?dimension\b")
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData\b")
_HEAD = 64 * 1024


def _sized(data: bytes) -> bytes:
    """The .xlsx with a <dimension> at the head of every sheet that has none.

    openpyxl sizes each sheet when it opens the workbook: from <dimension>, which Excel writes
    first, or else by parsing the whole sheet - which would read every row of a sheet made to be
    large before the first one is used. The placeholder only makes opening cheap; the rows are
    then read without it (`reset_dimensions`).
    """
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        unsized = {}
        for info in z.infolist():
            if not _SHEET_PART.search(info.filename):
                continue
            with z.open(info) as part:
                head = part.read(_HEAD)
            start, data_at = _SHEET_START.search(head), _SHEET_DATA.search(head)
            dimension = _DIMENSION.search(head)
            if start and (dimension is None or (data_at and dimension.start() > data_at.start())):
                unsized[info.filename] = start
        if not unsized:
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as copy:
            for info in z.infolist():
                body = z.read(info)
                if (start := unsized.get(info.filename)) is not None:
                    prefix = start.group(1) or b""
                    tag = b"<" + prefix + b'dimension ref="A1"/>'
                    body = body[: start.end()] + tag + body[start.end() :]
                copy.writestr(info, body, zipfile.ZIP_DEFLATED, compresslevel=1)
    return out.getvalue()


def _csv_rows(data: bytes, limit: int) -> list[tuple[int, list[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise InvalidInput("the CSV file is neither UTF-8 nor GB18030/GBK")
    rows = islice(csv.reader(io.StringIO(text)), limit)
    return [(i, row) for i, row in enumerate(rows, 1)]


def _table(filename: str, rows: list[tuple[int, list[Any]]], max_rows: int = MAX_ROWS) -> Table:
    header_at = None
    for k, (_, row) in enumerate(rows[:HEADER_SEARCH]):
        if sum(header_field(c) is not None for c in row) >= 2:
            header_at = k
            break
    if header_at is None:  # rows are not listed: without a header they may be personal data
        raise InvalidInput(
            f"{filename}: no header row found in the first {HEADER_SEARCH} rows"
            " (expected 姓名, 身份证号, 手机号, 地址, ...)"
        )
    headers = ["" if c is None else str(c).strip() for c in rows[header_at][1]]
    fields: dict[int, str] = {}
    ignored = []
    for i, h in enumerate(headers):
        f = header_field(h)
        if f is None:
            if h:
                ignored.append(h)
        elif f in fields.values():
            raise InvalidInput(f"{filename}: two columns mean {f} ({h!r} and another)")
        else:
            fields[i] = f
    if not {"name", "id_number"} & set(fields.values()):
        raise InvalidInput(
            f"{filename}: needs a 姓名 or 身份证号 column; the columns found are"
            f" {_listing(headers)}"
        )
    table = Table(filename, headers, fields, ignored)
    body = rows[header_at + 1 :]
    if len(body) > max_rows:
        raise InvalidInput(f"{filename}: more than {max_rows} rows; split the file")
    field_of = {headers[i]: f for i, f in fields.items()}
    for number, row in body:
        if all(c is None or str(c).strip() == "" for c in row):
            continue
        table.items.append(_item(number, row, headers, fields, field_of))
    return table


def _listing(headers: list[str], limit: int = 30) -> str:
    """Headers for a message: the first `limit`, blank ones left out, 40 characters at most."""
    shown = [h[:40] for h in headers if h][:limit]
    more = len([h for h in headers if h]) - len(shown)
    return (", ".join(shown) or "(none)") + (f" and {more} more" if more > 0 else "")


def _item(
    number: int,
    row: list[Any],
    headers: list[str],
    fields: dict[int, str],
    field_of: dict[str, str],
) -> Item:
    as_received: dict[str, Any] = {}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for i, f in fields.items():
        cell = row[i] if i < len(row) else None
        if isinstance(cell, str):
            _check_cell(cell, number, headers[i], FIELD_LENGTHS.get(f, CELL_LENGTH))
        as_received[headers[i]] = _plain(cell)
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        if f in TEXT_FIELDS and isinstance(cell, float | int) and not isinstance(cell, bool):
            if f == "id_number":
                problems.append(
                    f"{headers[i]} was stored as a number, so Excel kept only 15 digits and the"
                    " rest are lost: format the column as text and enter the numbers again"
                )
                continue
            cell = str(int(cell)) if float(cell).is_integer() else str(cell)
        if f == "birth_year_or_age":
            value = _value("birth_year", cell)  # an int when a year was found, else the text
            values["birth_year" if isinstance(value, int) else "age"] = value
        else:
            values[f] = _value(f, cell)
    return Item(
        fields=values,
        as_received=as_received,
        field_of=field_of,
        row_number=number,
        problems=problems,
    )


def _check_cell(cell: str, number: int, header: str, limit: int) -> None:
    if NUL in cell:
        raise InvalidInput(
            f"row {number}, column {header}: {NUL_MESSAGE}; save the file as UTF-8 CSV or .xlsx"
        )
    if len(cell) > limit:
        raise InvalidInput(
            f"row {number}, column {header}: {len(cell):,} characters, at most {limit:,}"
        )


def _plain(cell: Any) -> Any:
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    if isinstance(cell, float) and not math.isfinite(cell):
        return str(cell)
    return cell


def _value(f: str, cell: Any) -> Any:
    if f in DATE_FIELDS:
        return _date(cell)
    if f == "birth_year":
        if isinstance(cell, datetime | date):
            return cell.year
        m = _YEAR.search(str(cell))
        return int(m[1]) if m else str(cell)
    if f in ("lon", "lat"):
        if isinstance(cell, int | float):
            return float(cell)
        text = str(cell).strip()
        try:
            return float(text)
        except ValueError:
            return text  # normalize says what is wrong
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    return cell


def _date(cell: Any) -> Any:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, int | float) and 20000 < cell < 80000:  # an Excel serial day number
        return _EXCEL_EPOCH + timedelta(days=int(cell))
    text = unicodedata.normalize("NFKC", str(cell)).strip()
    if m := _DATE.match(text) or _COMPACT_DATE.match(text):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return text
    return text
