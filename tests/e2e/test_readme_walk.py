"""The README walked as a newcomer would, so it and the software cannot drift apart.

CLI: every line of the README's command list is a command whose `--help` names the options the
line writes, and each command is run: read-only ones as written against the demo site's
database, writing ones on scratch databases; each keeps the promise its line makes.
URLs: every row of the README's table names routes that exist, its "who" agrees with the
routes' declared roles, and each URL is requested as every role and without a token against
the live demo site, checking status, content type and the row's promise.
Adding a command or a row without a walk here, or changing one, fails a test.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from starlette.routing import compile_path

from api.app import create_app
from api.auth import route_policies
from geo.access.principal import PUBLIC, Role
from geo.core import migrate
from geo.core.db import drop_database
from geo.demo.load import load_yichun
from geo.spatial.boundaries.models import in_release
from geo.spatial.crs import Crs, from_wgs84, parse_file_crs
from geo.spatial.features.export import BOUNDARY_LAYERS
from tests.db import recreate_database, test_database_url
from tests.e2e import readme
from tests.live import free_port
from tests.site import OWN_CELL, Site

HOUNIAO = str(Path(sys.executable).with_name("houniao"))
COMMUNITY, STREET = OWN_CELL[:12], OWN_CELL[:9]


# ---- the CLI ---------------------------------------------------------------------------


def run(dsn: str, *args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": dsn, "HOUNIAO_SCHEDULER": "0", "COLUMNS": "250"}
    return subprocess.run(
        [HOUNIAO, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.args, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    return result


def failed(result: subprocess.CompletedProcess) -> str:
    """An expected failure: one line `error: ...`, exit code 2, no traceback."""
    assert result.returncode == 2, (result.args, result.returncode, result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return errors[0]


def every_command() -> list[tuple[str, ...]]:
    return [c for line in readme.cli_lines() for c in readme.commands(line)]


def test_every_cli_line_is_a_command_that_takes_its_options() -> None:
    """In one process (typer's runner on the same app): a process per `--help` spent minutes
    importing; the commands themselves run as processes below."""
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    env = {"DATABASE_URL": "postgresql://nowhere.invalid/none", "COLUMNS": "250"}
    for line in readme.cli_lines():
        for command in readme.commands(line):
            result = runner.invoke(app, [*command, "--help"], env=env)
            assert result.exit_code == 0, (command, result.output[-2000:])
            for option in readme.options(line):
                assert option in result.stdout, (
                    f"{line!r}: `houniao {' '.join(command)}` has no {option}"
                )


def test_the_crs_values_the_cli_list_names_are_accepted() -> None:
    (line,) = [x for x in readme.cli_lines() if x.startswith("houniao import boundaries")]
    named = re.search(r"--crs ([^\]\s]+)", line).group(1).split("|")
    assert named == ["wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:n"]
    for value in [n for n in named if n != "EPSG:n"] + ["EPSG:4326", "EPSG:4490", "EPSG:4552"]:
        parse_file_crs(value)


@dataclass
class Walk:
    """What the scenarios share: the site (read-only use), scratch databases, a folder."""

    site: Site
    scratch: str  # DSN of a migrated database with the Yichun boundaries, for writes
    scratch_engine: Engine
    empty: str  # DSN of an empty database, for migrations
    tmp: Path
    state: dict = field(default_factory=dict)

    def read(self, *args: str | Path) -> subprocess.CompletedProcess:
        return run(self.site.database_url, *args)

    def write(self, *args: str | Path) -> subprocess.CompletedProcess:
        return run(self.scratch, *args)

    def inside(self) -> tuple[float, float]:
        with self.scratch_engine.connect() as conn:
            x, y = conn.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
                    " WHERE code = :c ORDER BY release_low DESC LIMIT 1) q"
                ),
                {"c": OWN_CELL},
            ).one()
        return float(x), float(y)


def _db_upgrade(w: Walk) -> None:
    head = migrate.revisions()[-1]
    assert f"is at {head}; nothing to do" in ok(w.read("db", "upgrade")).stderr
    done = ok(run(w.empty, "db", "upgrade")).stderr
    assert f"upgraded: empty (no migration) -> {head}" in " ".join(done.split())
    assert "unknown revision 'nope'" in failed(run(w.empty, "db", "upgrade", "nope"))


def _db_downgrade(w: Walk) -> None:
    head = migrate.revisions()[-1]
    done = ok(run(w.empty, "db", "downgrade")).stderr
    assert f"downgraded: {head} -> empty (no migration)" in " ".join(done.split())


def _load_yichun(w: Walk) -> None:
    again = ok(w.read("load", "yichun"))  # once: the site was loaded with it already
    assert "already loaded; nothing to do" in again.stderr
    first = w.site.load_output
    assert re.search(r"━+ (\d+)/\1 ", first), first[:500]  # a progress bar, run to its end
    assert "DEMO ACCOUNTS" in first  # one per role, loudly marked
    # stderr labels each account; its secret goes to stdout, so the labels run on in stderr
    shown = re.findall(r"DEMO (\w+)\s+demo-", first)
    assert sorted(shown) == sorted(r for r in w.site.names), shown


def _load_synthetic(w: Walk) -> None:
    """A tiny province on the database the command derives from the scratch one (checked row by
    row in tests/demo/test_synthetic.py); the scratch database itself is never written."""
    tiny = ("--cells", "20", "--residents", "50", "--stays", "100", "--open-cases", "10")
    done = ok(w.write("load", "synthetic", *tiny, "--replace"))
    out = json.loads(done.stdout)
    try:
        assert out["database"] == f"{make_url(w.scratch).database}_synthetic"
        assert out["counts"]["residents"] == 50 and out["counts"]["open_cases"] == 10
        assert "through COPY" in done.stderr and re.search(r"━+ (\d+)/\1 ", done.stderr)
    finally:
        drop_database(make_url(w.scratch).set(database=out["database"]))


ACTIVE_RELEASE = "(SELECT id FROM boundary_release WHERE status = 'active')"


def _boundary_file(w: Walk, level: str, filename: str, **rename: str) -> Path:
    table, where = {
        "grid": ("grid_cell", f"community_code = '{COMMUNITY}'"),
        "community": ("community", f"street_code = '{STREET}'"),
    }[level]
    with w.scratch_engine.connect() as conn:
        frame = gpd.read_postgis(
            text(
                f"SELECT code, name, geom FROM {table} WHERE {where} AND release_high IS NOT NULL"
                f" AND {in_release(table, ACTIVE_RELEASE)}"
            ),
            conn,
            geom_col="geom",
        )
    path = w.tmp / filename
    frame.assign(**rename).to_file(path, engine="pyogrio")
    return path


def _import_boundaries(w: Walk) -> None:
    cells = _boundary_file(w, "grid", "cells.gpkg")
    for crs in ("wgs84", "cgcs2000", "EPSG:4326"):
        dry = ok(w.write("import", "boundaries", cells, "--level", "grid", "--crs", crs))
        assert json.loads(dry.stdout)["ok"] and "Dry run" in dry.stderr
    ok(
        w.write(
            "import",
            "boundaries",
            _boundary_file(w, "community", "communities.geojson"),
            "--level",
            "community",
        )
    )
    assert "did you" not in failed(
        w.write("import", "boundaries", cells, "--level", "grid", "--crs", "EPSG:3857")
    )
    layered = w.tmp / "two.gpkg"
    for layer in ("cells", "draft"):
        gpd.read_file(cells).to_file(layered, layer=layer, engine="pyogrio")
    assert "--layer" in failed(w.write("import", "boundaries", layered, "--level", "grid"))
    renamed = _boundary_file(w, "grid", "renamed.gpkg", name="新网格")
    written = ok(
        w.write("import", "boundaries", renamed, "--level", "grid", "--commit", "--no-activate")
    )
    w.state["pending"] = int(re.search(r"Release (\d+) written", written.stderr).group(1))
    assert "pending" in written.stderr


def _import_residents(w: Walk) -> None:
    with w.scratch_engine.connect() as conn:
        address = conn.execute(
            text("SELECT full_address FROM address_point WHERE cell_code = :c ORDER BY id LIMIT 1"),
            {"c": OWN_CELL},
        ).scalar_one()
    path = w.tmp / "候鸟登记.csv"
    path.write_text(
        "姓名,性别,出生年份/年龄,来源地,地址,入住日期\n"
        f"林淑华,女,1956,广东广州,{address},2026-06-01\n"
        f"赵国强,男,70,辽宁沈阳,{address},2026-06-02\n",
        encoding="utf-8",
    )
    dry = ok(w.write("import", "residents", path, "--channel", "police"))
    assert "dry run: nothing written, use --commit" in dry.stderr
    report = json.loads(dry.stdout)
    assert report["columns"]["出生年份/年龄"] == "birth_year_or_age"
    assert report["counts"]["new"] == 2 and all(r["report_id"] is None for r in report["rows"])
    done = json.loads(
        ok(w.write("import", "residents", path, "--channel", "police", "--commit")).stdout
    )
    assert done["committed"] and done["counts"]["new"] == 2


def _import_roads(w: Walk) -> None:
    with w.scratch_engine.connect() as conn:
        frame = gpd.read_postgis(
            text(
                "SELECT e.highway, e.geom FROM road_edge e JOIN road_network n"
                " ON n.id = e.network_id AND n.active ORDER BY e.id LIMIT 200"
            ),
            conn,
            geom_col="geom",
        )
    roads = w.tmp / "roads.gpkg"
    frame.to_file(roads, engine="pyogrio")
    loaded = json.loads(ok(w.write("import", "roads", roads, "--name", "walk-roads")).stdout)
    assert loaded["active"] and loaded["edges"] > 0 and loaded["source_crs"].startswith("EPSG:4326")
    bare = w.tmp / "bare.gpkg"
    frame.set_crs(None, allow_override=True).to_file(bare, engine="pyogrio")
    assert "--crs" in failed(w.write("import", "roads", bare))
    ok(w.write("import", "roads", bare, "--crs", "wgs84", "--name", "walk-bare", "--no-activate"))


def _releases_list(w: Walk) -> None:
    listed = json.loads(ok(w.read("releases", "list")).stdout)
    assert [r["status"] for r in listed].count("active") == 1


def _releases_activate(w: Walk) -> None:
    pending = w.state["pending"]
    assert f"Release {pending} is now active" in ok(w.write("releases", "activate", pending)).stderr
    listed = {r["id"]: r["status"] for r in json.loads(ok(w.write("releases", "list")).stdout)}
    assert listed[pending] == "active"


def _locate(w: Walk) -> None:
    x, y = w.inside()
    found = json.loads(ok(w.read("locate", x, y)).stdout)
    assert found["cell_code"] == OWN_CELL and found["grid_workers"]
    gx, gy = (float(v) for v in from_wgs84(x, y, Crs.gcj02))
    for crs, (lon, lat) in (("EPSG:4326", (x, y)), ("gcj02", (gx, gy))):
        assert (
            json.loads(ok(w.read("locate", lon, lat, "--crs", crs)).stdout)["cell_code"] == OWN_CELL
        )
    assert "accepted values" in failed(w.read("locate", x, y, "--crs", "web"))


def _geocode(w: Walk) -> None:
    x, y = w.inside()
    src = w.tmp / "points.csv"
    pd.DataFrame(
        {"id": ["001", "002"], "lon": [str(x), "116.39"], "lat": [str(y), "39.91"]}
    ).to_csv(src, index=False)
    for out in (w.tmp / "cells.csv", w.tmp / "cells_out.gpkg"):
        ok(w.read("geocode", src, out))
    rows = pd.read_csv(w.tmp / "cells.csv", dtype=str, keep_default_na=False)
    assert rows["cell_code"].tolist() == [OWN_CELL, ""]
    assert rows["reason"].iloc[0] == "" and "outside the covered area" in rows["reason"].iloc[1]
    info = pyogrio.read_info(w.tmp / "cells_out.gpkg")
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["lon"] == "float64"


def _users(w: Walk) -> None:
    added = ok(w.write("users", "add", "w-courier", "--role", "channel", "--channel", "courier"))
    first_key = added.stdout.strip().splitlines()[-1]
    assert first_key.startswith("hn_") and "API key of w-courier" in added.stderr
    listed = json.loads(ok(w.write("users", "list", "--role", "channel")).stdout)
    assert "w-courier" in [u["name"] for u in listed]
    assert "role must be one of" in failed(w.write("users", "list", "--role", "bogus"))
    assert "anyone without an account" in failed(
        w.write("users", "add", "w-public", "--role", "public")
    )
    rotated = ok(w.write("users", "rotate-key", "w-courier")).stdout.strip().splitlines()[-1]
    assert rotated.startswith("hn_") and rotated != first_key
    assert "revoked" in ok(w.write("users", "revoke-key", "w-courier")).stderr
    assert "w-courier is disabled" in ok(w.write("users", "disable", "w-courier")).stderr


def _audit_verify(w: Walk) -> None:
    assert "audit log intact" in ok(w.read("audit", "verify")).stderr


def _privacy_purge(w: Walk) -> None:
    dry = ok(w.read("privacy", "purge", "--dry-run"))
    assert "Dry run: nothing changed." in dry.stderr and isinstance(json.loads(dry.stdout), dict)


def _privacy_keys(w: Walk) -> None:
    """Key rotation's two passes, counted on the loaded site (dry runs): nothing under an older
    key, and every encrypted value and lookup hash counted under the active key id."""
    enc = json.loads(ok(w.read("privacy", "rotate-keys", "--dry-run")).stdout)
    assert enc["dry_run"] and set(enc["to_re_encrypt"].values()) == {0}
    with w.site.engine.connect() as conn:
        phones = conn.execute(text("SELECT count(*) FROM resident WHERE phone_enc IS NOT NULL"))
        assert enc["by_key"]["resident.phone_enc"] == {enc["active_key"]: phones.scalar()}
    hashed = ok(w.read("privacy", "rehash", "--dry-run", "--batch-size", "100"))
    out = json.loads(hashed.stdout)
    assert "Dry run: nothing changed." in hashed.stderr and out["batch_size"] == 100
    assert all(todo == {} for todo in out["to_rehash"].values())
    assert set(out["by_key"]["resident.phone_hash"]) == {out["active_hmac_key"]}
    refused = w.read("privacy", "rehash", "--batch-size", "0")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def _escalate_overdue(w: Walk) -> None:
    from geo.access.principal import Principal
    from geo.cases import service
    from geo.cases.schemas import CaseCreate

    x, y = w.inside()
    with Session(w.scratch_engine) as session:
        service.create_case(
            session,
            Principal.anonymous(),
            CaseCreate(
                category="public_facility",
                description="楼道灯坏了 stair light broken",
                lon=x,
                lat=y,
            ),
        )
        session.commit()
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    done = ok(w.write("cases", "escalate-overdue", "--now", later))
    assert len(json.loads(done.stdout)) >= 1
    assert re.search(r"escalated [1-9]\d* case", done.stderr)


def _services(w: Walk) -> None:
    """The lists on the loaded site (its demo lists): what is unmatched, stale, a dry match."""
    streets = json.loads(ok(w.read("services", "unmatched")).stdout)
    assert streets and all(s["communities"] for s in streets)
    stale = json.loads(ok(w.read("services", "stale")).stdout)
    assert set(stale) == {"demands", "resources"}
    street = streets[0]["street_code"]
    dry = ok(w.read("services", "match", "--street", street))
    out = json.loads(dry.stdout)
    assert out["level"] == "street" and not out["committed"] and "dry run" in dry.stderr
    assert "owner" in failed(w.read("services", "match", "--street", street, "--commit"))


def _bookings(w: Walk) -> None:
    """The staff's booking steps on the scratch database (no bookings there: the steps are
    walked with data in tests/bookings/test_cli.py)."""
    out = json.loads(ok(w.write("bookings", "list", "--from", "2026-07-01")).stdout)
    assert out["total"] == 0 and out["bookings"] == []
    assert json.loads(ok(w.write("bookings", "visits")).stdout) == []
    assert "no room booking 999999" in failed(w.write("bookings", "attend", "999999"))
    assert "no seat booking 999999" in failed(
        w.write("bookings", "no-show", "999999", "--kind", "seat")
    )
    assert "no room booking" in failed(w.write("bookings", "cancel", "999999", "--reason", "测试"))
    assert "YYYY-MM-DD" in failed(w.write("bookings", "list", "--from", "July"))


def _contacts(w: Walk) -> None:
    """Who is overdue a contact on the loaded site: the list and the per-cell counts agree."""
    listed = json.loads(ok(w.read("contacts", "overdue", "--community", COMMUNITY)).stdout)
    assert listed["days"] == 14 and listed["total"] == sum(
        c["overdue"] for c in listed["per_contact"]
    )
    counted = json.loads(
        ok(w.read("contacts", "overdue", "--community", COMMUNITY, "--counts")).stdout
    )
    assert counted["on"] == listed["on"] and counted["overdue"] == listed["total"]
    assert all(c["cell_code"].startswith(COMMUNITY) for c in counted["cells"])
    assert "12-digit" in failed(w.read("contacts", "overdue", "--community", "12"))


def _kpis(w: Walk) -> None:
    out = json.loads(ok(w.read("kpis")).stdout)
    assert out["group_by"] == [] and out["rows"]
    assert "months are written YYYY-MM" in failed(w.read("kpis", "--from", "2026-13"))
    assert "Invalid value for '--season'" in failed(w.read("kpis", "--season", "20x"))
    # The README's quick start: without HOUNIAO_ENV the development keys are refused, in one line.
    env = {k: v for k, v in os.environ.items() if k != "HOUNIAO_ENV"}
    bare = subprocess.run(
        [HOUNIAO, "kpis"],
        capture_output=True,
        text=True,
        env={**env, "DATABASE_URL": w.site.database_url},
        timeout=120,
    )
    assert "export HOUNIAO_ENV=development" in failed(bare)


def _planning_export(w: Walk) -> None:
    """A season of the loaded site as a workbook (a sheet per figure) and a GeoPackage (cell
    polygons, EPSG:4326); counts shown are 0 or at least the threshold, hidden ones NULL."""
    from openpyxl import load_workbook

    book = w.tmp / "planning-2026.xlsx"
    sheets = json.loads(
        ok(w.read("planning", "export", "--season", "2026", "--format", "xlsx", book)).stdout
    )
    assert list(sheets) == [
        "在住人数",
        "年龄段",
        "来源地",
        "每周到离",
        "高峰",
        "预测",
        "覆盖分层",
        "覆盖缺口",
    ]
    assert load_workbook(book, read_only=True).sheetnames == ["说明", *sheets]
    package = w.tmp / "planning-2026.gpkg"
    layers = json.loads(ok(w.read("planning", "export", "--season", "2026", package)).stdout)
    assert [name for name, _ in pyogrio.list_layers(package)] == list(layers)
    cells = pyogrio.read_dataframe(package, layer="presence_cells")
    assert cells.crs.to_epsg() == 4326 and cells["residents_suppressed"].any()
    shown = cells.loc[~cells["residents_suppressed"], "residents"]
    assert ((shown == 0) | (shown >= 10)).all() and shown.sum() > 0
    assert cells.loc[cells["residents_suppressed"], "residents"].isna().all()
    info = subprocess.run(  # GDAL's own client, as QGIS reads it
        ["ogrinfo", "-ro", "-so", str(package), "presence_cells"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info.returncode == 0 and "Geometry: Polygon" in info.stdout, info.stderr
    assert f"Feature Count: {len(cells)}" in info.stdout and 'ID["EPSG",4326]' in info.stdout
    assert "--format must be xlsx or gpkg" in failed(
        w.read("planning", "export", "--format", "csv", w.tmp / "planning.csv")
    )


def _report_season(w: Walk) -> None:
    """The season report of the loaded site: its sections in the HTML, a PDF of several pages
    whose text holds the Chinese headings; a season before 2000 refused in one line."""
    from pypdf import PdfReader

    folder = w.tmp / "report-2026"
    paths = json.loads(ok(w.read("report", "season", "2026", "--out", folder)).stdout)
    html = Path(paths["html"]).read_text(encoding="utf-8")
    for heading in ("概览", "按月在住人数（同比）", "步行覆盖与缺口", "下季预测"):
        assert heading in html, heading
    shown = [int(v.replace(",", "")) for v in re.findall(r'<td class="n">([0-9,]+)</td>', html)]
    assert shown and all(v == 0 or v >= 10 for v in shown)
    pdf = PdfReader(paths["pdf"])
    assert len(pdf.pages) >= 5 and "概览" in pdf.pages[0].extract_text()
    assert "seasons run from 2000 to 2100" in failed(w.read("report", "season", "1999"))


def _export_gpkg(w: Walk) -> None:
    path = w.tmp / "boundaries.gpkg"
    assert "Wrote" in ok(w.read("export", "gpkg", path)).stderr
    assert [name for name, _ in pyogrio.list_layers(path)] == list(BOUNDARY_LAYERS)
    assert "ends in .gpkg" in failed(w.read("export", "gpkg", w.tmp / "x.csv"))


def _serve(w: Walk) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": w.site.database_url, "HOUNIAO_SCHEDULER": "0"}
    server = subprocess.Popen(
        [HOUNIAO, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert f"http://127.0.0.1:{port}" in server.stdout.readline()
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert datetime.now(UTC) < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def _check(w: Walk) -> None:
    """One line per check, exit 1 when one fails: the site runs no scheduler and no backup."""
    result = w.read("check")
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    names = [line.split()[1] for line in lines]
    assert names == ["database", "migrations", "release", "scheduler", "replica", "backup", "keys"]
    assert lines[1].startswith("ok") and migrate.revisions()[-1] in lines[1]
    assert lines[5].startswith("fail") and "houniao backup init" in lines[5]


def _backup(w: Walk) -> None:
    """What can run beside a shared server: an empty repository is listed as empty, and the
    fingerprint counts rows. init/base/restore change the server's archiving, so their promise
    is kept by the drill on a private cluster (tests/faults/test_backup.py)."""
    listed = json.loads(ok(w.read("backup", "list", "--repo", w.tmp / "repo")).stdout)
    assert listed["base_backups"] == [] and listed["wal"]["segments"] == 0
    rows = json.loads(ok(w.write("backup", "fingerprint")).stdout)["rows"]
    assert rows["grid_cell"] > 0 and rows["alembic_version"] == 1
    assert (Path(__file__).parents[1] / "faults" / "test_backup.py").exists()


# Each README command and how its promise is checked, in the README's order.
SCENARIOS: dict[tuple[str, ...], Callable[[Walk], None]] = {
    ("db", "upgrade"): _db_upgrade,
    ("db", "downgrade"): _db_downgrade,
    ("load", "yichun"): _load_yichun,
    ("load", "synthetic"): _load_synthetic,
    ("import", "boundaries"): _import_boundaries,
    ("import", "residents"): _import_residents,
    ("import", "roads"): _import_roads,
    ("releases", "list"): _releases_list,
    ("releases", "activate"): _releases_activate,
    ("locate",): _locate,
    ("geocode",): _geocode,
    ("users", "add"): _users,
    ("users", "list"): _users,
    ("users", "disable"): _users,
    ("users", "rotate-key"): _users,
    ("users", "revoke-key"): _users,
    ("audit", "verify"): _audit_verify,
    ("privacy", "purge"): _privacy_purge,
    ("privacy", "rotate-keys"): _privacy_keys,
    ("privacy", "rehash"): _privacy_keys,
    ("cases", "escalate-overdue"): _escalate_overdue,
    ("services", "unmatched"): _services,
    ("services", "stale"): _services,
    ("services", "match"): _services,
    ("bookings", "list"): _bookings,
    ("bookings", "attend"): _bookings,
    ("bookings", "no-show"): _bookings,
    ("bookings", "cancel"): _bookings,
    ("bookings", "visits"): _bookings,
    ("contacts", "overdue"): _contacts,
    ("kpis",): _kpis,
    ("planning", "export"): _planning_export,
    ("report", "season"): _report_season,
    ("export", "gpkg"): _export_gpkg,
    ("serve",): _serve,
    ("check",): _check,
    ("backup", "init"): _backup,
    ("backup", "base"): _backup,
    ("backup", "list"): _backup,
    ("backup", "restore"): _backup,
    ("backup", "fingerprint"): _backup,
}


def test_every_cli_command_of_the_readme_has_a_walk() -> None:
    assert every_command() == list(SCENARIOS), "README CLI list and SCENARIOS differ"


@pytest.fixture(scope="module")
def walk(site: Site, tmp_path_factory) -> Iterator[Walk]:
    scratch, empty = test_database_url("_walk"), test_database_url("_walk_empty")
    for url in (scratch, empty):
        recreate_database(url)
    dsn = scratch.render_as_string(hide_password=False)
    migrate.upgrade("head", dsn)
    engine = create_engine(scratch)
    with Session(engine) as session:
        load_yichun(session)
        session.commit()
    yield Walk(
        site,
        dsn,
        engine,
        empty.render_as_string(hide_password=False),
        tmp_path_factory.mktemp("walk"),
    )
    engine.dispose()


@pytest.mark.timeout(1800)  # some 40 CLI runs: on a busy machine more than the default 600 s
def test_every_cli_command_keeps_its_promise(walk: Walk) -> None:
    done: set[Callable[[Walk], None]] = set()
    for command in every_command():
        scenario = SCENARIOS[command]
        if scenario not in done:  # one scenario may walk several commands of a line
            scenario(walk)
            done.add(scenario)


# ---- the URL table -----------------------------------------------------------------------

ROLES = [r.value for r in Role]
CALLERS: list[str | None] = [None, *ROLES]  # None: no token
CASE_ROLES = {"dispatcher", "grid_worker", "community_staff", "street_staff", "department"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OTHER_CELL = "230717002001001"  # another street: outside every t-* account's scope
# Every route with its declared roles, and FastAPI's own /openapi.json (public, not an APIRoute).
APP_ROUTES = [
    (m, compile_path(p)[0], p, roles)
    for m, p, roles in [*route_policies(create_app()), ("GET", "/openapi.json", [PUBLIC])]
]


def routes_named(url: str) -> list[tuple[str, str, list[str]]]:
    """(method, path, roles) of the routes a README URL names: its exact path, else (when it
    ends in "…" or "/") every route under it."""
    exact = [(m, p, r or []) for m, _, p, r in APP_ROUTES if p == url]
    if exact or not url.endswith(("…", "/")):
        return exact
    prefix = url.rstrip("…")
    return [(m, p, r or []) for m, _, p, r in APP_ROUTES if p.startswith(prefix)]


def roles_of(method: str, path: str) -> list[str]:
    for m, regex, _, roles in APP_ROUTES:
        if m == method and regex.match(path.split("?")[0]):
            return roles or []
    raise AssertionError(f"no route {method} {path}")


def who_agrees(who: str, role_sets: list[set[str]]) -> bool:
    """The README's "who" for a row, against the declared roles of the routes it names."""
    staff = {"grid_worker", "community_staff", "street_staff"}
    match who:
        case "anyone" | "public":
            return all(r == {PUBLIC} for r in role_sets)
        case "accounts":  # signing in is open; the rest is for every account
            return all(r == {PUBLIC} or r >= set(ROLES) for r in role_sets)
        case "dispatcher" | "planner":
            return all(r == {who} for r in role_sets)
        case "dispatcher, community/street staff":
            return all(r == {"dispatcher", "community_staff", "street_staff"} for r in role_sets)
        case "grid worker":
            return all(r == {"grid_worker"} for r in role_sets)
        case "community/street staff":
            return all(r == {"community_staff", "street_staff"} for r in role_sets)
        case "community/street/centre staff":
            return all(r == {"community_staff", "street_staff", "centre_staff"} for r in role_sets)
        case "grid worker (own cells), community/street staff":
            return all(r == staff for r in role_sets)
        case "channels, grid workers, staff":
            union = set().union(*role_sets)
            return PUBLIC not in union and union >= staff | {"channel"}
        case "per role" | "per layer" | "per collection":
            return True  # the statuses per caller are walked below
    raise AssertionError(f"the walk does not know who {who!r} is")


@dataclass
class Probe:
    """One request of a row, made as every caller in `callers`. The status expected of a caller
    comes from the route's declared roles (2xx `ok`, 401 without a token, 403 for another role)
    unless `statuses` says otherwise (a scope's 404, a public route's refusal)."""

    path: str
    method: str = "GET"
    params: dict = field(default_factory=dict)
    form: Callable[[Walker, str | None], dict] | None = None  # form fields, per caller
    body: Callable[[Walker, str | None], dict] | None = None  # JSON, per caller
    headers: dict = field(default_factory=dict)
    ok: int = 200
    type: str = "application/json"
    statuses: dict = field(default_factory=dict)
    callers: tuple = tuple(CALLERS)
    fresh_token: bool = False  # a token of its own (logout ends it)
    promise: Callable[[httpx.Response, str | None, Walker], None] | None = None
    promise_refusals: bool = False  # the promise is about refusals too (else 2xx/3xx only)

    def expected(self, caller: str | None) -> int:
        if caller in self.statuses:
            return self.statuses[caller]
        roles = roles_of(self.method, self.path)
        if PUBLIC in roles:
            return self.ok
        if caller is None:
            return 401
        return self.ok if caller in roles else 403


class Walker:
    """HTTP against the live site as each caller (tokens from POST /api/v1/auth/token)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.http = httpx.Client(base_url=site.base, timeout=120, follow_redirects=False)
        self.pairs = {role: self.sign_in(role) for role in ROLES}
        with site.engine.connect() as conn:
            self.inside = tuple(
                conn.execute(
                    text(
                        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
                        " WHERE code = :c ORDER BY release_low DESC LIMIT 1) q"
                    ),
                    {"c": OWN_CELL},
                ).one()
            )
            self.address = conn.execute(
                text(
                    "SELECT full_address FROM address_point WHERE cell_code = :c ORDER BY id LIMIT 1"
                ),
                {"c": OWN_CELL},
            ).scalar_one()
            self.cells = conn.execute(
                text(
                    "SELECT count(*) FROM grid_cell g JOIN boundary_release r"
                    f" ON r.status = 'active' WHERE {in_release('g', 'r.id')}"
                )
            ).scalar_one()
        # A reporter (no account) and the channel file one Open311 request each, to follow.
        self.request_id = self.file_request()
        self.channel_request_id = self.file_request(api_key=site.api_key)

    def file_request(self, **extra: str) -> str:
        service = self.http.get("/open311/v2/services.json").json()[0]["service_code"]
        form = {
            "service_code": service,
            "description": "走查：路灯不亮 walk: a street light is out",
            "lat": str(self.inside[1]),
            "long": str(self.inside[0]),
            **REPORTER,
            **extra,
        }
        r = self.http.post("/open311/v2/requests.json", data=form)
        assert r.status_code == 201, r.text
        return str(r.json()[0]["service_request_id"])

    def credentials(self, role: str | None) -> dict[str, str]:
        if role is None:
            return {"username": "t-nobody", "password": "wrong-password-1"}
        return {"username": self.site.names[role], "password": self.site.password}

    def sign_in(self, role: str) -> dict:
        r = self.http.post("/api/v1/auth/token", data=self.credentials(role))
        assert r.status_code == 200, r.text
        return r.json()

    def request(self, probe: Probe, caller: str | None) -> httpx.Response:
        headers = dict(probe.headers)
        if caller is not None:
            pair = self.sign_in(caller) if probe.fresh_token else self.pairs[caller]
            headers["Authorization"] = f"Bearer {pair['access_token']}"
        self.http.cookies.clear()  # a sign-in's cookie must not follow the next caller
        return self.http.request(
            probe.method,
            probe.path,
            params=probe.params,
            headers=headers,
            data=probe.form(self, caller) if probe.form else None,
            json=probe.body(self, caller) if probe.body else None,
        )


# -- the promises, one per row ----------------------------------------------------------------


def vendored_only(r: httpx.Response, caller: str | None, w: Walker) -> None:
    linked = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)""", r.text)
    assert linked and all(u.startswith("/static/vendor/") for u in linked), linked


def every_operation_declares_roles(r: httpx.Response, caller: str | None, w: Walker) -> None:
    missing = [
        f"{m} {p}"
        for p, ops in r.json()["paths"].items()
        for m, op in ops.items()
        if "x-roles" not in op
    ]
    assert not missing, missing


def in_own_cell(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert r.json()["cell_code"] == OWN_CELL


def counter_clockwise(r: httpx.Response, caller: str | None, w: Walker) -> None:
    features = r.json()["features"]
    assert features
    for f in features:
        polygons = f["geometry"]["coordinates"]
        for outer, *_ in [polygons] if f["geometry"]["type"] == "Polygon" else polygons:
            assert shapely.LinearRing(outer).is_ccw, f["id"]


def placed_in_own_cell(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert r.json()["type"] == "Feature" and r.json()["properties"]["cell_code"] == OWN_CELL


def nearest_with_distance(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert all(f["properties"]["distance_m"] >= 0 for f in r.json()["features"])


def short_lived(r: httpx.Response, caller: str | None, w: Walker) -> None:
    if caller is not None:
        assert r.json()["token_type"] == "bearer" and 0 < r.json()["expires_in"] <= 15 * 60


def is_the_caller(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert r.json()["role"] == (caller or "channel")


def rejected_with_a_reason(r: httpx.Response, caller: str | None, w: Walker) -> None:
    (report,) = r.json()["reports"]
    # a channel (its API key, no caller) is told a status; a person role the decision
    told = report["status"] if caller is None else report["decision"]
    assert told == "rejected" and report["reason"], report


def states_the_policy(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert "no list of them is public" in r.json()["requests_policy"]


def refuses_with_the_policy(r: httpx.Response, caller: str | None, w: Walker) -> None:
    if caller is None:
        assert "no list of them is public" in r.json()[0]["description"]
    else:
        assert isinstance(r.json(), list)


REPORTER = {"first_name": "淑华", "last_name": "林", "phone": "13912345678"}


def follows_without_the_reporter(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """A reporter follows their request by its id: status and dates, never their name or phone.
    (Signed in, requests.json with ids is limited to the caller's scope, so may be empty.)"""
    found = {item["service_request_id"]: item for item in r.json()}
    if caller is None or "/requests/" in str(r.url):
        item = found[w.request_id]
        assert item["status"] and item["requested_datetime"] and item["service_code"], item
    assert REPORTER["first_name"] not in r.text and REPORTER["phone"] not in r.text, r.text[:300]


def lists_its_own(r: httpx.Response, caller: str | None, w: Walker) -> None:
    ids = {item["service_request_id"] for item in r.json()}
    assert w.channel_request_id in ids and w.request_id not in ids, ids


def names_the_month_form(r: httpx.Response, caller: str | None, w: Walker) -> None:
    if r.status_code == 422:  # the roles that may ask (the others: 401/403, checked above)
        assert "YYYY-MM" in r.json()["detail"], r.text


def every_cell_each_month(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """Density: every cell of the active release in every month, 0 where nobody was, small
    counts hidden."""
    rows = [row for row in r.json()["rows"] if row["cell_code"]]
    values = [row["residents"] for row in rows]
    assert len({(row["month"], row["cell_code"]) for row in rows}) == 12 * w.cells
    assert 0 in values and None in values and any(v for v in values)
    assert all(v is None or v == 0 or v >= 10 for v in values)


def no_small_count(r: httpx.Response, caller: str | None, w: Walker) -> None:
    counts = re.findall(r'"(?:residents|arrivals|departures)":\s*(null|\d+)', r.text)
    assert counts and all(v == "null" or int(v) == 0 or int(v) >= 10 for v in counts), counts


def no_small_service_count(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """Community services in aggregate: every count null (hidden), 0, or at least 10."""
    names = "requests|fulfilled|bookings|visits|invited|not_booked|booked|awaiting|attended|missed"
    counts = re.findall(rf'"(?:{names})":\s*(null|\d+)', r.text)
    assert counts and all(v == "null" or int(v) == 0 or int(v) >= 10 for v in counts), counts


def a_season_of_cells(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """The density map: the season asked for, its neighbours, a 0 class and the hidden class."""
    assert "<b>2026 季</b>" in r.text and "?season=2025" in r.text and "?season=2027" in r.text
    assert "0（无人）" in r.text and "少于10，不公开" in r.text
    drawn = [int(v) for v in re.findall(r"(\d+) 人", r.text)]
    assert all(v == 0 or v >= 10 for v in drawn), drawn


def two_seasons_side_by_side(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert "2025 季 · 8月" in r.text and "2026 季 · 8月" in r.text and ".sync(" in r.text
    drawn = [int(v) for v in re.findall(r"(\d+) 人", r.text)]
    assert all(v == 0 or v >= 10 for v in drawn), drawn


def a_table(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """The density table: a row per cell, no count below the threshold shown."""
    shown = [int(v) for v in re.findall(r'<td class="n">(\d+)</td>', r.text)]
    assert shown and min(shown) >= 10 and "少于10" in r.text
    assert "/api/v1/residents/density.csv?season=2026" in r.text


def a_csv_for_excel(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert r.content.startswith(b"\xef\xbb\xbf") and "网格编码" in r.text
    assert "attachment" in r.headers["content-disposition"]


def refuses_in_words(words: str) -> Callable[[httpx.Response, str | None, Walker], None]:
    def promise(r: httpx.Response, caller: str | None, w: Walker) -> None:
        if r.status_code == 422:
            assert words in r.text

    return promise


def refuses_ranges(r: httpx.Response, caller: str | None, w: Walker) -> None:
    if r.status_code == 422:
        assert "season=YYYY" in r.text


def open_cases_in_scope(r: httpx.Response, caller: str | None, w: Walker) -> None:
    features = r.json()["features"]
    assert all(f["properties"]["clock_state"] for f in features)
    prefix = {"grid_worker": OWN_CELL, "community_staff": COMMUNITY, "street_staff": STREET}
    if caller in prefix:
        assert features and all(
            f["properties"]["cell_code"].startswith(prefix[caller]) for f in features
        )
    if caller == "dispatcher":
        assert features


def signing_out_revokes_the_cookie(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """POST /maps/logout ends the login session on the server: a copied cookie stops working."""
    assert r.headers["location"] == "/maps/login"
    if caller is None:
        return
    with httpx.Client(base_url=w.site.base, timeout=60, follow_redirects=False) as browser:
        assert browser.post("/maps/login", data=w.credentials(caller)).status_code == 303
        copied = dict(browser.cookies)
        assert httpx.get(w.site.base + "/maps/", cookies=copied).status_code == 200
        assert browser.post("/maps/logout").status_code == 303
    assert httpx.get(w.site.base + "/maps/", cookies=copied).status_code == 401


def an_example_inside(r: httpx.Response, caller: str | None, w: Walker) -> None:
    """Outside coverage: a readable page whose usage example is a point with a card."""
    assert r.status_code == 404 and 'lang="zh-CN"' in r.text
    example = re.search(r'href="(/card\?lon=[^"]+)"', r.text)
    assert example, r.text[:500]
    card = w.http.get(example.group(1).replace("&amp;", "&"))
    assert card.status_code == 200 and 'class="hn-qr"' in card.text


def lands_on_its_own_page(r: httpx.Response, caller: str | None, w: Walker) -> None:
    location = r.headers["location"]
    if caller is None:
        assert location.startswith("/maps/login") and "error=1" in location
    else:
        assert location == {
            "dispatcher": "/maps/dispatch",
            "planner": "/maps/density",
            "grid_worker": "/m/",
            "department": "/console/inbox",
            "centre_staff": "/console/bookings",
        }.get(caller, "/maps/")


def a_readable_page(r: httpx.Response, caller: str | None, w: Walker) -> None:
    if r.status_code == 303:
        assert r.headers["location"].startswith("/maps/login?next=")
    elif r.status_code >= 400:
        assert r.headers["content-type"].startswith("text/html") and 'lang="zh-CN"' in r.text


def draws_the_live_feed(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert "/api/v1/cases/open.geojson" in r.text


def the_card(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert OWN_CELL in r.text and 'class="hn-qr"' in r.text and "保存网格员的工作联系方式" in r.text


def tilejson(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert r.json()["tiles"][0].endswith("/tiles/cells/{z}/{x}/{y}.mvt")


def a_vector_tile(r: httpx.Response, caller: str | None, w: Walker) -> None:
    import mapbox_vector_tile

    layer = mapbox_vector_tile.decode(r.content)["cells"]
    assert OWN_CELL in {f["properties"]["code"] for f in layer["features"]}


def collections_per_caller(r: httpx.Response, caller: str | None, w: Walker) -> None:
    ids = {c["id"] for c in r.json()["collections"]}
    assert set(BOUNDARY_LAYERS) <= ids
    assert ("open_cases" in ids) == (caller in CASE_ROLES), ids


def a_geopackage(r: httpx.Response, caller: str | None, w: Walker) -> None:
    assert r.content.startswith(b"SQLite format 3\x00")


def a_workbook(r: httpx.Response, caller: str | None, w: Walker) -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames[:2] == ["说明", "在住人数"] and "预测" in book.sheetnames
    assert 'filename="houniao-planning-2026.xlsx"' in r.headers["content-disposition"]


def a_season_geopackage(r: httpx.Response, caller: str | None, w: Walker) -> None:
    a_geopackage(r, caller, w)
    assert 'filename="houniao-planning-2026.gpkg"' in r.headers["content-disposition"]


def _tile(lon: float, lat: float, z: int = 14) -> str:
    """z/x/y of the XYZ tile holding a WGS84 point."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return f"{z}/{x}/{y}"


def _at(w: Walker) -> dict:
    return {"lon": w.inside[0], "lat": w.inside[1]}


# Each README row (by its first URL) and the requests that walk it. Params that need the
# site's data are filled in by `concrete`.
_STAFF_404 = {"community_staff": 404, "street_staff": 404}  # no such object in their scope
ROWS: dict[str, list[Probe]] = {
    "/docs": [
        Probe("/docs", type="text/html", promise=vendored_only),
        Probe("/redoc", type="text/html", promise=vendored_only),
        Probe("/openapi.json", promise=every_operation_declares_roles),
    ],
    "/api/v1/locate": [
        Probe("/api/v1/locate", params={"at": True}, promise=in_own_cell),
        Probe(
            "/api/v1/geocode",
            params={"address": True},
            type="application/geo+json",
            promise=placed_in_own_cell,
        ),
        Probe(
            "/api/v1/cells",
            params={"limit": 200},
            type="application/geo+json",
            promise=counter_clockwise,
        ),
        Probe("/api/v1/communities", type="application/geo+json", promise=counter_clockwise),
        Probe("/api/v1/districts", type="application/geo+json", promise=counter_clockwise),
        Probe(
            "/api/v1/service-areas/nearest",
            params={"at": True},
            type="application/geo+json",
            promise=nearest_with_distance,
        ),
    ],
    "/api/v1/auth/token": [
        Probe(
            "/api/v1/auth/token",
            "POST",
            form=lambda w, caller: w.credentials(caller),
            statuses={None: 401},
            promise=short_lived,
        ),
        Probe("/api/v1/auth/me", promise=is_the_caller),
        Probe(
            "/api/v1/auth/me",
            headers={"X-API-Key": True},
            callers=(None,),
            statuses={None: 200},
            promise=is_the_caller,
        ),
        Probe(
            "/api/v1/auth/refresh",
            "POST",
            statuses={None: 401},
            promise=short_lived,
            body=lambda w, caller: {
                "refresh_token": w.sign_in(caller)["refresh_token"]
                if caller
                else "not-a-refresh-token"
            },
        ),
        Probe("/api/v1/auth/logout", "POST", fresh_token=True),
    ],
    "/api/v1/intake/reports": [
        Probe("/api/v1/intake/reports"),
        Probe(
            "/api/v1/intake/reports",
            "POST",
            headers={"X-API-Key": True},
            callers=(None,),
            statuses={None: 200},
            promise=rejected_with_a_reason,
            body=lambda w, caller: {
                "channel": "police",
                "report": {"name": "走查", "phone": "12345"},
            },
        ),
        Probe("/api/v1/residents", params={"limit": 5}),
        Probe("/api/v1/residents/density", params={"season": 2026}, promise=every_cell_each_month),
        Probe("/api/v1/residents/flows", params={"season": 2026}, promise=no_small_count),
        Probe("/api/v1/residents/origins", params={"season": 2026}, promise=no_small_count),
        Probe("/api/v1/concerns"),
        Probe("/api/v1/health-checks"),
    ],
    "/api/v1/cases…": [
        Probe("/api/v1/cases", params={"limit": 5}, type="application/geo+json"),
        Probe("/api/v1/kpis"),
        Probe("/open311/v2/discovery.json", promise=states_the_policy),
        Probe(
            "/open311/v2/requests.json",
            statuses={None: 400},
            promise=refuses_with_the_policy,
            promise_refusals=True,
        ),
        # The reporter (no account) holds the id; signed-in accounts see cases of their scope.
        Probe(
            "/open311/v2/requests/{request_id}.json",
            callers=(None,),
            promise=follows_without_the_reporter,
        ),
        Probe(
            "/open311/v2/requests.json",
            params={"service_request_id": True},
            promise=follows_without_the_reporter,
        ),
        Probe(
            "/open311/v2/requests.json",
            params={"api_key": True},
            callers=(None,),
            promise=lists_its_own,
        ),
        Probe(
            "/api/v1/kpis",
            params={"from": "2026-13"},
            ok=422,
            promise=names_the_month_form,
            promise_refusals=True,
        ),
    ],
    "/api/v1/service-items": [
        Probe("/api/v1/service-items"),
        Probe("/api/v1/service-items/health.04/areas", params={"at": True}),
    ],
    "/api/v1/service-requests…": [
        Probe("/api/v1/service-requests", params={"limit": 5}),
        Probe("/api/v1/service-requests/public/SR2222222222", statuses={c: 404 for c in CALLERS}),
    ],
    "/api/v1/spaces": [
        Probe("/api/v1/spaces"),
        Probe("/api/v1/spaces/XX99/slots", statuses={c: 404 for c in CALLERS}),
        Probe("/api/v1/course-sessions"),
    ],
    "/api/v1/bookings/rooms": [
        Probe(
            "/api/v1/bookings/rooms",
            method="POST",
            body=lambda w, c: {"space": "XX99", "starts_at": "2027-07-01T09:00", "purpose": "书法"},
            statuses={c: 404 for c in CALLERS},
        ),
        Probe(
            "/api/v1/bookings/seats",
            method="POST",
            body=lambda w, c: {"session_id": 999999999},
            statuses={c: 404 for c in CALLERS},
        ),
        Probe("/api/v1/bookings/public/KR2222222222", statuses={c: 404 for c in CALLERS}),
    ],
    "/api/v1/bookings…": [
        Probe("/api/v1/bookings", params={"limit": 5}),
        Probe("/api/v1/bookings/visits"),
    ],
    "/api/v1/health-checks/centres": [
        Probe("/api/v1/health-checks/centres"),
        Probe("/api/v1/health-checks/invitations/TJ2222222222", statuses={c: 404 for c in CALLERS}),
    ],
    "/api/v1/health-checks/invitations": [
        Probe(
            "/api/v1/health-checks/invitations",
            method="POST",
            body=lambda w, c: {"resident_id": 999999999},
            statuses={"grid_worker": 404, "community_staff": 404, "street_staff": 404},
        ),
        Probe("/api/v1/health-checks/appointments", params={"limit": 5}),
        Probe("/api/v1/health-checks/appointment-counts"),
    ],
    "/api/v1/lists/demands…": [
        Probe("/api/v1/lists/demands", params={"limit": 5}),
        Probe("/api/v1/lists/resources", params={"limit": 5}),
        Probe("/api/v1/lists/plans", params={"limit": 5}),
        Probe("/api/v1/lists/overview"),
        Probe("/api/v1/lists/match", "POST", body=lambda w, caller: {}),  # a dry run
    ],
    "/api/v1/council/meetings…": [
        Probe("/api/v1/council/meetings", params={"limit": 5}),
        Probe("/api/v1/council/suggestions", params={"limit": 5}),
        Probe(
            "/api/v1/council/suggestions/public/JY2222222222", statuses={c: 404 for c in CALLERS}
        ),
    ],
    "/api/v1/volunteers/teams…": [
        Probe("/api/v1/volunteers/teams", params={"limit": 5}),
        Probe("/api/v1/volunteers/members/2147483646", statuses=_STAFF_404),
        Probe("/api/v1/volunteers/activities", params={"limit": 5}),
        Probe(
            "/api/v1/volunteers/signups/2147483646/transitions",
            "POST",
            body=lambda w, caller: {"action": "cancel"},
            statuses=_STAFF_404,
        ),
        Probe("/api/v1/volunteers/backbones", params={"limit": 5}),
    ],
    "/api/v1/contacts/assignments": [
        Probe("/api/v1/contacts/assignments", params={"limit": 5}),
        Probe("/api/v1/contacts/logs", params={"limit": 5}),
        Probe("/api/v1/contacts/overdue", params={"limit": 5}),
        Probe("/api/v1/contacts/overdue/counts"),
        Probe(
            f"/api/v1/contacts/cells/{OTHER_CELL}/default-assignments",
            "POST",
            statuses={"community_staff": 404, "street_staff": 404},
        ),
    ],
    "/maps/login": [
        Probe("/maps/login", type="text/html"),
        Probe(
            "/maps/login",
            "POST",
            ok=303,
            promise=lands_on_its_own_page,
            form=lambda w, caller: w.credentials(caller),
        ),
        Probe("/maps/", type="text/html"),
        Probe(
            "/maps/logout",
            "POST",
            ok=303,
            type="",
            promise=signing_out_revokes_the_cookie,
        ),
    ],
    "/maps/dispatch": [
        Probe("/maps/dispatch", type="text/html", promise=draws_the_live_feed),
        Probe(
            "/api/v1/cases/open.geojson", type="application/geo+json", promise=open_cases_in_scope
        ),
        Probe(
            "/maps/dispatch",
            type="text/html",
            headers=BROWSER,
            statuses={None: 303},
            promise=a_readable_page,
            promise_refusals=True,
        ),
    ],
    "/console": [
        Probe("/console", type="text/html"),
        Probe(
            "/console",
            type="text/html",
            headers=BROWSER,
            statuses={None: 303},
            promise=a_readable_page,
            promise_refusals=True,
        ),
    ],
    "/console/inbox": [
        Probe("/console/inbox", type="text/html"),
        Probe(
            "/console/inbox",
            type="text/html",
            headers=BROWSER,
            statuses={None: 303},
            promise=a_readable_page,
            promise_refusals=True,
        ),
        Probe(  # a case that does not exist (the walk files none): 404 for those who may look
            "/console/cases/999999999",
            type="text/html",
            statuses={
                c: 404 for c in ("dispatcher", "community_staff", "street_staff", "department")
            },
        ),
    ],
    "/console/cases/{case_id}/lock": [
        Probe(  # the walk files no case: 404 for those who may open a panel
            "/console/cases/999999999/lock",
            method="POST",
            type="text/html",
            statuses={
                c: 404 for c in ("dispatcher", "community_staff", "street_staff", "department")
            },
        ),
        Probe(
            "/console/cases/999999999/release",
            method="POST",
            type="text/html",
            statuses={
                c: 404 for c in ("dispatcher", "community_staff", "street_staff", "department")
            },
        ),
        Probe(  # a nameless filter: refused in words (422) for the console's users
            "/console/filters",
            method="POST",
            type="text/html",
            form=lambda w, c: {"name": " ", "clock": "overdue"},
            statuses={c: 422 for c in ("dispatcher", "community_staff", "street_staff")},
        ),
        Probe(
            "/console/filters/999999999/delete",
            method="POST",
            type="text/html",
            statuses={c: 404 for c in ("dispatcher", "community_staff", "street_staff")},
        ),
    ],
    "/console/bookings": [
        Probe("/console/bookings", type="text/html"),
    ],
    "/m/": [
        Probe("/m/", type="text/html"),
        Probe(
            "/m/",
            type="text/html",
            headers=BROWSER,
            statuses={None: 303},
            promise=a_readable_page,
            promise_refusals=True,
        ),
        Probe(  # an archive that does not exist: 404 for the grid worker, as outside the cell
            "/m/residents/999999999", type="text/html", statuses={"grid_worker": 404}
        ),
    ],
    "/m/bookings": [
        Probe("/m/bookings", type="text/html"),
    ],
    "/m/cases": [
        Probe("/m/cases", type="text/html", promise=a_readable_page),
        Probe(  # a case that does not exist: 404 for the grid worker, as outside the cell
            "/m/cases/999999999", type="text/html", statuses={"grid_worker": 404}
        ),
    ],
    "/m/health": [
        Probe("/m/health", type="text/html"),
    ],
    "/maps/cell/{code}": [
        Probe(f"/maps/cell/{OWN_CELL}", type="text/html"),
        Probe(
            f"/maps/cell/{OTHER_CELL}",
            type="text/html",
            headers=BROWSER,
            statuses={None: 303, "grid_worker": 404, "community_staff": 404, "street_staff": 404},
            promise=a_readable_page,
            promise_refusals=True,
        ),
    ],
    "/api/v1/planning/presence": [
        Probe("/api/v1/planning/presence", params={"season": 2026}, promise=no_small_count),
        Probe(
            "/api/v1/planning/presence",
            params={"month": "2026-07", "level": "cell"},
            promise=no_small_count,
        ),
        Probe("/api/v1/planning/presence/flows", params={"season": 2026}, promise=no_small_count),
        Probe("/api/v1/planning/presence/peaks", params={"season": 2026}),
        Probe("/api/v1/planning/forecast", params={"level": "street"}, promise=no_small_count),
        Probe("/api/v1/planning/coverage", params={"season": 2026}, promise=no_small_count),
        Probe("/api/v1/planning/coverage/sites", params={"season": 2026, "new_sites": 2}),
    ],
    "/api/v1/planning/export.xlsx": [
        Probe(
            "/api/v1/planning/export.xlsx",
            params={"season": 2026},
            type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            promise=a_workbook,
        ),
        Probe(
            "/api/v1/planning/export.gpkg",
            params={"season": 2026},
            type="application/geopackage+sqlite3",
            promise=a_season_geopackage,
        ),
        Probe(  # before the first season: refused, not a file of nothing
            "/api/v1/planning/export.xlsx", params={"season": 1999}, statuses={"planner": 422}
        ),
    ],
    "/api/v1/planning/services/requests": [
        Probe(
            "/api/v1/planning/services/requests",
            params={"season": 2026},
            promise=no_small_service_count,
        ),
        Probe(
            "/api/v1/planning/services/visits",
            params={"month": "2026-07"},
            promise=no_small_service_count,
        ),
        Probe(
            "/api/v1/planning/services/health-checks",
            params={"season": 2026},
            promise=no_small_service_count,
        ),
    ],
    "/api/v1/planning/hotspots": [
        Probe("/api/v1/planning/hotspots", params={"season": 2026}),
        Probe("/api/v1/planning/hotspots", params={"season": 2026, "category": "fire"}, ok=422),
    ],
    "/maps/density": [
        Probe("/maps/density", type="text/html"),
        Probe(
            "/maps/density/compare",
            params={"season": 2026, "month": 8},
            type="text/html",
            promise=two_seasons_side_by_side,
        ),
        Probe(
            "/maps/density/compare",
            params={"season": 2026, "other": 2026},
            ok=422,
            promise=refuses_in_words("two different seasons"),
            promise_refusals=True,
        ),
        Probe("/maps/density/table", params={"season": 2026}, type="text/html", promise=a_table),
        Probe(
            "/api/v1/residents/density.csv",
            params={"season": 2026},
            type="text/csv",
            promise=a_csv_for_excel,
        ),
        Probe(
            "/maps/density", params={"season": 2026}, type="text/html", promise=a_season_of_cells
        ),
        Probe(
            "/maps/density",
            params={"season_from": 2021},
            ok=422,
            promise=refuses_ranges,
            promise_refusals=True,
        ),
    ],
    "/maps/coverage": [
        Probe("/maps/coverage", params={"season": 2026}, type="text/html"),
    ],
    "/card": [
        Probe("/card", params={"at": True}, type="text/html", promise=the_card),
        Probe("/card", params={"at": True, "crs": "EPSG:4326"}, type="text/html", promise=the_card),
        Probe(
            "/card",
            params={"lon": "116.39", "lat": "39.91"},  # Beijing: outside the covered area
            ok=404,
            type="text/html",
            promise=an_example_inside,
            promise_refusals=True,
        ),
    ],
    "/card/request": [
        Probe("/card/request", params={"at": True, "crs": "wgs84"}, type="text/html"),
    ],
    "/card/register": [
        Probe("/card/register", params={"at": True, "crs": "wgs84"}, type="text/html"),
    ],
    "/tiles/{layer}/{z}/{x}/{y}.mvt": [
        Probe("/tiles/cells.json", promise=tilejson),
        Probe(
            "/tiles/cells/{z}/{x}/{y}.mvt",
            type="application/vnd.mapbox-vector-tile",
            promise=a_vector_tile,
        ),
        Probe(
            "/tiles/open_cases.json", statuses={c: 200 if c in CASE_ROLES else 404 for c in CALLERS}
        ),
    ],
    "/ogc": [
        Probe("/ogc"),
        Probe("/ogc/collections", promise=collections_per_caller),
        Probe("/ogc/collections/cells/items", params={"limit": 5}, type="application/geo+json"),
    ],
    "/api/v1/export/boundaries.gpkg": [
        Probe(
            "/api/v1/export/boundaries.gpkg",
            type="application/geopackage+sqlite3",
            promise=a_geopackage,
        ),
    ],
}


def concrete(probe: Probe, w: Walker, caller: str | None) -> Probe:
    """The probe with the site's data filled in: a point inside OWN_CELL (and its tile), an
    address there, the channel's API key."""
    params = dict(probe.params)
    if params.pop("at", None):
        params.update(_at(w))
    if params.get("address") is True:
        params["address"] = w.address
    if params.get("service_request_id") is True:
        params["service_request_id"] = w.request_id
    if params.get("api_key") is True:
        params["api_key"] = w.site.api_key
    headers = {k: (w.site.api_key if v is True else v) for k, v in probe.headers.items()}
    path = probe.path.replace("{z}/{x}/{y}", _tile(*w.inside))
    path = path.replace("{request_id}", w.request_id)
    return dataclasses.replace(probe, path=path, params=params, headers=headers)


def top_level_segments() -> set[str]:
    return {p.split("/")[1] for _, _, p, _ in APP_ROUTES}


def test_every_url_row_names_routes_and_its_who_agrees_with_their_roles() -> None:
    for row in readme.url_rows(top_level_segments()):
        role_sets = []
        for url in row.urls:
            named = routes_named(url)
            assert named, f"README row {row.key}: no route {url}"
            role_sets += [set(roles) for method, _, roles in named if method == "GET"] or [
                set(roles) for _, _, roles in named
            ]
        assert who_agrees(row.who, role_sets), (row.key, row.who, role_sets)


def test_every_url_row_has_a_walk_that_requests_each_of_its_urls() -> None:
    rows = readme.url_rows(top_level_segments())
    assert [r.key for r in rows] == list(ROWS), "README URL table and ROWS differ"
    for row in rows:
        probed = {p.path.split("?")[0] for p in ROWS[row.key]}
        for url in row.urls:
            formats = {p for _, p, _ in routes_named(url)}
            assert any(compile_path(f)[0].match(path) for f in formats for path in probed), (
                f"{row.key}: nothing requests {url}"
            )


@pytest.mark.browser  # the demo site (tests/site.py) is shared with the browser tests
def test_every_url_keeps_its_promise_for_every_caller(site: Site) -> None:
    walker = Walker(site)
    problems = []
    for row in readme.url_rows(top_level_segments()):
        for template in ROWS[row.key]:
            for caller in template.callers:
                probe = concrete(template, walker, caller)
                r = walker.request(probe, caller)
                who = caller or "anonymous"
                where = f"{row.key}: {probe.method} {probe.path} as {who}"
                if r.status_code != probe.expected(caller):
                    problems.append(
                        f"{where}: {r.status_code}, expected"
                        f" {probe.expected(caller)}: {r.text[:200]}"
                    )
                    continue
                if 200 <= r.status_code < 300 and not r.headers.get("content-type", "").startswith(
                    probe.type
                ):
                    problems.append(f"{where}: content type {r.headers.get('content-type')}")
                    continue
                if probe.promise is not None and (r.status_code < 400 or probe.promise_refusals):
                    try:
                        probe.promise(r, caller, walker)
                    except (AssertionError, KeyError, ValueError) as exc:
                        problems.append(f"{where}: broken promise {exc!r}"[:400])
    assert not problems, "\n".join(problems)
