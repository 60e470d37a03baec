"""The audit's quality bar, measured on hand-made traces (tests/data/audit_corpus*.jsonl).

Each planted trace is a clean trace with one hand-made edit: a wrong arithmetic result
(sometimes carried to the answer, sometimes not) or a final answer that disagrees with the
steps. The clean traces include the tricky cases: rounding, restated numbers, units,
percentages, thousands separators, money, results reused later, "about"/"≈".
Bar (from the issue): recall ≥ 0.9 per planted kind, ≤ 10% of clean traces flagged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixstack.audit import audit_trace

DATA = Path(__file__).parent / "data"
CORPORA = sorted(DATA.glob("audit_corpus*.jsonl"))


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for path in CORPORA for line in path.read_text().splitlines()]


def test_corpus_is_large_enough() -> None:
    rows = _rows()
    assert sum(1 for r in rows if r["planted"] is None) >= 80
    assert sum(1 for r in rows if r["planted"] == "arithmetic") >= 40
    assert sum(1 for r in rows if r["planted"] == "inconsistency") >= 25


@pytest.mark.parametrize("kind", ["arithmetic", "inconsistency"])
def test_recall_on_planted_errors(kind: str) -> None:
    rows = [r for r in _rows() if r["planted"] == kind]
    hits = 0
    right_step = 0
    for r in rows:
        audit = audit_trace(r["question"], r["output"], expected=r["expected"])
        if kind in {e.kind for e in audit.errors}:
            hits += 1
            right_step += audit.first_error_step == r["planted_step"]
    recall = hits / len(rows)
    print(f"\n{kind}: recall {recall:.3f} ({hits}/{len(rows)}), "
          f"first wrong step located {right_step}/{hits}")  # fmt: skip
    assert recall >= 0.9
    assert right_step >= 0.9 * hits


def test_clean_traces_are_rarely_flagged() -> None:
    rows = [r for r in _rows() if r["planted"] is None]
    flagged = []
    for r in rows:
        audit = audit_trace(r["question"], r["output"], expected=r["expected"])
        assert audit.answer_correct, r["id"]
        if audit.errors or audit.verdict != "sound":
            flagged.append(r["id"])
    rate = len(flagged) / len(rows)
    print(f"\nclean traces flagged: {rate:.3f} ({len(flagged)}/{len(rows)}) {flagged}")
    assert rate <= 0.10
