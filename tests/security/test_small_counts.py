"""Issue 9, hole 4: small counts, directly and by differencing, written as the attacks.

A planner collects every answer the API gives for a season (each level, each window, by month or
not) and then (1) looks for a count below the threshold, or a rate or median resting on one,
(2) asks for overlapping ranges, and (3) solves the linear system of everything published and
every total it knows (city = streets = categories, street = its communities, season = its months,
decided = on time + overdue) for any suppressed cell. Staff keep their exact figures.
"""

from __future__ import annotations

import pytest

from geo.access.principal import Role
from geo.privacy.windows import season_months
from tests.security.conftest import add_account, bearer
from tests.security.linear_attack import recover
from tests.security.planner_world import SEASON, STREETS, file_cases

K = 10
COUNT_FIELDS = ("cases", "cancelled", "overdue_count", "overdue_open", "escalated")
SUB_COUNTS = ("responded_in_time", "decided", "on_time", "answered", "solved", "rated", "satisfied")
NESTED = [  # (part, whole): what the part leaves of the whole is a count of cases too
    ("responded_in_time", "cases"),
    ("decided", "cases"),
    ("on_time", "decided"),
    ("on_time", "cases"),
    ("overdue_count", "decided"),
    ("overdue_open", "overdue_count"),
    ("overdue_open", "decided"),
    ("overdue_open", "cases"),
    ("answered", "cases"),
    ("solved", "answered"),
    ("solved", "cases"),
    ("rated", "cases"),
    ("satisfied", "rated"),
    ("satisfied", "cases"),
    ("escalated", "cases"),
]
RATES = {
    "response_rate": ("responded_in_time", "cases"),
    "on_time_rate": ("on_time", "decided"),
    "resolution_rate": ("solved", "answered"),
    "satisfaction_rate": ("satisfied", "rated"),
}
LEVELS = (None, "street", "community", "category")


@pytest.fixture
def world(session):
    return file_cases(session)


@pytest.fixture
def as_planner(session, app_client):
    headers = bearer(session, add_account(session, "t-planner-counts", Role.planner))
    client = app_client()

    def ask(**params):
        r = client.get("/api/v1/kpis", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["rows"]

    ask.client, ask.headers = client, headers
    return ask


def _fields(row: dict) -> dict:
    values = {f: row.get(f) for f in COUNT_FIELDS}
    values.update({f: (row.get("counts") or {}).get(f) for f in SUB_COUNTS})
    return values


def _row_key(level: str | None, row: dict) -> tuple:
    return ("city", None) if level is None else (level, row[level])


def collect(ask) -> tuple[dict, list[dict]]:
    """Everything the planner can read for the season: {(count, row, column): value or None}."""
    published: dict = {}
    rows_seen = []
    asks = [(level, {"season": SEASON}, False) for level in LEVELS]
    asks += [(level, {"season": SEASON}, True) for level in LEVELS]
    asks += [(level, {"month": m}, False) for level in LEVELS for m in season_months(SEASON)]
    for level, window, by_month in asks:
        group_by = ",".join(g for g in (level, "month" if by_month else None) if g)
        for row in ask(**window, **({"group_by": group_by} if group_by else {})):
            rows_seen.append(row)
            col = row["month"] if by_month else window.get("month", "season")
            for name, value in _fields(row).items():
                cell = (name, _row_key(level, row), col)
                assert published.get(cell, value) == value, f"{cell} differs between answers"
                published[cell] = value
    return published, rows_seen


def sums_known_to_a_planner(published: dict) -> list:
    """Every linear relation a planner knows between the published cells."""
    categories = {row for _, row, _ in published if row[0] == "category"}
    communities = [("community", c) for cs in STREETS.values() for c in cs]
    streets = [("street", s) for s in STREETS]
    months = season_months(SEASON)
    names = {name for name, _, _ in published}
    rows = [("city", None), *streets, *communities, *categories]
    sums = []
    for name in names:
        for col in (*months, "season"):
            city = (name, ("city", None), col)
            sums.append((city, [(name, s, col) for s in streets]))
            sums.append((city, [(name, c, col) for c in sorted(categories)]))
            for s, cs in STREETS.items():
                sums.append(
                    ((name, ("street", s), col), [(name, ("community", c), col) for c in cs])
                )
        for row in rows:
            sums.append(((name, row, "season"), [(name, row, m) for m in months]))
    for row in rows:
        for col in (*months, "season"):
            sums.append(
                (("decided", row, col), [("on_time", row, col), ("overdue_count", row, col)])
            )
    return sums


def test_dispatchers_keep_exact_small_counts(world, session, app_client):
    """The world has what the attacks look for: staff see escalations of 1-9 per community."""
    headers = bearer(session, add_account(session, "t-dispatcher-counts", Role.dispatcher))
    r = app_client().get(
        "/api/v1/kpis", params={"group_by": "community", "season": SEASON}, headers=headers
    )
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert sum(row["cases"] for row in rows) == world - sum(row["cancelled"] for row in rows)
    assert any(0 < row["escalated"] < K for row in rows)
    assert any(0 < row["cases"] < K for row in rows) is False  # whole communities are large
    assert "suppressed" not in rows[0]


def test_planner_can_neither_read_nor_work_out_a_small_count(world, as_planner):
    published, rows = collect(as_planner)  # also: one cell, one value, whichever way it is asked
    assert any(v is not None and v >= K for v in published.values())  # not all hidden
    assert sum(v is None for v in published.values()) > 20  # and something to protect
    # (1) read directly: no count, no part's complement, no rate or median on small numbers
    small = {cell: v for cell, v in published.items() if v is not None and 0 < v < K}
    assert small == {}
    for part, whole in NESTED:
        for (name, row, col), w in published.items():
            p = published.get((part, row, col))
            if name == whole and w is not None and p is not None:
                assert w - p == 0 or w - p >= K, (part, whole, row, col, w, p)
    for row in rows:
        counts = _fields(row)
        for rate, (num, den) in RATES.items():
            if row.get(rate) is not None:
                assert counts[num] is not None and counts[den] is not None
        if row["cases"] is None:
            keys = {k: row[k] for k in ("street", "community", "category", "month") if k in row}
            assert row == {**keys, "suppressed": True, "cases": None}
        for median in (row.get("median_hours") or {}).values():
            assert median is None or row["cases"] >= K
    # (3) worked out: city total minus visible rows, margins of the 2-D tables, a season minus
    # its months, decided minus on time: no suppressed cell follows from any combination.
    assert recover(published, sums_known_to_a_planner(published)) == {}


def test_overlapping_ranges_and_cells_are_refused(as_planner):
    client, headers = as_planner.client, as_planner.headers
    community = next(iter(STREETS.values()))[0]
    for params in (
        {"community": community, "from": "2024-06"},  # the attack: two overlapping ranges
        {"community": community, "from": "2024-07", "to": "2024-08"},
        {"group_by": "cell", "season": SEASON},
        {"cell": community + "001", "season": SEASON},
        {"group_by": "community,category", "season": SEASON},  # a table no answer is cut from
        {"season": SEASON, "month": "2024-07"},
        {"month": "2024-7"},
    ):
        r = client.get("/api/v1/kpis", params=params, headers=headers)
        assert r.status_code == 422, (params, r.text)
        assert "month=YYYY-MM" in r.json()["detail"] or "YYYY-MM" in r.json()["detail"]
