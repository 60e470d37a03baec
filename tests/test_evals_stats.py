"""Statistics against values worked out by hand."""

from __future__ import annotations

import pytest

from mixstack.evals._stats import agresti_min_interval, mcnemar_exact, percentile, wilson_interval


def test_wilson_interval() -> None:
    low, high = wilson_interval(5, 10) or (0, 0)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    low, high = wilson_interval(0, 10) or (1, 1)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) is None  # undefined, never NaN


def test_mcnemar_exact() -> None:
    assert mcnemar_exact(0, 5) == pytest.approx(0.0625)  # 2 × 0.5⁵
    assert mcnemar_exact(1, 4) == pytest.approx(0.375)  # 2 × (1 + 5) / 32
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert 0 < mcnemar_exact(4000, 4300) < 0.01  # large counts stay finite


def test_paired_difference_interval() -> None:
    diff, low, high = agresti_min_interval(8, 2, 50) or (0, 0, 0)
    assert diff == pytest.approx(0.12)
    assert low < 0.12 < high
    assert low >= -1.0
    assert high <= 1.0
    assert agresti_min_interval(0, 0, 0) is None


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_calibration_picks_the_cheapest_model_over_target_and_skips_unmeasured() -> None:
    from mixstack.evals._calibrate import calibrate

    def run(model: str, n: int, passed: int, low: float | None, cost: float) -> dict[str, object]:
        return {
            "model": model,
            "variant": "v",
            "n": n,
            "errors": 10 - n,
            "pass_rate": passed / n if n else None,
            "ci_low": low,
            "ci_high": None if low is None else 1.0,
            "cost_usd": cost,
            "cost_per_correct": cost / passed if passed else None,
            "latency_p50_ms": 5.0,
        }

    summary = {
        "variants": ["v"],
        "runs": [
            run("rented/big", 10, 10, 0.72, 0.50),
            run("rented/small", 10, 10, 0.72, 0.05),
            run("local/tiny", 10, 6, 0.31, 0.0),
            run("broken/x", 0, 0, None, 0.0),
        ],
    }
    entry = calibrate(summary, 0.7)
    assert entry["recommended"] == "rented/small"
    assert "broken/x" not in entry["models"]
    assert calibrate(summary, 0.9)["recommended"] is None


def test_wilson_interval_holds_its_estimate_for_every_n_and_k() -> None:
    """All n ≤ 200, all k: 0 ≤ low ≤ k/n ≤ high ≤ 1 (0 passes once gave low = 2.8e-17)."""
    bad = []
    for n in range(1, 201):
        for k in range(n + 1):
            low, high = wilson_interval(k, n) or (2.0, -1.0)
            p = k / n
            if not 0.0 <= low <= p <= high <= 1.0:
                bad.append((k, n, low, high))
    assert bad == []
    assert wilson_interval(0, 7) is not None
    assert wilson_interval(0, 7)[0] == 0.0
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(8, 7)


def test_paired_interval_holds_its_estimate_for_every_table() -> None:
    """All n ≤ 200 and every split of n pairs into A-only, B-only and concordant ones."""
    bad = []
    checked = 0
    for n in range(1, 201):
        for b in range(n + 1):
            for c in range(n - b + 1):
                diff, low, high = agresti_min_interval(b, c, n) or (0.0, 2.0, -2.0)
                checked += 1
                if not -1.0 <= low <= diff <= high <= 1.0 or diff != (b - c) / n:
                    bad.append((b, c, n, low, diff, high))
    assert checked == sum((n + 1) * (n + 2) // 2 for n in range(1, 201))
    assert bad == []
    with pytest.raises(ValueError, match="do not fit"):
        agresti_min_interval(5, 6, 10)
