"""The CLI's exit codes, and how an eval run's summary maps onto them.

    0  ok
    1  the model or its endpoint failed (ProviderError)
    2  usage or config error (UserError)
    3  refused by policy (PolicyError)
    4  rate limited (RateLimited)
    5  model not available here: missing file, package or key (ModelUnavailableError)
    6  quality below target: a pass rate under `--fail-under`
    7  calls failed: more than `--max-error-rate` of a model's calls errored

A run that both misses its target and loses calls exits 7: a pass rate computed over the
calls that did answer says little while the endpoint is failing, and CI should page for
the outage rather than report a regression.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_MAX_ERROR_RATE",
    "EXIT_BELOW_TARGET",
    "EXIT_CALLS_FAILED",
    "EXIT_CODES_HELP",
    "below_target",
    "eval_exit_code",
    "failing_calls",
]

EXIT_BELOW_TARGET = 6
EXIT_CALLS_FAILED = 7
#: above this share of errored calls a model's run counts as failed (one flaky call of 20 not)
DEFAULT_MAX_ERROR_RATE = 0.05

EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 model or endpoint failed · 2 usage or config error · "
    "3 refused by policy · 4 rate limited · 5 model not available here · "
    f"{EXIT_BELOW_TARGET} quality below --fail-under · "
    f"{EXIT_CALLS_FAILED} calls failed (errors above --max-error-rate)."
)


def error_rate(run: dict[str, Any]) -> float | None:
    attempted = int(run["n"]) + int(run["errors"])
    return int(run["errors"]) / attempted if attempted else None


def failing_calls(summary: dict[str, Any], max_error_rate: float) -> list[dict[str, Any]]:
    """Model × variant runs whose share of errored calls is above the threshold."""
    return [
        r for r in summary["runs"] if (rate := error_rate(r)) is not None and rate > max_error_rate
    ]


def below_target(summary: dict[str, Any], fail_under: float) -> list[dict[str, Any]]:
    """Runs whose pass rate is under the target, or unknown (no call answered)."""
    return [r for r in summary["runs"] if r["pass_rate"] is None or r["pass_rate"] < fail_under]


def eval_exit_code(summary: dict[str, Any], fail_under: float | None, max_error_rate: float) -> int:
    if failing_calls(summary, max_error_rate):
        return EXIT_CALLS_FAILED
    if fail_under is not None and below_target(summary, fail_under):
        return EXIT_BELOW_TARGET
    return 0
