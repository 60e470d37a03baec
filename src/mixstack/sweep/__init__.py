"""Long-context focus sweep: a suite's key facts at every length × depth inside filler.

run_sweep(suite, pipeline, SweepSettings(...)) -> SweepOutcome   the calls
summarize_sweep(outcome, settings) -> dict                        per-model figures
render_report(report) -> str                                      self-contained HTML
"""

from mixstack.sweep._filler import filler_sentences, generate_filler
from mixstack.sweep._haystack import KeyContext, SweepError, build_haystack, key_context
from mixstack.sweep._report import render_report
from mixstack.sweep._run import SweepCall, SweepOutcome, SweepSettings, SweepSkip, run_sweep
from mixstack.sweep._summary import EFFECTIVE_SHARE, effective_length, summarize_sweep

__all__ = [
    "EFFECTIVE_SHARE",
    "KeyContext",
    "SweepCall",
    "SweepError",
    "SweepOutcome",
    "SweepSettings",
    "SweepSkip",
    "build_haystack",
    "effective_length",
    "filler_sentences",
    "generate_filler",
    "key_context",
    "render_report",
    "run_sweep",
    "summarize_sweep",
]
