"""The `houniao` CLI through its installed entry point, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import text

from tests.db import test_database_url

HOUNIAO = str(Path(sys.executable).with_name("houniao"))


@pytest.fixture
def run(engine):
    env = {**os.environ, "DATABASE_URL": test_database_url().render_as_string(hide_password=False)}

    def _run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [HOUNIAO, *args], capture_output=True, text=True, env=env, timeout=120
        )

    return _run


def test_locate_prints_json(run, engine):
    with engine.connect() as conn:
        code, lon, lat = conn.execute(
            text(
                "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p"
                " FROM grid_cell ORDER BY code LIMIT 1) q"
            )
        ).one()
    result = run("locate", f"{lon:.7f}", f"{lat:.7f}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cell_code"] == code
    outside = run("locate", "125.0", "45.0")  # Harbin's south, far from Yichun
    assert outside.returncode == 2 and "outside the covered area" in outside.stderr


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("locate", "47.7", "129.0"), "swap"),
        (("locate", "128.9", "47.7", "--crs", "web"), "accepted values"),
        (("locate", "--", "nan", "47.7"), "finite"),
    ],
)
def test_locate_bad_input_exits_nonzero_with_message(run, args, fragment):
    result = run(*args)
    assert result.returncode != 0 and fragment in result.stderr and "Traceback" not in result.stderr


def test_import_boundaries_dry_run_reports_and_writes_nothing(run, engine, tmp_path):
    with engine.connect() as conn:
        frame = gpd.read_postgis(
            text("SELECT code, name, geom FROM grid_cell WHERE community_code = '230717001001'"),
            conn,
            geom_col="geom",
        )
        releases_before = conn.execute(text("SELECT count(*) FROM boundary_release")).scalar()
    path = tmp_path / "cells.gpkg"
    frame.to_file(path, engine="pyogrio")
    ok = run("import", "boundaries", str(path), "--level", "grid")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and "Dry run" in ok.stderr

    frame.loc[0, frame.geometry.name] = frame.geometry[0].buffer(0.002)
    frame.to_file(path, engine="pyogrio")
    bad = run("import", "boundaries", str(path), "--level", "grid", "--commit")
    assert bad.returncode == 2
    report = json.loads(bad.stdout.split("\n}\n")[0] + "\n}")
    assert {p["problem"] for p in report["problems"]} >= {"overlap", "outside_parent"}
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM boundary_release")).scalar() == releases_before
        )
