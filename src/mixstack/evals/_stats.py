"""Statistics with honest uncertainty: Wilson intervals, McNemar's exact test, paired intervals.

Nothing here returns NaN: an undefined quantity (a rate over zero cases) is `None`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["agresti_min_interval", "mcnemar_exact", "percentile", "wilson_interval"]

Z95 = 1.959963984540054


def wilson_interval(passed: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a pass rate (good at small n and near 0 or 1).

    The bounds are clamped to [0, 1] and to the estimate itself: in exact arithmetic the
    interval always holds p, but at 0 or n passes floating point can leave a bound a hair on
    the wrong side (a lower bound of 2.8e-17 over a pass rate of 0).
    """
    if n <= 0:
        return None
    if not 0 <= passed <= n:
        raise ValueError(f"passed must be between 0 and n ({n}), got {passed}")
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


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
    when one model never disagrees with the other. The adjusted interval is centred on the
    shrunk difference, so at the extremes (one model wins every case) it can fall short of
    the observed difference; it is then widened to reach it, so the interval always holds
    its own estimate.
    """
    if n <= 0:
        return None
    if b < 0 or c < 0 or b + c > n:
        raise ValueError(f"discordant counts b={b}, c={c} do not fit in n={n} pairs")
    diff = (b - c) / n
    b2, c2, n2 = b + 0.5, c + 0.5, n + 2
    centre = (b2 - c2) / n2
    se = math.sqrt(max(0.0, (b2 + c2) - (b2 - c2) ** 2 / n2)) / n2
    low = min(diff, max(-1.0, centre - z * se))
    high = max(diff, min(1.0, centre + z * se))
    return diff, low, high


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
