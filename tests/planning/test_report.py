"""The season report: report.html with its sections, plots and no suppressed number; report.pdf
printed by headless Chromium, several pages, its text holding the Chinese headings (so the CJK
font is embedded); and `houniao report season` refusing bad input in one line, exit code 2."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.planning import season_figures
from maps.report import season as report
from maps.report.pdf import RendererMissing
from tests.api.test_cli import run  # noqa: F401  (the fixture)
from tests.planning.test_forecast import seasons  # noqa: F401  (the fixture)
from tests.planning.test_presence_figures import PLANNER

K = 10
SEASON = 2024
CELL = re.compile(r'<td class="n( s)?"[^>]*>([^<]*)</td>')


def _row(html: str, first_cell: str) -> str:
    """The table row whose first cell is `first_cell`."""
    found = re.search(rf"<tr><td>{re.escape(first_cell)}</td>(.*?)</tr>", html, re.S)
    assert found, first_cell
    return found.group(1)


def test_the_report_in_html_and_pdf(
    seasons: Session,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    figures = season_figures.season_figures(seasons, PLANNER, SEASON)
    steps: list[str] = []
    (tmp_path / "ok").mkdir()
    paths = report.write_report(figures, tmp_path / "ok", steps.append)
    assert steps[-1] == "pdf" and len(steps) == report.PLOT_STEPS
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["report.html", "report.pdf"]
    html = paths["html"].read_text(encoding="utf-8")
    for section, heading in report.SECTIONS.items():
        assert f'<section id="{section}"' in html and heading in html, section
    assert html.count('src="data:image/svg+xml;base64,') == 6  # months .. forecast
    assert "http://" not in html and "https://" not in html  # self-contained
    # Every count: a shown one is 0 or at least the threshold; a hidden one is "—".
    counts = CELL.findall(html)
    assert len(counts) > 100
    for hidden, value in counts:
        if hidden:
            assert value == report.SUPPRESSED
        else:
            n = int(value.replace(",", ""))
            assert n == 0 or n >= K, value
    assert any(hidden for hidden, _ in counts)
    # The true small counts of the world are among the hidden: the one resident from 海南省,
    # the two winter stays of December 2023 (the year before of December 2024).
    hainan = seasons.scalar(
        text(
            "SELECT count(*) FROM resident r JOIN stay s ON s.resident_id = r.id"
            " WHERE s.season = :s AND r.origin_province = '海南省'"
        ),
        {"s": SEASON},
    )
    assert 0 < hainan < K and _row(html, "海南省").count(report.SUPPRESSED) == 1
    assert str(hainan) not in re.sub(r"<[^>]+>", " ", _row(html, "海南省"))
    december = _row(html, "2024-12")
    assert december.endswith(f"{report.SUPPRESSED}</td>"), december

    pdf = PdfReader(paths["pdf"])
    assert len(pdf.pages) >= 5
    # pypdf reads some ideographs as radicals of the same glyph (月 as ⽉, 鸟 as ⻦): NFKC
    # folds the Kangxi radicals back; the supplement's simplified bird has no such mapping.
    words = unicodedata.normalize("NFKC", "".join(p.extract_text() for p in pdf.pages))
    words = words.replace("\u2ee6", "鸟")
    for heading in (f"候鸟 {SEASON}季 季度报告", *report.SECTIONS.values()):
        assert unicodedata.normalize("NFKC", heading) in words, heading
    fonts = {  # Chromium embeds the CJK glyphs as Type 3 fonts named by their descriptor
        str(font.get("/BaseFont") or font["/FontDescriptor"].get_object()["/FontName"])
        for page in pdf.pages
        for ref in (page["/Resources"].get("/Font") or {}).values()
        for font in [ref.get_object()]
    }
    assert any("NotoSansCJKsc" in f for f in fonts), fonts

    # No Chromium: a message that says what to install, and no half-written report.
    monkeypatch.setenv("HOUNIAO_CHROMIUM", str(tmp_path / "no-chromium"))
    (tmp_path / "failed").mkdir()
    with pytest.raises(RendererMissing, match="install the Debian package chromium"):
        report.write_report(figures, tmp_path / "failed")
    assert list((tmp_path / "failed").iterdir()) == []


def test_report_command_refuses_bad_input_in_one_line(run, tmp_path) -> None:  # noqa: ANN001, F811
    """A season out of range, a season with nobody (the test database holds no residents outside
    the tests' transactions), an OUT that cannot be written: one line, exit 2, nothing made."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        (("1999", "--out", tmp_path / "r"), "seasons run from 2000 to 2100, got 1999"),
        (("2025", "--out", tmp_path / "r"), "no residents were present in season 2025"),
        (("2025", "--out", "/proc/houniao-report"), "cannot write the report to /proc/houniao"),
        (("2025", "--out", blocker / "inside"), f"{blocker} is a file"),
    ]
    for args, message in cases:
        out = run("report", "season", *map(str, args))
        errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
        assert out.returncode == 2 and len(errors) == 1 and message in errors[0], out.stderr
        assert "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_export_command_refuses_bad_input_in_one_line(run, tmp_path) -> None:  # noqa: ANN001, F811
    cases = [
        (("--season", "2025", tmp_path / "a.xlsx"), "no residents were present in season 2025"),
        (("--format", "csv", tmp_path / "a.csv"), "--format must be xlsx or gpkg"),
        (("--format", "gpkg", tmp_path / "none" / "a.gpkg"), "does not exist; create it first"),
    ]
    for args, message in cases:
        out = run("planning", "export", *map(str, args))
        errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
        assert out.returncode == 2 and len(errors) == 1 and message in errors[0], out.stderr
        assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []
