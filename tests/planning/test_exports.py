"""A season's planner figures as files, over real HTTP as a planner: the Excel workbook (one sheet
per figure, Chinese headers) and the GeoPackage (cell polygons, EPSG:4326, read back with GDAL).
A suppressed count reaches neither file: where the published figure is hidden the file is empty
(NULL) and flagged, every shown count is the true one, and the true small counts of the world
(a cell with 1-9 residents) are all among the hidden."""

from __future__ import annotations

import io
from pathlib import Path

import pyogrio
import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Role
from geo.planning.exports import SHEETS
from geo.spatial.boundaries.models import in_release
from tests.planning.test_forecast import seasons  # noqa: F401  (the fixture)
from tests.security.conftest import add_account, app_client, bearer  # noqa: F401

K = 10
SEASON = 2024
FLAG = "已抑制"


@pytest.fixture
def planner_get(seasons: Session, app_client):  # noqa: ANN001, F811
    headers = bearer(seasons, add_account(seasons, "t-planner-export", Role.planner))
    client = app_client()

    def get(path: str, **params):  # noqa: ANN202
        return client.get(path, params=params, headers=headers)

    return get


def _raw_cells(session: Session, season: int) -> dict[str, int]:
    """The true residents per cell of the season (before suppression)."""
    rows = session.execute(
        text(
            "SELECT cell_code, sum(residents)::int FROM presence_season"
            " WHERE season = :s AND cell_code IS NOT NULL GROUP BY 1"
        ),
        {"s": season},
    )
    return dict(rows.all())


def _sheet_rows(sheet) -> tuple[list[str], list[dict]]:  # noqa: ANN001
    values = list(sheet.iter_rows(values_only=True))
    headers = list(values[0])
    width = len(headers)  # a read-only sheet drops a row's trailing empty cells
    return headers, [
        dict(zip(headers, (*row, *[None] * (width - len(row))), strict=True)) for row in values[1:]
    ]


def test_workbook_has_every_figure_and_no_suppressed_number(
    seasons: Session,  # noqa: F811
    planner_get,  # noqa: ANN001
) -> None:
    r = planner_get("/api/v1/planning/export.xlsx", season=SEASON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="houniao-planning-2024.xlsx"' in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames == ["说明", *SHEETS.values()]
    flagged = 0
    for name in SHEETS.values():
        headers, rows = _sheet_rows(book[name])
        counts = [h for h in headers if h + FLAG in headers]
        assert counts, f"{name}: no count column"
        for row in rows:
            for h in counts:
                value, flag = row[h], row[h + FLAG]
                assert flag in ("是", "否"), (name, h, flag)
                if flag == "是":  # suppressed: empty, never a number
                    assert value is None, (name, h, row)
                    flagged += 1
                else:
                    assert isinstance(value, int) and (value == 0 or value >= K), (name, h, row)
    assert flagged > 0, "the world has small counts: some must be flagged"
    # The true counts behind the cells: shown ones are exact; every small one is suppressed.
    headers, rows = _sheet_rows(book["在住人数"])
    assert headers[:4] == ["时段", "层级", "区域代码", "名称"]
    cells = {r["区域代码"]: r for r in rows if r["时段"] == "全季" and r["层级"] == "网格"}
    raw = _raw_cells(seasons, SEASON)
    assert set(cells) == set(raw)
    small = [c for c, n in raw.items() if 0 < n < K]
    assert small, "the world has cells with 1-9 residents"
    for cell, n in raw.items():
        shown = cells[cell]["在住人数"]
        assert shown is None or shown == n
        if 0 < n < K:
            assert shown is None and cells[cell]["在住人数" + FLAG] == "是"
    forecast = _sheet_rows(book["预测"])[1]
    assert {r["层级"] for r in forecast} == {"网格", "社区", "街道", "区县", "全市"}
    for row in forecast:  # an interval only beside a shown forecast
        if row["预测在住"] is None:
            assert row["区间下限"] is None and row["区间上限"] is None
        else:
            assert row["区间下限"] <= row["预测在住"] <= row["区间上限"]


def test_geopackage_layers_on_the_cells_with_nulls_for_suppressed_counts(
    seasons: Session,  # noqa: F811
    planner_get,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    r = planner_get("/api/v1/planning/export.gpkg", season=SEASON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geopackage+sqlite3"
    assert 'filename="houniao-planning-2024.gpkg"' in r.headers["content-disposition"]
    path = tmp_path / "planning.gpkg"
    path.write_bytes(r.content)
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert layers == ["presence_cells", "presence_cell_months", "forecast_cells", "coverage_cells"]
    cells = seasons.scalar(
        text(
            "SELECT count(*) FROM grid_cell g JOIN boundary_release r ON r.status = 'active'"
            f" AND {in_release('g', 'r.id')}"
        )
    )
    for layer in layers:
        info = pyogrio.read_info(path, layer=layer)
        assert info["crs"] == "EPSG:4326" and info["geometry_type"] == "Polygon", layer
    frame = pyogrio.read_dataframe(path, layer="presence_cells")
    assert len(frame) == cells and frame.geometry.is_valid.all()
    raw = _raw_cells(seasons, SEASON)
    hidden = frame[frame["residents_suppressed"]]
    assert len(hidden) > 0 and hidden["residents"].isna().all()
    for row in frame.itertuples():
        n = raw.get(row.cell_code, 0)
        if row.residents_suppressed:
            assert n != 0  # hidden: NULL, the number stays out
        else:
            assert row.residents == n and (n == 0 or n >= K), (row.cell_code, n)
    for c, n in raw.items():
        if 0 < n < K:
            assert frame.loc[frame.cell_code == c, "residents_suppressed"].item()
    months = pyogrio.read_dataframe(path, layer="presence_cell_months", read_geometry=False)
    assert len(months) == 12 * cells
    shown = months.loc[~months["residents_suppressed"], "residents"]
    assert ((shown == 0) | (shown >= K)).all() and months["residents_suppressed"].any()
    assert months.loc[months["residents_suppressed"], "residents"].isna().all()
    coverage = pyogrio.read_dataframe(path, layer="coverage_cells", read_geometry=False)
    assert set(coverage["walk_method"]) == {"network"}
    assert coverage["service_area_minutes"].notna().any()
    assert coverage.loc[coverage["residents_suppressed"], "residents"].isna().all()
    forecast = pyogrio.read_dataframe(path, layer="forecast_cells", read_geometry=False)
    assert set(forecast["season"]) == {SEASON + 1}
    assert (
        forecast.loc[forecast["residents_suppressed"], ["residents", "low", "high"]]
        .isna()
        .all(axis=None)
    )


def test_exports_are_for_planners_and_say_what_is_wrong(
    session: Session,
    app_client,  # noqa: ANN001, F811
) -> None:
    client = app_client()
    planner = bearer(session, add_account(session, "t-planner-exp2", Role.planner))
    dispatcher = bearer(session, add_account(session, "t-dispatch-exp", Role.dispatcher))
    for kind in ("xlsx", "gpkg"):
        url = f"/api/v1/planning/export.{kind}"
        assert client.get(url, params={"season": SEASON}).status_code == 401
        refused = client.get(url, params={"season": SEASON}, headers=dispatcher)
        assert refused.status_code == 403 and set(refused.json()) == {"detail"}
        early = client.get(url, params={"season": 1999}, headers=planner)
        assert early.status_code == 422
        empty = client.get(url, params={"season": 2010}, headers=planner)
        assert empty.status_code == 404
        assert "no residents were present in season 2010" in empty.json()["detail"]
        future = client.get(url, params={"season": 2030}, headers=planner)
        assert future.status_code == 422 and "has not begun" in future.json()["detail"]


def test_openapi_documents_the_files(session: Session, app_client) -> None:  # noqa: ANN001, F811
    doc = app_client().get("/openapi.json").json()
    for kind, mime in (
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("gpkg", "application/geopackage+sqlite3"),
    ):
        op = doc["paths"][f"/api/v1/planning/export.{kind}"]["get"]
        assert mime in op["responses"]["200"]["content"] and op["x-roles"] == ["planner"]
        assert "season" in {p["name"] for p in op["parameters"]}
