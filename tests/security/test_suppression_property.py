"""Complementary suppression, property-tested: for random tables (2-D with margins, hierarchical
rows, several splits of one total, forced cells), nothing below the threshold is published and the
attacker (tests/security/linear_attack.py: exact elimination over every published total) recovers
no suppressed cell. No database: the routine is pure."""

from __future__ import annotations

import doctest
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.privacy import suppression, windows
from geo.privacy.suppression import Hierarchy, Layout, hidden_cells, protect
from tests.security.linear_attack import recover

K = 10
SMALLISH = st.one_of(st.integers(0, 0), st.integers(1, 9), st.integers(10, 40))


def _sums_by_key(layout: Layout) -> list[tuple]:
    return [(layout.keys[t], [layout.keys[p] for p in ps]) for t, ps in layout.sums]


def _check(layout: Layout, counts: dict, published: dict, forced=(), unpublished=()) -> None:
    for key in layout.keys:
        value = counts.get(key, 0)
        assert published[key] in (None, value)  # nothing published is altered
        if 0 < value < K or key in forced:
            assert published[key] is None, (key, value)
    for total, parts in _sums_by_key(layout):  # no total minus visible parts
        hidden = [k for k in (total, *parts) if published[k] is None]
        assert len(hidden) != 1 or hidden[0] in unpublished, (total, parts)
    assert set(recover(published, _sums_by_key(layout))) <= set(unpublished)


def _flat(rows: int, cols: int) -> tuple[Hierarchy, Hierarchy]:
    r = Hierarchy(("T", *range(rows)), (("T", tuple(range(rows))),))
    c = Hierarchy(("T", *range(cols)), (("T", tuple(range(cols))),))
    return r, c


def _with_margins(interior: list[list[int]]) -> dict:
    counts = {(r, c): v for r, row in enumerate(interior) for c, v in enumerate(row)}
    for r, row in enumerate(interior):
        counts[r, "T"] = sum(row)
    for c in range(len(interior[0])):
        counts["T", c] = sum(row[c] for row in interior)
    counts["T", "T"] = sum(map(sum, interior))
    return counts


@st.composite
def tables(draw):
    rows, cols = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    return [[draw(SMALLISH) for _ in range(cols)] for _ in range(rows)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_two_way_tables_with_margins(interior):
    layout = Layout.cross(*_flat(len(interior), len(interior[0])))
    counts = _with_margins(interior)
    _check(layout, counts, protect(layout, counts, K))


@st.composite
def hierarchical(draw):
    """City -> streets -> communities, and the city again by category; season -> months."""
    streets = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))  # communities each
    comms = [(s, c) for s, n in enumerate(streets) for c in range(n)]
    cats = [f"cat{i}" for i in range(draw(st.integers(1, 4)))]
    months = list(range(draw(st.integers(1, 4))))
    leaf_rows = {row: [draw(SMALLISH) for _ in months] for row in comms}
    # Categories split the same cases another way: deal each month's city total over them.
    by_cat = {cat: [0] * len(months) for cat in cats}
    for m in months:
        total = sum(v[m] for v in leaf_rows.values())
        for _ in range(total):
            by_cat[draw(st.sampled_from(cats))][m] += 1
    return streets, comms, cats, months, leaf_rows, by_cat


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchical())
def test_linked_hierarchical_tables(table):
    streets, comms, cats, months, leaf_rows, by_cat = table
    street_keys = [f"s{s}" for s in range(len(streets))]
    rows = Hierarchy(
        ("city", *street_keys, *comms, *cats),
        (
            ("city", tuple(street_keys)),
            *((f"s{s}", tuple(c for c in comms if c[0] == s)) for s in range(len(streets))),
            ("city", tuple(cats)),
        ),
    )
    cols = Hierarchy(("season", *months), (("season", tuple(months)),))
    layout = Layout.cross(rows, cols)
    counts: dict = {}
    for row, vals in {**leaf_rows, **by_cat}.items():
        for m, v in enumerate(vals):
            counts[row, m] = v
    for s in range(len(streets)):
        for m in months:
            counts[f"s{s}", m] = sum(leaf_rows[c][m] for c in comms if c[0] == s)
    for m in months:
        counts["city", m] = sum(v[m] for v in leaf_rows.values())
    for row in rows.keys:
        counts[row, "season"] = sum(counts[row, m] for m in months)
    _check(layout, counts, protect(layout, counts, K))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.data())
def test_forced_cells_are_protected_like_small_ones(interior, data):
    layout = Layout.cross(*_flat(len(interior), len(interior[0])))
    counts = _with_margins(interior)
    forced = data.draw(st.sets(st.sampled_from(layout.keys), max_size=3))
    _check(layout, counts, protect(layout, counts, K, also_hide=forced), forced)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_tables_linked_by_an_unpublished_total(left):
    """Two tables whose grand totals are equal (arrivals in a season = its residents by
    origin), linked through that total, which is never published."""
    right = [list(col) for col in zip(*left, strict=True)]  # the same cases counted another way
    keys, sums, counts = [], [], {}
    for name, interior in (("L", left), ("R", right)):
        part = _with_margins(interior)
        layout = Layout.cross(*_flat(len(interior), len(interior[0])))
        keys += [(name, k) for k in layout.keys]
        sums += [((name, t), [(name, p) for p in ps]) for t, ps in _sums_by_key(layout)]
        counts.update({(name, k): v for k, v in part.items()})
    sums.append((("both",), [("L", ("T", "T"))]))
    sums.append((("both",), [("R", ("T", "T"))]))
    counts["both",] = counts["L", ("T", "T")]
    layout = Layout.build([*keys, ("both",)], sums)
    published = protect(layout, counts, K, unpublished=[("both",)])
    _check(layout, counts, published, unpublished=[("both",)])


def test_two_hidden_per_line_is_not_enough():
    """Two 2x2 blocks of small counts joined by one small cell: every row and column holds two
    hidden cells or more, yet R1 + R2 - C1 - C2 isolates the joining cell. The routine hides
    one more cell to close that cycle."""
    big = 30
    interior = [[big] * 5 for _ in range(5)]
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)]:
        interior[r][c] = 2
    layout = Layout.cross(*_flat(5, 5))
    counts = _with_margins(interior)
    naive = {k: (None if 0 < v < K else v) for k, v in counts.items()}
    for total, parts in _sums_by_key(layout):
        assert sum(naive[k] is None for k in (total, *parts)) != 1
    assert recover(naive, _sums_by_key(layout)) == {(0, 2): 2}  # the attack works on it
    published = protect(layout, counts, K)
    _check(layout, counts, published)
    assert sum(v is None for v in published.values()) == 10  # one complement, not a whole row


def test_same_counts_same_cells_and_fast():
    layout = Layout.cross(*_flat(120, 12))
    interior = [[(r * 7 + c * 3) % 23 for c in range(12)] for r in range(120)]
    counts = _with_margins(interior)
    start = time.perf_counter()
    first = protect(layout, counts, K)
    hidden_cells.cache_clear()
    assert protect(layout, counts, K) == first
    assert time.perf_counter() - start < 60  # a sanity bound, not a benchmark
    _check(layout, counts, first)


def _with_sparse_from(size: int, layout: Layout, counts: dict, **kw) -> frozenset[int]:
    """`hidden_cells` (uncached) with the sparse certificate tried from `size` sums up."""
    values = tuple(int(counts.get(k, 0)) for k in layout.keys)
    unpublished = frozenset(layout.index[k] for k in kw.get("unpublished", ()))
    before = suppression._SPARSE_FROM
    suppression._SPARSE_FROM = size
    try:
        return hidden_cells.__wrapped__(layout, values, K, (), unpublished)
    finally:
        suppression._SPARSE_FROM = before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_the_sparse_algebra_gives_the_dense_answer(interior):
    """Every component answered sparsely: the same determined cells and the same complements
    (small tables have many determined cells), so the same hidden cells."""
    layout = Layout.cross(*_flat(len(interior), len(interior[0])))
    counts = _with_margins(interior)
    sparse_everywhere = _with_sparse_from(0, layout, counts)
    assert sparse_everywhere == _with_sparse_from(10**9, layout, counts)


def _both_algebras_agree(layout: Layout, counts: dict) -> int:
    """After rule a, every component's determined cells, and for each which published cell
    would free it, alike from the dense and the sparse algebra; how many targets were asked."""
    values = tuple(int(counts.get(k, 0)) for k in layout.keys)
    hidden = {i for i, v in enumerate(values) if 0 < v < K}
    suppression._close_sums(layout, values, hidden, frozenset())
    targets = 0
    for sums in suppression._components(layout, hidden):
        dense = suppression._Algebra(layout, sums, hidden)
        sparse = suppression._SparseAlgebra(layout, sums, hidden)
        assert sparse.solved
        determined = dense.determined(frozenset())
        assert sparse.determined(frozenset()) == determined
        published = {c for s in sums for c, _ in layout.members[s]} - hidden
        inside = [c for c in published if set(sums).issuperset(layout.sums_of[c])]
        for target in determined:
            targets += 1
            for c in sorted(inside):
                assert sparse.frees(target, c) == dense.frees(target, c), (target, c)
    return targets


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_the_two_algebras_answer_alike(interior):
    _both_algebras_agree(
        Layout.cross(*_flat(len(interior), len(interior[0]))), _with_margins(interior)
    )


def test_the_sparse_algebra_finds_and_frees_a_determined_cell():
    """The cycle of `test_two_hidden_per_line_is_not_enough`, answered sparsely: the same one
    complement as the dense algebra."""
    interior = [[30] * 5 for _ in range(5)]
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)]:
        interior[r][c] = 2
    layout = Layout.cross(*_flat(5, 5))
    counts = _with_margins(interior)
    sparse = _with_sparse_from(0, layout, counts)
    assert len(sparse) == 10 and sparse == _with_sparse_from(10**9, layout, counts)
    assert _both_algebras_agree(layout, counts) == 1


def test_a_large_component_is_settled_sparsely_and_protected():
    """250 rows x 8 months with margins (260 sums): over `_SPARSE_FROM`, so answered by the
    sparse algebra; the same cells as the dense algebra, and the exact attacker (rational
    elimination over every published total) recovers nothing."""
    layout = Layout.cross(*_flat(250, 8))
    interior = [[(r * 7 + c * 3) % 23 for c in range(8)] for r in range(250)]
    counts = _with_margins(interior)
    assert len(layout.sums) >= suppression._SPARSE_FROM
    calls = []
    original = suppression._SparseAlgebra

    class Recording(original):
        def __init__(self, *args):
            super().__init__(*args)
            calls.append(self.solved)

    suppression._SparseAlgebra = Recording
    try:
        sparse_first = _with_sparse_from(suppression._SPARSE_FROM, layout, counts)
    finally:
        suppression._SparseAlgebra = original
    assert True in calls  # the sparse algebra answered for a component
    assert sparse_first == _with_sparse_from(10**9, layout, counts)
    published = {
        k: None if i in sparse_first else counts.get(k, 0) for i, k in enumerate(layout.keys)
    }
    _check(layout, counts, published)


def test_doctests():
    for module in (suppression, windows):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed, module.__name__
