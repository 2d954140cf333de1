"""Address geocoding throughput: one call per address vs `geocode_many`, same addresses, same run.

Draws N addresses (default 10,000) from the gazetteer of the database in DATABASE_URL, written
the ways people write them (with or without street and community, 号楼/栋/幢/#, full-width or
Chinese numerals, units and rooms), and gives a share of them a one-character typo in the
compound name. Prints addresses/s for each path, their ratio, how the addresses matched, and
how many placed addresses landed in the cell of the gazetteer row they were drawn from.
Reads only; the session is rolled back.

    .venv/bin/python bench/geocode_address.py [--n 10000] [--typos 0.2] [--no-district 0.1]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import text

from geo.core.db import session_factory
from geo.spatial.addresses.geocode import AddressMatch, geocode_address, geocode_many

SEED = 20260602
TYPO_CHARS = "鹤鸭鹅猫狗牛羊马虎兔"  # in no compound name of the demo
CN = "零一二三四五六七八九十"
ROWS = """
    SELECT a.compound, a.building, a.units, a.cell_code, d.name, s.name, c.name
    FROM address_point a
    JOIN district d ON d.code = a.district_code
    JOIN street s ON s.code = a.street_code
    JOIN community c ON c.code = a.community_code
    WHERE a.building IS NOT NULL
    ORDER BY a.id
"""


def _numeral(n: int, rng: random.Random) -> str:
    style = rng.random()
    if style < 0.15 and n <= 10:
        return CN[n]
    if style < 0.3:
        return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return str(n)


def written(row: tuple, rng: random.Random, *, typo: bool, district: bool) -> str:
    compound, building, units, _, district_name, street, community = row
    if typo:
        i = rng.randrange(len(compound) - 1)
        compound = compound[:i] + rng.choice(TYPO_CHARS) + compound[i + 1 :]
    admin = rng.choice(["", street, community, street + community]) if district else ""
    prefix = rng.choice(["", "伊春市", "黑龙江省伊春市"]) + (district_name if district else "")
    mark = rng.choice(["号楼", "栋", "幢", "#", "#楼", "号"])
    tail = f"{_numeral(building, rng)}{mark}"
    if rng.random() < 0.5:
        tail += f"{_numeral(rng.randint(1, max(units, 1)), rng)}单元"
        if rng.random() < 0.5:
            tail += f"{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
    return prefix + admin + compound + tail


def timed(label: str, fn: Callable[[], list[AddressMatch]], n: int) -> tuple[float, list]:
    start = time.perf_counter()
    results = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {n:>7,} addresses  {seconds:7.2f} s  {n / seconds:9,.0f} addresses/s")
    return n / seconds, results


def summary(name: str, results: list[AddressMatch], cells: list[str]) -> None:
    kinds = Counter(r.match for r in results)
    placed = [(r, c) for r, c in zip(results, cells, strict=True) if r.cell_code]
    right = sum(r.cell_code == c for r, c in placed)
    print(
        f"  {name:<12} "
        + "  ".join(f"{k} {kinds.get(k, 0):>5}" for k in ("exact", "fuzzy", "community", "none"))
        + f"   right cell {right}/{len(placed)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--typos", type=float, default=0.2, help="share with a typo in the name")
    ap.add_argument("--no-district", type=float, default=0.1, help="share without district")
    args = ap.parse_args()
    rng = random.Random(SEED)
    with session_factory()() as session:
        rows = list(session.execute(text(ROWS)))
        drawn = [rng.choice(rows) for _ in range(args.n)]
        flags = [(rng.random() < args.typos, rng.random() >= args.no_district) for _ in drawn]
        pairs = zip(drawn, flags, strict=True)
        texts = [written(r, rng, typo=t, district=d) for r, (t, d) in pairs]
        cells = [r[3] for r in drawn]
        print(f"{args.n:,} addresses from {len(rows):,} gazetteer buildings; e.g. {texts[:3]}")
        single_rate, single = timed(
            "geocode_address, one per address",
            lambda: [geocode_address(session, t) for t in texts],
            args.n,
        )
        many_rate, many = timed(
            "geocode_many, one batch", lambda: geocode_many(session, texts), args.n
        )
        session.rollback()
    assert single == many, "the batch path must answer exactly as the single path"
    print(f"ratio geocode_many / geocode_address: {many_rate / single_rate:.1f}x")
    clean = [i for i, (t, _) in enumerate(flags) if not t]
    typos = [i for i, (t, _) in enumerate(flags) if t]
    for name, idx in (("as written", clean), ("with typo", typos)):
        summary(name, [many[i] for i in idx], [cells[i] for i in idx])


if __name__ == "__main__":
    main()
