"""The evaluation harness: suites, scorers, runner, statistics, calibration and the report."""

from mixstack.evals._evaluate import EvalSettings, evaluate_suite
from mixstack.evals._runner import EvalRunner, RunOptions
from mixstack.evals._suite import Case, EvalItem, ScorerSpec, Suite, SuiteError, Variant, load_suite

__all__ = [
    "Case",
    "EvalItem",
    "EvalRunner",
    "EvalSettings",
    "RunOptions",
    "ScorerSpec",
    "Suite",
    "SuiteError",
    "Variant",
    "evaluate_suite",
    "load_suite",
]
