"""The evaluation harness: suites, scorers, runner, statistics, calibration and the report."""

from mixstack.evals.suite import Case, EvalItem, ScorerSpec, Suite, SuiteError, Variant, load_suite

__all__ = [
    "Case",
    "EvalItem",
    "ScorerSpec",
    "Suite",
    "SuiteError",
    "Variant",
    "load_suite",
]
