"""The pages people work in, as a browser sees them: the dispatcher console's first paint and
queue at 1,000 and 10,000 open cases, each as a ratio to the bare feed fetch (GET
/api/v1/cases/open.geojson from the same page, same cookie) measured in the same round; and the
grid worker's phone home screen's transferred bytes on a first and a second visit (the service
worker's cache); and the phone's first paint of its home (/m/) and of its case list (/m/cases)
at the largest size, each as a ratio to the bare feed fetch from the same page as the grid worker
(their cells' open cases), the service worker kept out so the server's page is what is timed.

Scratch database `<DATABASE_URL's name>_bench_console` (the Yichun grid, accounts made with the
real `houniao users add`, open cases bulk-inserted as bench/cases_throughput.py does), the real
API under uvicorn, Debian's headless Chromium driven by playwright; loopback only.

    .venv/bin/python bench/console_pages.py [--open 1000 10000] [--rounds 5] [--keep]
        [--phone-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cases_throughput import bulk_open_cases  # noqa: E402
from bench.scratch import drop_database, free_port, recreate_database, scratch_url, serve  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from tests.browser import launch_chromium  # noqa: E402

PASSWORD = "bench-console-password-1"
CELL = "230717001001001"
HOUNIAO = str(Path(sys.executable).with_name("houniao"))

FEED_FETCH = """async () => {
  const get = () => fetch('/api/v1/cases/open.geojson',
                          {cache: 'no-store', credentials: 'same-origin'});
  let t0 = performance.now();
  let r = await get();
  if (r.status === 401) {  // the access cookie ran out: renew it as the map does, time again
    await fetch('/maps/refresh', {method: 'POST', credentials: 'same-origin'});
    t0 = performance.now();
    r = await get();
  }
  const body = await r.arrayBuffer();
  return [performance.now() - t0, body.byteLength, r.status];
}"""
PAINT = """() => {
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return [fcp ? fcp.startTime : NaN, performance.now()];
}"""
BYTES = """() => {
  const nav = performance.getEntriesByType('navigation').map(e => e.transferSize);
  const res = performance.getEntriesByType('resource').map(e => e.transferSize);
  return [...nav, ...res].reduce((a, b) => a + b, 0);
}"""


def add_user(dsn: str, name: str, role: str, *scope: str) -> None:
    env = {**os.environ, "DATABASE_URL": dsn, "HOUNIAO_SCHEDULER": "0"}
    command = [HOUNIAO, "users", "add", name, "--role", role, *scope, "--password", PASSWORD]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])


def sign_in(page, base: str, name: str, path: str) -> None:
    page.goto(base + path)
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def console_round(page, base: str) -> dict[str, float]:
    """One cold load of /console (HTTP cache off): first paint and the queue drawn, then the
    bare feed fetch from the same page."""
    page.goto(base + "/console", wait_until="commit")
    page.wait_for_selector("#queue tr[data-case]", timeout=60_000)
    fcp, queue = page.evaluate(PAINT)
    feed_ms, feed_bytes, status = page.evaluate(FEED_FETCH)
    if status != 200:
        raise SystemExit(f"the feed answered {status} in the console's page")
    return {"fcp": fcp, "queue": queue, "feed": feed_ms, "feed_bytes": feed_bytes}


PHONE_PAGES = (("/m/", "今日工作", "#n-cases"), ("/m/cases", "待办事件", "#case-list li"))


def phone_round(page, base: str, path: str, ready: str) -> dict[str, float]:
    """One cold load of a phone page (HTTP cache off, no service worker): first paint and the
    page's content drawn, then the bare feed fetch (the grid worker's scope) from the same page."""
    page.goto(base + path, wait_until="commit")
    page.wait_for_selector(ready, timeout=60_000)
    fcp, drawn = page.evaluate(PAINT)
    feed_ms, feed_bytes, status = page.evaluate(FEED_FETCH)
    if status != 200:
        raise SystemExit(f"the feed answered {status} in the phone's page")
    return {"fcp": fcp, "drawn": drawn, "feed": feed_ms, "feed_bytes": feed_bytes}


def phone_paint(browser, base: str, rounds: int) -> None:
    """The phone's first paint per page, as a ratio to the bare feed fetch, printed as a table."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, service_workers="block")
    try:
        page = context.new_page()
        sign_in(page, base, "bench-grid", "/m/")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # cold loads
        print(
            "\n| phone page | first paint ms | drawn ms | feed fetch ms (KB) | first paint / feed |"
        )
        print("| --- | ---: | ---: | ---: | ---: |")
        for path, name, ready in PHONE_PAGES:
            phone_round(page, base, path, ready)  # warm-up
            done = [phone_round(page, base, path, ready) for _ in range(rounds)]
            med = {k: statistics.median(r[k] for r in done) for k in done[0]}
            print(
                f"| {name} `{path}` | {med['fcp']:.0f} | {med['drawn']:.0f} |"
                f" {med['feed']:.0f} ({med['feed_bytes'] / 1e3:.0f}) |"
                f" {med['fcp'] / med['feed']:.2f} |",
                flush=True,
            )
    finally:
        context.close()


def phone_bytes(browser, base: str) -> tuple[int, int]:
    """Bytes over the network for /m/ with its map frame (the Resource Timing transfer sizes,
    0 for what a cache answered): the first visit (sign-in lands there, nothing cached), then
    a second once the service worker holds the shell."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, base, "bench-grid", "/m/")
        page.wait_for_load_state("networkidle")
        first = sum(f.evaluate(BYTES) for f in page.frames)
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
        page.reload(wait_until="networkidle")
        second = sum(f.evaluate(BYTES) for f in page.frames)
        return first, second
    finally:
        context.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--open", type=int, nargs="+", default=[1_000, 10_000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument(
        "--phone-only", action="store_true", help="the phone's figures only (no console rounds)"
    )
    args = ap.parse_args()

    url = scratch_url("bench_console")
    dsn = url.render_as_string(hide_password=False)
    print(f"scratch database {url.database}: migrate and load the Yichun grid ...", flush=True)
    recreate_database(url)
    migrate.upgrade("head", dsn)
    engine = create_engine(url)
    with Session(engine) as s:
        load_yichun(s)
        s.commit()
    add_user(dsn, "bench-dispatcher", "dispatcher")
    add_user(dsn, "bench-grid", "grid_worker", "--cell", CELL)
    port = free_port(8767)
    server = serve(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        with launch_chromium() as browser:
            if not args.phone_only:
                print(
                    "\n| open cases | console first paint ms | queue drawn ms | feed fetch ms"
                    " (MB) | first paint / feed | queue / feed |"
                )
                print("| ---: | ---: | ---: | ---: | ---: | ---: |")
            inserted = 0
            for n in args.open:
                with engine.begin() as conn:  # the previous size's cases leave the queue
                    conn.execute(
                        text(
                            "UPDATE cases SET status = 'closed', resolved_at = now(),"
                            " closed_at = now() WHERE status NOT IN ('closed', 'cancelled')"
                        )
                    )
                bulk_open_cases(engine, n, first=inserted + 1)
                inserted += n
                if args.phone_only:
                    continue
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                sign_in(page, base, "bench-dispatcher", "/console")
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # cold loads
                console_round(page, base)  # warm-up
                rounds = [console_round(page, base) for _ in range(args.rounds)]
                context.close()
                med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
                print(
                    f"| {n:,} | {med['fcp']:.0f} | {med['queue']:.0f} |"
                    f" {med['feed']:.0f} ({med['feed_bytes'] / 1e6:.1f}) |"
                    f" {med['fcp'] / med['feed']:.2f} | {med['queue'] / med['feed']:.2f} |",
                    flush=True,
                )
            print(f"\nthe phone at {args.open[-1]:,} open cases (its grid worker: one cell)")
            phone_paint(browser, base, args.rounds)
            first, second = phone_bytes(browser, base)
            print(
                f"\nphone home /m/ (with its cell map): first visit {first / 1024:.0f} KiB,"
                f" second visit {second / 1024:.0f} KiB over the network"
            )
    finally:
        server.terminate()
        server.wait(10)
        engine.dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
