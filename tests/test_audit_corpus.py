"""The audit's quality bar, measured on hand-made traces (tests/data/audit_corpus*.jsonl).

Each planted trace is a clean trace with one hand-made edit: a wrong arithmetic result
(sometimes carried to the answer, sometimes not; clock times, durations and dates too), a
final answer that disagrees with the steps (announced, or read off the last sentence), or a
step that misquotes the given question or context (a number, name, date, time or unit).
The clean traces include the tricky cases: rounding, restated numbers, units, percentages,
thousands separators, money, results reused later, "about"/"≈", clock arithmetic across
noon and midnight, 12-hour times, durations in several units, dates across months, values
quoted from the context and values derived from them in words.
Bar: recall ≥ 0.9 per planted kind with the first wrong step located, ≤ 10% of clean
traces flagged. `pytest -s` prints the recall per kind and category (the id's letter).
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


def _audit(r: dict[str, Any]) -> Any:
    return audit_trace(r["question"], r["output"], expected=r["expected"], context=r.get("context"))


def test_corpus_is_large_enough() -> None:
    rows = _rows()
    assert sum(1 for r in rows if r["planted"] is None) >= 80
    assert sum(1 for r in rows if r["planted"] == "arithmetic") >= 40
    assert sum(1 for r in rows if r["planted"] == "inconsistency") >= 25
    assert sum(1 for r in rows if r["planted"] == "contradiction") >= 20


@pytest.mark.parametrize("kind", ["arithmetic", "inconsistency", "contradiction"])
def test_recall_on_planted_errors(kind: str) -> None:
    rows = [r for r in _rows() if r["planted"] == kind]
    hits = 0
    right_step = 0
    by_category: dict[str, list[int]] = {}
    for r in rows:
        audit = _audit(r)
        found = kind in {e.kind for e in audit.errors}
        located = found and audit.first_error_step == r["planted_step"]
        hits += found
        right_step += located
        tally = by_category.setdefault(r["id"].rstrip("0123456789"), [0, 0])
        tally[0] += located
        tally[1] += 1
    recall = hits / len(rows)
    categories = ", ".join(f"{c} {k}/{n}" for c, (k, n) in sorted(by_category.items()))
    print(f"\n{kind}: recall {recall:.3f} ({hits}/{len(rows)}), "
          f"first wrong step located {right_step}/{hits}; by category: {categories}")  # fmt: skip
    assert recall >= 0.9
    assert right_step >= 0.9 * hits


def test_clean_traces_are_rarely_flagged() -> None:
    rows = [r for r in _rows() if r["planted"] is None]
    flagged = []
    for r in rows:
        audit = _audit(r)
        assert audit.answer_correct, r["id"]
        if audit.errors or audit.verdict != "sound":
            flagged.append(r["id"])
    rate = len(flagged) / len(rows)
    print(f"\nclean traces flagged: {rate:.3f} ({len(flagged)}/{len(rows)}) {flagged}")
    assert rate <= 0.10
