"""The attacker of the small-count tests: given published numbers (None = suppressed) and the sums a
reader knows hold between them, every hidden number that linear algebra pins down, with its value.

Written independently of geo/privacy/suppression.py (exact fractions, Gauss-Jordan elimination),
so the tests check the routine against a second implementation rather than against itself.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction

Sum = tuple[Hashable, Iterable[Hashable]]  # (total, parts): total = sum of parts


def recover(published: Mapping[Hashable, int | None], sums: Iterable[Sum]) -> dict:
    """{hidden key: its value} for every hidden number the published ones determine."""
    hidden = sorted((k for k, v in published.items() if v is None), key=repr)
    col = {k: i for i, k in enumerate(hidden)}
    rows: list[list[Fraction]] = []
    for total, parts in sums:
        row = [Fraction(0)] * (len(hidden) + 1)  # coefficients of hidden cells | constant
        for key, coef in ((total, 1), *((p, -1) for p in parts)):
            value = published.get(key, 0)  # a key nobody published is a published zero row
            if value is None:
                row[col[key]] += coef
            else:
                row[-1] -= coef * value
        if any(row[:-1]):
            rows.append(row)
    pivots = _reduce(rows, len(hidden))
    found = {}
    for r, c in pivots:
        if not any(rows[r][j] for j in range(len(hidden)) if j != c):
            found[hidden[c]] = rows[r][-1]
    return found


def _reduce(rows: list[list[Fraction]], width: int) -> list[tuple[int, int]]:
    """Reduced row echelon form in place; the (row, column) of each pivot."""
    pivots, top = [], 0
    for c in range(width):
        pick = next((r for r in range(top, len(rows)) if rows[r][c]), None)
        if pick is None:
            continue
        rows[top], rows[pick] = rows[pick], rows[top]
        lead = rows[top][c]
        rows[top] = [x / lead for x in rows[top]]
        for r in range(len(rows)):
            if r != top and rows[r][c]:
                factor = rows[r][c]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[top], strict=True)]
        pivots.append((top, c))
        top += 1
    return pivots
