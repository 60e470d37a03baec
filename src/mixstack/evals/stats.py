"""Statistics with honest uncertainty: Wilson intervals, McNemar's exact test, paired intervals.

Nothing here returns NaN: an undefined quantity (a rate over zero cases) is `None`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["agresti_min_interval", "mcnemar_exact", "percentile", "wilson_interval"]

Z95 = 1.959963984540054


def wilson_interval(passed: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a pass rate (good at small n and near 0 or 1)."""
    if n <= 0:
        return None
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _log_binom_pmf(k: int, n: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (b: A only, c: B only)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    logs = [_log_binom_pmf(i, n) for i in range(k + 1)]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2 * tail)


def agresti_min_interval(
    b: int, c: int, n: int, z: float = Z95
) -> tuple[float, float, float] | None:
    """Difference of paired pass rates (A − B) with the Agresti–Min adjusted Wald interval.

    Adds ½ to each cell of the 2×2 table, which keeps the interval sensible at small n and
    when one model never disagrees with the other.
    """
    if n <= 0:
        return None
    diff = (b - c) / n
    b2, c2, n2 = b + 0.5, c + 0.5, n + 2
    centre = (b2 - c2) / n2
    se = math.sqrt(max(0.0, (b2 + c2) - (b2 - c2) ** 2 / n2)) / n2
    return diff, max(-1.0, centre - z * se), min(1.0, centre + z * se)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0–100) of already sorted values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)
