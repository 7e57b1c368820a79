"""Statistics an auditor runs on the dispatch log: is the draw uniform, and free of serial patterns?

No SciPy needed: the chi-square survival function is the regularised upper incomplete gamma function
Q(df/2, x/2), computed by its series (x < s + 1) or its continued fraction (Lentz), as in Numerical
Recipes §6.2; both converge to double precision in a few hundred terms for the sizes used here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 10_000


def _lower_series(s: float, x: float) -> float:
    """P(s, x) by its power series."""
    term = total = 1.0 / s
    a = s
    for _ in range(_MAX_ITER):
        a += 1
        term *= x / a
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + s * math.log(x) - math.lgamma(s))


def _upper_fraction(s: float, x: float) -> float:
    """Q(s, x) by its continued fraction (modified Lentz)."""
    b = x + 1 - s
    c = 1 / _TINY
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - s)
        b += 2
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return h * math.exp(-x + s * math.log(x) - math.lgamma(s))


def gamma_q(s: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(s, x) = Γ(s, x) / Γ(s)."""
    if s <= 0:
        raise ValueError("s must be positive")
    if x <= 0:
        return 1.0
    if x < s + 1:
        return max(0.0, 1.0 - _lower_series(s, x))
    return min(1.0, _upper_fraction(s, x))


def chi2_sf(x: float, df: int) -> float:
    """P(X ≥ x) for X chi-square with `df` degrees of freedom."""
    return gamma_q(df / 2, x / 2)


def chi_square_uniform(counts: Sequence[int]) -> tuple[float, int, float]:
    """Pearson's statistic against equal cell probabilities: (statistic, degrees of freedom, p-value)."""
    n, k = sum(counts), len(counts)
    if k < 2 or n == 0:
        raise ValueError("need at least two cells and one observation")
    expected = n / k
    stat = sum((c - expected) ** 2 / expected for c in counts)
    return stat, k - 1, chi2_sf(stat, k - 1)


def chi_square_independence(table: Sequence[Sequence[int]]) -> tuple[float, int, float]:
    """Pearson's test of independence of a contingency table (e.g. consecutive picks): (stat, df, p)."""
    rows = [sum(r) for r in table]
    cols = [sum(c) for c in zip(*table, strict=True)]
    n = sum(rows)
    stat = 0.0
    for i, row in enumerate(table):
        for j, observed in enumerate(row):
            expected = rows[i] * cols[j] / n
            if expected > 0:
                stat += (observed - expected) ** 2 / expected
    df = (sum(1 for r in rows if r) - 1) * (sum(1 for c in cols if c) - 1)
    return stat, df, chi2_sf(stat, df)


def audit_report(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """From dispatch audit details: uniformity of the draw index over the candidate count, per k.

    For a fixed candidate set of size k, the draw index must be uniform on 0..k-1 whatever the set;
    pooling the entries by k tests every set at once (the "rank of the chosen window / k" check).
    """
    by_k: dict[int, Counter[int]] = {}
    for d in entries:
        if d.get("draw") is None or int(d.get("k", 0)) < 2:
            continue
        by_k.setdefault(int(d["k"]), Counter())[int(d["draw"])] += 1
    report: dict[str, Any] = {}
    for k, counter in sorted(by_k.items()):
        counts = [counter.get(i, 0) for i in range(k)]
        stat, df, p = chi_square_uniform(counts)
        report[str(k)] = {"draws": sum(counts), "counts": counts, "chi2": round(stat, 3), "df": df, "p": p}
    return report
