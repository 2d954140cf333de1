"""The planner's density beyond the map: the table of cells by month with its CSV, and two
seasons side by side; the map itself starts at the peak month with Chinese month labels and
district and street outlines. Every number is a published one (small counts hidden)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Role
from geo.privacy.windows import season_months
from tests.planning.test_forecast import seasons  # noqa: F401  (the fixture)
from tests.security.conftest import add_account, app_client, bearer  # noqa: F401

K = 10
SEASON = 2024
BROWSER = {"accept": "text/html"}


@pytest.fixture
def get(seasons: Session, app_client):  # noqa: ANN001, F811
    """GET as a planner (or `role`)."""
    client = app_client()
    tokens = {}

    def fetch(path: str, role: Role = Role.planner, **params):  # noqa: ANN202
        if role not in tokens:
            tokens[role] = bearer(seasons, add_account(seasons, f"t-density-{role}", role))
        return client.get(path, params=params, headers={**BROWSER, **tokens[role]})

    return fetch


def _raw(session: Session, season: int) -> dict[tuple[str, str], int]:
    """The true residents per (month, cell) of the season, before suppression."""
    rows = session.execute(
        text(
            "SELECT to_char(month, 'YYYY-MM'), cell_code, sum(residents)::int FROM presence_month"
            " WHERE month >= make_date(:s, 5, 1) AND month < make_date(:s + 1, 5, 1)"
            " AND cell_code IS NOT NULL GROUP BY 1, 2"
        ),
        {"s": season},
    )
    return {(m, c): n for m, c, n in rows}


def _published(get, season: int) -> dict[tuple[str, str], int | None]:  # noqa: ANN001
    r = get("/api/v1/residents/density", season=season)
    assert r.status_code == 200, r.text
    return {(x["month"], x["cell_code"]): x["residents"] for x in r.json()["rows"]}


def test_csv_is_the_published_table_for_excel(seasons: Session, get) -> None:  # noqa: F811, ANN001
    r = get("/api/v1/residents/density.csv", season=SEASON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="houniao-density-2024.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese headers as UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    months = season_months(SEASON)
    assert rows[0] == ["网格编码", "网格", "社区编码", "社区", *months, "不公开的月份（少于阈值）"]
    published, raw = _published(get, SEASON), _raw(seasons, SEASON)
    cells = {c for _, c in published}
    assert {row[0] for row in rows[1:]} == cells and len(rows) - 1 == len(cells)
    hidden_seen = 0
    for row in rows[1:]:
        code, values, hidden = row[0], row[4:-1], row[-1].split()
        for month, value in zip(months, values, strict=True):
            shown = published[month, code]
            true = raw.get((month, code), 0)
            if shown is None:  # hidden: an empty field, named in the last column
                assert value == "" and month in hidden
                hidden_seen += 1
            else:
                assert value == str(shown) == str(true) and month not in hidden
            if 0 < true < K:
                assert value == ""
    assert hidden_seen > 0, "the world has small counts: some must be hidden"


def test_table_page_shows_the_same_numbers(seasons: Session, get) -> None:  # noqa: F811, ANN001
    r = get("/maps/density/table", season=SEASON)
    assert r.status_code == 200, r.text
    page = r.text
    assert "2024 季" in page and 'href="/api/v1/residents/density.csv?season=2024"' in page
    assert "2024年5月" in page and "2025年4月" in page  # months in Chinese
    published = _published(get, SEASON)
    body = page.split("<tbody>")[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    assert len(rows) == len({c for _, c in published})
    for row in rows:
        code = re.findall(r"<td>(\d{15})</td>", row)[0]
        cells = re.findall(r'<td class="(?:n|hidden|zero)">([^<]*)</td>', row)
        for month, shown in zip(season_months(SEASON), cells, strict=True):
            value = published[month, code]
            assert shown == (f"少于{K}" if value is None else str(value))
    numbers = [int(v) for v in re.findall(r'<td class="n">(\d+)</td>', body)]
    assert numbers and min(numbers) >= K
    assert 'class="peak"' in page


def test_two_seasons_side_by_side(seasons: Session, get) -> None:  # noqa: F811, ANN001
    r = get("/maps/density/compare", season=SEASON, other=SEASON - 1, month=7)
    assert r.status_code == 200, r.text
    page = r.text
    assert "2023 季 · 7月" in page and "2024 季 · 7月" in page
    assert ".sync(" in page and "/static/vendor/leaflet.sync/L.Map.Sync.js" in page
    assert "https://" not in page.split("<body>")[0]  # nothing from a CDN
    assert "month=8" in page and "other=2022" in page  # the other months, an earlier left side
    drawn = [int(v) for v in re.findall(r"(\d+) 人", page)]
    assert all(v == 0 or v >= K for v in drawn), drawn
    default = get("/maps/density/compare", season=SEASON)  # the peak month, the season before
    assert default.status_code == 200 and "2023 季 ·" in default.text


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"season": SEASON, "other": SEASON}, "two different seasons"),
        ({"season": SEASON, "month": 13}, "month"),
        ({"season": 1999}, "season"),
    ],
)
def test_compare_refuses_what_it_cannot_draw(get, params, words) -> None:  # noqa: ANN001
    r = get("/maps/density/compare", **params)
    assert r.status_code == 422 and words in r.text


@pytest.mark.parametrize(
    "path", ["/maps/density/compare", "/maps/density/table", "/api/v1/residents/density.csv"]
)
def test_a_grid_worker_gets_none_of_them(get, path: str) -> None:  # noqa: ANN001
    assert get(path, role=Role.grid_worker, season=SEASON).status_code == 403


def test_density_map_starts_at_the_peak_month_with_outlines(seasons: Session, get) -> None:  # noqa: F811, ANN001
    page = get("/maps/density", season=SEASON).text
    published = _published(get, SEASON)
    totals: dict[str, int] = {}
    for (month, _), n in published.items():
        totals[month] = totals.get(month, 0) + (n or 0)
    peak = max(totals, key=totals.get)
    start = int(re.search(r"let current_timestamp = timestamps\[(\d+)\]", page)[1])
    assert season_months(SEASON)[start] == peak
    assert json.dumps("YYYY年M月") in page  # "2024年7月" on the slider
    for layer in ("区界 districts", "街道界 streets"):  # named in the layer control (as JSON)
        assert json.dumps(layer) in page
    assert "/maps/density/compare?season=2024" in page and "/maps/density/table?season=2024" in page


def test_without_a_season_the_latest_with_residents(seasons: Session, get) -> None:  # noqa: F811, ANN001
    """The suite's clock is in 2027's season, where this world has nobody yet."""
    latest = seasons.execute(text("SELECT max(season) FROM presence_season")).scalar_one()
    assert get("/maps/density").text.count(f"<b>{latest} 季</b>") == 1
    assert f"{latest} 季" in get("/maps/density/table").text
