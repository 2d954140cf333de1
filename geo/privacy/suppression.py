"""Complementary cell suppression: publish tables of counts so that no count below the disclosure
threshold (HOUNIAO_MAP_DISCLOSURE_THRESHOLD) can be read off or worked out by subtraction.

A `Layout` is a table's cells and the sums a reader knows hold between them: each total equals
the sum of its parts (a community's season and its months, a street and its communities, the
city and its streets, or the city and its categories). `protect` hides

1. every count with 0 < value < threshold (primary suppression; zero discloses no one), and the
   cells the caller names (`also_hide`: a sub-count whose complement is small);
   cells that are never published (`unpublished`: a total that only links two tables, such as
   the season's arrivals, which equal its residents by origin) count as unknown to the reader
   but need no protection themselves; cells another table already publishes (`keep`: a figure
   built on the presence table keeps its published counts) are never chosen as complements;
2. then more cells (complementary suppression), the smallest non-zero count first, until
   a. no sum has exactly one hidden cell (else: the total minus the visible parts), and
   b. no hidden cell follows from the published ones by any combination of the sums either (a
      hidden cell that links two otherwise separate groups of hidden cells is isolated by adding
      and subtracting whole rows and columns). This is checked exactly: a hidden cell is
      determined iff its column of the sums' matrix, restricted to the hidden cells, is not a
      combination of the other hidden cells' columns (its leverage is 1).
      A large component (thousands of sums in a city's month) gets the same answers from
      sparse least squares instead of a dense (cubic) eigendecomposition (`_SparseAlgebra`).

The same layout and counts always give the same hidden cells, so asking again reveals nothing
new; every product of one window (a month is a column of its season's table) is cut from one
protected table. Bounds from non-negativity remain (two hidden cells summing to 12 are each at
most 12): a hidden count can be bracketed, never pinned down by linear subtraction.

    >>> rows = Hierarchy(("all", "a", "b", "c"), (("all", ("a", "b", "c")),))
    >>> protect(Layout.of(rows), {"all": 45, "a": 3, "b": 30, "c": 12}, threshold=10)
    {'all': 45, 'a': None, 'b': 30, 'c': None}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TypeVar, cast

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import lsqr
from threadpoolctl import threadpool_limits

Key = Hashable
KeyT = TypeVar("KeyT", bound=Hashable)
_EPS = 1e-7


@dataclass(frozen=True)
class Hierarchy:
    """The categories along one side of a table and which are totals of which.

    `groups` holds (total, parts) pairs. A key may be a part of one group and the total of
    another (a street: part of the city, total of its communities), and one total may be split
    in several ways (the city: by street, and by category).
    """

    keys: tuple[Key, ...]
    groups: tuple[tuple[Key, tuple[Key, ...]], ...] = ()

    def __post_init__(self) -> None:
        known = set(self.keys)
        for total, parts in self.groups:
            if not parts or total not in known or not known.issuperset(parts):
                raise ValueError(f"group {total!r} needs parts, all of them keys of the table")


@dataclass(frozen=True)
class Layout:
    """Cells (by key) and the sums between them: (total cell, part cells) by position."""

    keys: tuple[Key, ...]
    sums: tuple[tuple[int, tuple[int, ...]], ...]

    @classmethod
    def of(cls, side: Hierarchy) -> Layout:
        """A one-way table: its cells are the keys of `side`."""
        return cls.build(side.keys, side.groups)

    @classmethod
    def cross(cls, rows: Hierarchy, cols: Hierarchy) -> Layout:
        """A two-way table: cell (row, col) for every pair; the row sums hold in each column
        and the column sums in each row (the margins of a 2-D table, on every level)."""
        keys = tuple((r, c) for r in rows.keys for c in cols.keys)
        at = {k: i for i, k in enumerate(keys)}
        sums = [(at[t, c], tuple(at[p, c] for p in ps)) for c in cols.keys for t, ps in rows.groups]
        sums += [
            (at[r, t], tuple(at[r, p] for p in ps)) for r in rows.keys for t, ps in cols.groups
        ]
        return cls(keys, tuple(sums))

    @classmethod
    def build(cls, keys: Iterable[Key], sums: Iterable[tuple[Key, Sequence[Key]]]) -> Layout:
        """Any table: its cells and (total, parts) sums by key."""
        keys = tuple(keys)
        at = {k: i for i, k in enumerate(keys)}
        return cls(keys, tuple((at[t], tuple(at[p] for p in ps)) for t, ps in sums if ps))

    @cached_property
    def index(self) -> dict[Key, int]:
        return {k: i for i, k in enumerate(self.keys)}

    @cached_property
    def members(self) -> tuple[tuple[tuple[int, float], ...], ...]:
        """Per sum, its cells with their coefficient in `total - sum(parts) = 0`."""
        return tuple(((t, 1.0), *((p, -1.0) for p in parts)) for t, parts in self.sums)

    @cached_property
    def sums_of(self) -> tuple[tuple[int, ...], ...]:
        """Per cell, the sums it belongs to."""
        out: list[list[int]] = [[] for _ in self.keys]
        for s, cells in enumerate(self.members):
            for cell, _ in cells:
                out[cell].append(s)
        return tuple(tuple(x) for x in out)


def protect(
    layout: Layout,
    counts: Mapping[KeyT, int],
    threshold: int,
    also_hide: Iterable[KeyT] = (),
    unpublished: Iterable[KeyT] = (),
    keep: Iterable[KeyT] = (),
) -> dict[KeyT, int | None]:
    """Every cell of `layout` with its count (absent = 0), or None where it is suppressed."""
    keys = cast(tuple[KeyT, ...], layout.keys)
    values = tuple(int(counts.get(k, 0)) for k in keys)
    forced = tuple(sorted(layout.index[k] for k in set(also_hide)))
    never = frozenset(layout.index[k] for k in unpublished)
    kept = frozenset(layout.index[k] for k in keep)
    hidden = hidden_cells(layout, values, threshold, forced, never, kept)
    return {k: (None if i in hidden else values[i]) for i, k in enumerate(keys)}


@lru_cache(maxsize=256)
def hidden_cells(
    layout: Layout,
    values: tuple[int, ...],
    threshold: int,
    forced: tuple[int, ...] = (),
    unpublished: frozenset[int] = frozenset(),
    kept: frozenset[int] = frozenset(),
) -> frozenset[int]:
    """Positions of the cells to hide: primary, then complementary until rules a and b hold;
    complements are never taken from `kept` (published elsewhere: hiding them helps nothing)."""
    hidden = {i for i, v in enumerate(values) if 0 < v < threshold} | set(forced) | unpublished
    settled: set[_ComponentKey] = set()
    with threadpool_limits(limits=1, user_api="blas"):  # small dense work: threads only wait
        while True:
            _close_sums(layout, values, hidden, unpublished, kept)
            cell = _fix_for_first_determined(layout, values, hidden, unpublished, kept, settled)
            if cell is None:
                return frozenset(hidden)
            hidden.add(cell)


def _cheapest(cells: Iterable[int], values: Sequence[int]) -> int | None:
    """The complement that gives away least: the smallest non-zero count, zeros last."""
    return min(cells, key=lambda i: (values[i] == 0, values[i], i), default=None)


def _close_sums(
    layout: Layout,
    values: Sequence[int],
    hidden: set[int],
    unpublished: frozenset[int],
    kept: frozenset[int] = frozenset(),
) -> None:
    """Rule a: hide one more cell in every sum that has exactly one hidden cell, until none has
    (a sum whose one unknown is an unpublished total gives nothing away)."""
    pending = deque(s for s, _ in enumerate(layout.sums))
    while pending:
        cells = [c for c, _ in layout.members[pending.popleft()]]
        unknown = [c for c in cells if c in hidden]
        if len(unknown) != 1 or unknown[0] in unpublished:
            continue
        extra = _cheapest((c for c in cells if c not in hidden and c not in kept), values)
        if extra is not None:
            hidden.add(extra)
            pending.extend(layout.sums_of[extra])


def _fix_for_first_determined(
    layout: Layout,
    values: Sequence[int],
    hidden: set[int],
    unpublished: frozenset[int],
    kept: frozenset[int] = frozenset(),
    settled: set[_ComponentKey] | None = None,
) -> int | None:
    """Rule b: for the first hidden cell that the sums still determine, the published cell to
    hide as well (the cheapest that makes it undetermined); None when no cell is determined.

    `settled` holds the components already found to determine no cell: a round hides one more
    cell, so most components come back unchanged, and their algebra is not done again."""
    for sums in _components(layout, hidden):
        key = (tuple(sums), frozenset(c for s in sums for c, _ in layout.members[s] if c in hidden))
        if settled is not None and key in settled:
            continue
        algebra = _algebra(layout, sums, hidden)
        determined = algebra.determined(unpublished)
        if not determined:
            if settled is not None:
                settled.add(key)
            continue
        target = determined[0]
        inside = set(sums)
        candidates = [
            c
            for s in sums
            for c, _ in layout.members[s]
            if c not in hidden and c not in kept and inside.issuperset(layout.sums_of[c])
        ]
        freeing = [c for c in set(candidates) if algebra.frees(target, c)]
        near = {c for s in layout.sums_of[target] for c, _ in layout.members[s]} - hidden - kept
        anywhere = set(range(len(values))) - hidden - kept
        for pool in (freeing, near, candidates, anywhere):  # the later ones only make progress
            choice = _cheapest(pool, values)
            if choice is not None:
                return choice
    return None


# A component of sums and the hidden cells in them: what rule b's algebra depends on.
_ComponentKey = tuple[tuple[int, ...], frozenset[int]]


def _components(layout: Layout, hidden: set[int]) -> list[list[int]]:
    """The sums holding hidden cells, grouped where hidden cells link them (union-find)."""
    parent: dict[int, int] = {}

    def root(s: int) -> int:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for cell in sorted(hidden):
        sums = layout.sums_of[cell]
        for s in sums:
            parent.setdefault(s, s)
        for s in sums[1:]:
            parent[root(s)] = root(sums[0])
    groups: dict[int, list[int]] = {}
    for s in sorted(parent):
        groups.setdefault(root(s), []).append(s)
    return list(groups.values())


def _algebra(layout: Layout, sums: list[int], hidden: set[int]) -> _Algebra | _SparseAlgebra:
    """The component's algebra: dense under `_SPARSE_FROM` sums, else sparse unless its null
    vectors are not found to within `_RESIDUAL` (then dense)."""
    if len(sums) >= _SPARSE_FROM:
        sparse_algebra = _SparseAlgebra(layout, sums, hidden)
        if sparse_algebra.solved:
            return sparse_algebra
    return _Algebra(layout, sums, hidden)


_SPARSE_FROM = 200  # sums in a component from which `_SparseAlgebra` is used
_RESIDUAL = 1e-9  # |A z| of a null vector that counts as one
_MOVED = 1e-6  # |z_i| that shows a null vector moves cell i (free cells move by ~1e-2 or more)
_LEVERAGE = 1 - 1e-6  # a hidden cell with this leverage or more is determined (both algebras)


def _coefficients(layout: Layout, row: dict[int, int], cell: int) -> list[tuple[int, float]]:
    """A cell's sums as rows of a component (`row`: sum -> row) and its coefficient in each."""
    return [
        (row[s], coef)
        for s in layout.sums_of[cell]
        if s in row
        for c, coef in layout.members[s]
        if c == cell
    ]


class _SparseAlgebra:
    """`_Algebra`'s two questions answered by sparse least squares (scipy's LSQR), for a
    component of thousands of sums (a city's month), where the dense eigendecomposition is cubic
    (5,328 sums: 28 s).

    Which hidden cells are determined: a random vector's part in the null space of A (r - Aᵀy,
    y the least-squares solution of Aᵀy = r) moves every cell that some null vector moves, i.e.
    every undetermined one, by ~1e-2 or more. Two such vectors certify most cells free; for the
    few they leave still (suspects), the leverage itself (1 - (e_i - Aᵀy)_i with Aᵀy = e_i in
    least squares) decides, against the same bound as the dense algebra.

    Whether hiding published cell j frees determined cell i (see `_Algebra`): aⱼ must lie in A's
    column space (no random left-null vector of A has a component along it) and uᵀaⱼ ≠ 0, where
    u = G⁺aᵢ is the least-norm solution of Aᵀu = eᵢ.
    """

    def __init__(self, layout: Layout, sums: list[int], hidden: set[int]) -> None:
        self.layout = layout
        self.row = {s: n for n, s in enumerate(sums)}
        self.cells = sorted({c for s in sums for c, _ in layout.members[s] if c in hidden})
        self.at = {c: n for n, c in enumerate(self.cells)}
        entries = [
            (r, self.at[c], coef)
            for r, s in enumerate(sums)
            for c, coef in layout.members[s]
            if c in self.at
        ]
        rows, cols, coefs = zip(*entries, strict=True)
        self.a = sparse.csr_matrix((coefs, (rows, cols)), shape=(len(sums), len(self.cells)))
        self.a_t = self.a.T.tocsr()
        self._iterations = 50 * len(sums)
        self.moved = np.zeros(len(self.cells))
        self.solved = True
        for r in np.random.default_rng(0).standard_normal((2, len(self.cells))):
            z = r - self.a_t @ self._solve(self.a_t, r)
            if np.abs(self.a @ z).max(initial=0.0) > _RESIDUAL:
                self.solved = False  # not to be trusted: the dense algebra decides
                return
            self.moved = np.maximum(self.moved, np.abs(z))
        self._left_null: np.ndarray | None = None
        self._target: tuple[int, np.ndarray] | None = None

    def _solve(self, matrix: sparse.csr_matrix, rhs: np.ndarray) -> np.ndarray:
        solution: np.ndarray = lsqr(matrix, rhs, atol=1e-14, btol=1e-14, iter_lim=self._iterations)[
            0
        ]
        return solution

    def determined(self, unpublished: frozenset[int]) -> list[int]:
        out = []
        for c in self.cells:
            i = self.at[c]
            if c in unpublished or self.moved[i] > _MOVED:
                continue
            e = np.zeros(len(self.cells))
            e[i] = 1.0
            if 1 - (e - self.a_t @ self._solve(self.a_t, e))[i] > _LEVERAGE:
                out.append(c)
        return out

    def frees(self, target: int, cell: int) -> bool:
        column = np.zeros(self.a.shape[0])
        for r, coef in _coefficients(self.layout, self.row, cell):
            column[r] += coef
        if self._left_null is None:  # random vectors' parts outside A's column space
            draws = np.random.default_rng(1).standard_normal((2, self.a.shape[0]))
            self._left_null = np.array([d - self.a @ self._solve(self.a, d) for d in draws])
        if np.abs(self._left_null @ column).max() > _MOVED:
            return False  # a_j is not a combination of the sums' columns
        if self._target is None or self._target[0] != target:
            e = np.zeros(len(self.cells))
            e[self.at[target]] = 1.0
            self._target = (target, self._solve(self.a_t, e))
        return abs(float(self._target[1] @ column)) > _EPS


class _Algebra:
    """The sums of one component as a matrix A (sums x hidden cells), with G = A Aᵀ.

    A hidden cell's leverage aᵢᵀ G⁺ aᵢ is 1 exactly when its column is independent of the other
    hidden columns, i.e. when the published cells determine it. A published cell j hidden as
    well frees cell i iff aⱼ lies in A's column space and aᵢᵀ G⁺ aⱼ ≠ 0 (the new null vector
    (w, -1) with A w = aⱼ then moves cell i). Columns are sparse (a cell is in a few sums), so
    each is kept as its rows and coefficients, padded to the widest.
    """

    def __init__(self, layout: Layout, sums: list[int], hidden: set[int]) -> None:
        self.row = {s: n for n, s in enumerate(sums)}
        self.layout = layout
        self.cells = sorted({c for s in sums for c, _ in layout.members[s] if c in hidden})
        self.at = {c: n for n, c in enumerate(self.cells)}
        self.rows, self.coefs = self._columns(self.cells)
        gram = np.zeros((len(sums), len(sums)))
        np.add.at(
            gram,
            (self.rows[:, :, None], self.rows[:, None, :]),
            self.coefs[:, :, None] * self.coefs[:, None, :],
        )
        eigenvalues, vectors = np.linalg.eigh(gram)
        keep = eigenvalues > max(eigenvalues.max(initial=0.0), 1.0) * 1e-10
        basis = vectors[:, keep]
        self.pinv = (basis / eigenvalues[keep]) @ basis.T
        self.projector = basis @ basis.T

    def _columns(self, cells: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's sums (as rows of this component) and coefficients, padded with zeros."""
        pairs = [_coefficients(self.layout, self.row, cell) for cell in cells]
        width = max((len(p) for p in pairs), default=1)
        rows = np.zeros((len(cells), width), dtype=int)
        coefs = np.zeros((len(cells), width))
        for n, p in enumerate(pairs):
            rows[n, : len(p)] = [r for r, _ in p]
            coefs[n, : len(p)] = [coef for _, coef in p]
        return rows, coefs

    def determined(self, unpublished: frozenset[int]) -> list[int]:
        """The hidden cells (but the unpublished) that the published ones determine."""
        return [
            c
            for c, lev in zip(self.cells, self.leverages(), strict=True)
            if c not in unpublished and lev > _LEVERAGE
        ]

    def leverages(self) -> np.ndarray:
        """aᵢᵀ G⁺ aᵢ of every hidden cell of the component, in the order of `cells`."""
        block = self.pinv[self.rows[:, :, None], self.rows[:, None, :]]
        return cast(np.ndarray, np.einsum("ij,ijk,ik->i", self.coefs, block, self.coefs))

    def frees(self, target: int, cell: int) -> bool:
        (rows,), (coefs,) = self._columns([cell])
        outside = float(coefs @ coefs - coefs @ self.projector[np.ix_(rows, rows)] @ coefs)
        if outside > _EPS:
            return False
        t = self.at[target]
        t_rows, t_coefs = self.rows[t], self.coefs[t]
        return abs(float(t_coefs @ self.pinv[np.ix_(t_rows, rows)] @ coefs)) > _EPS
