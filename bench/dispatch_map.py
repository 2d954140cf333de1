"""Dispatcher map: time from navigation to every layer drawn, at 1,000 and 10,000 open cases.

Runs on a scratch database `<DATABASE_URL's name>_bench_map` (created, migrated, loaded with the
Yichun grid, dropped at the end unless --keep). The real API is served by uvicorn in a subprocess;
Debian's Chromium (headless, every non-loopback request blocked) signs in once, then for each size
navigates to /maps/dispatch and waits until the live layer has drawn every open case
(`window.houniaoDrawn === N`). Baseline in the same run and browser: a blank page of the same
origin that only fetches /api/v1/cases/open.geojson and parses it — the data's own cost — so the
ratio is what the map adds (Leaflet, clustering, boundaries, service areas).

    .venv/bin/python bench/dispatch_map.py [--sizes 1000 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cases_throughput import bulk_open_cases  # noqa: E402
from bench.scratch import (  # noqa: E402
    drop_database,
    free_port,
    recreate_database,
    scratch_url,
    serve,
)
from geo.access.principal import Principal  # noqa: E402
from geo.accounts.service import create_account  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from tests.browser import launch_chromium, offline_page, wait_until  # noqa: E402

PASSWORD = "bench-dispatch-map-1"
FETCH_ONLY = """async () => {
  const t0 = performance.now();
  const r = await fetch('/api/v1/cases/open.geojson', {credentials: 'same-origin'});
  const d = await r.json();
  return [performance.now() - t0, d.features.length];
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    url = scratch_url("bench_map")
    print(f"scratch database {url.database}: migrate and load the Yichun grid ...", flush=True)
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = create_engine(url)
    with Session(engine) as s:
        load_yichun(s)
        create_account(
            s,
            Principal(role="system", name="bench"),
            name="bench-dispatcher",
            role="dispatcher",
            password=PASSWORD,
        )
        s.commit()
    port = free_port(8767)
    server = serve(url, port)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        _wait(base)
        with launch_chromium() as browser, offline_page(browser) as p:
            p.page.goto(base + "/maps/login?next=/maps/login")
            p.page.fill("input[name=username]", "bench-dispatcher")
            p.page.fill("input[name=password]", PASSWORD)
            p.page.click("button[type=submit]")
            p.page.wait_for_load_state()
            for n in args.sizes:
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM cases WHERE description = '压测'"))
                bulk_open_cases(engine, n)
                map_ms, data_ms = [], []
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    p.page.goto(base + "/maps/dispatch")
                    wait_until(p.page, f"window.houniaoDrawn === {n}", timeout=120)
                    map_ms.append((time.perf_counter() - t0) * 1000)
                    p.page.goto(base + "/healthz")
                    ms, count = p.page.evaluate(FETCH_ONLY)
                    assert count == n, (count, n)
                    data_ms.append(ms)
                assert not p.blocked and not p.errors, (p.blocked, p.errors)
                m, d = statistics.median(map_ms), statistics.median(data_ms)
                rows.append(f"| {n:,} | {m:,.0f} | {d:,.0f} | {m / d:.1f}x |")
                print(rows[-1], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        engine.dispose()
        if not args.keep:
            drop_database(url)
    print(
        "\n| open cases | navigation -> all layers drawn, ms (median) |"
        " fetch + parse open.geojson only, ms | ratio |"
    )
    print("| ---: | ---: | ---: | ---: |")
    print("\n".join(rows))


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API did not start")


if __name__ == "__main__":
    main()
