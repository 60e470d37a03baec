"""Per-model summary of many audits: verdict counts, the lucky rate among right answers,
the error taxonomy and where reasoning first goes wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from mixstack.audit._audit import TraceAudit

__all__ = ["ERROR_KINDS", "summarize"]

ERROR_KINDS = ("arithmetic", "inconsistency", "contradiction", "unsupported", "reference_mismatch")


def summarize(results: Iterable[TraceAudit]) -> dict[str, Any]:
    """`lucky_rate` is lucky / (sound + lucky), over traces whose answer is right;
    `error_taxonomy` counts traces with at least one error of each kind;
    `first_error_step` is the distribution of the first flagged step (1-based)."""
    audits = list(results)
    verdicts = Counter(a.verdict for a in audits)
    right = verdicts["sound"] + verdicts["lucky"]
    taxonomy: Counter[str] = Counter(kind for a in audits for kind in {e.kind for e in a.errors})
    first = Counter(a.first_error_step for a in audits if a.first_error_step is not None)
    judged = [a for a in audits if a.judge is not None and a.judge.error is None]
    summary: dict[str, Any] = {
        "traces": len(audits),
        "verdicts": {v: verdicts[v] for v in ("sound", "lucky", "wrong", "unauditable")},
        "right_answers": right,
        "lucky_rate": round(verdicts["lucky"] / right, 4) if right else None,
        "flagged": sum(1 for a in audits if a.flagged),
        "error_taxonomy": {kind: taxonomy[kind] for kind in ERROR_KINDS},
        "first_error_step": {str(k): first[k] for k in sorted(first)},
        "equations_checked": sum(a.equations_checked for a in audits),
    }
    if judged:
        flagged_by_judge = [a for a in judged if a.judge and a.judge.wrong_steps]
        agree = sum(1 for a in judged if bool(a.judge and a.judge.wrong_steps) == a.flagged)
        summary["judge"] = {
            "model": judged[0].judge.model if judged[0].judge else None,
            "traces": len(judged),
            "flagged": len(flagged_by_judge),
            "agreement_with_rules": round(agree / len(judged), 4),
        }
    return summary
