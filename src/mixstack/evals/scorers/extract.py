"""Scorers that pull an answer out of free text: `numeric` (the final number), `choice` (A–E)."""

from __future__ import annotations

import math
import re
from typing import Any

from mixstack.evals.scorers.base import Options, Score, ScoreContext, Scorer, ScorerError

__all__ = ["ChoiceScorer", "NumericScorer", "final_number"]

_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?%?")
_FRACTION = re.compile(r"(?<![\w.])(-?\d+)\s*/\s*(\d+)(?![\w.])")


def final_number(text: str) -> float | None:
    """The last number in the text: `1,234.5`, `-3`, `2e-3`, `45%` (as 45), `3/4`."""
    candidates: list[tuple[int, float]] = []
    for m in _NUMBER.finditer(text):
        raw = m.group(0).rstrip("%").replace(",", "")
        try:
            candidates.append((m.end(), float(raw)))
        except ValueError:
            continue
    for m in _FRACTION.finditer(text):
        den = int(m.group(2))
        if den:
            candidates.append((m.end() + 1, int(m.group(1)) / den))
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return final_number(value)
    return None


class NumericOptions(Options):
    value: float | None = None
    #: absolute tolerance
    tolerance: float = 1e-6
    #: relative tolerance (fraction of the expected value); either tolerance suffices
    relative: float = 0.0


class NumericScorer(Scorer[NumericOptions]):
    """The final number in the answer is within tolerance of the expected number."""

    name = "numeric"
    options_model = NumericOptions

    def check(self, ctx: ScoreContext) -> Score:
        o = self.options
        want = o.value if o.value is not None else _as_number(ctx.expected)
        if want is None:
            raise ScorerError(f"case {ctx.case.id!r}: numeric: `expected` is not a number")
        got = final_number(ctx.output)
        if got is None:
            return Score(0.0, False, "no number in the answer")
        ok = math.isclose(got, want, abs_tol=o.tolerance, rel_tol=o.relative)
        return Score.of(ok, f"got {got:g}, expected {want:g}")


class ChoiceOptions(Options):
    value: str | None = None
    choices: str = "ABCDE"


class ChoiceScorer(Scorer[ChoiceOptions]):
    """A multiple-choice letter: `Answer: B`, `(B)`, `B)`, `B.` or a lone `B`."""

    name = "choice"
    options_model = ChoiceOptions

    def check(self, ctx: ScoreContext) -> Score:
        o = self.options
        letters = re.escape(o.choices.upper())
        want_raw = o.value if o.value is not None else ctx.expected
        if not isinstance(want_raw, str) or want_raw.strip().upper()[:1] not in o.choices.upper():
            raise ScorerError(f"case {ctx.case.id!r}: choice: `expected` is not one of {o.choices}")
        want = want_raw.strip().upper()[:1]
        got = self._extract(ctx.output, letters)
        if got is None:
            return Score(0.0, False, "no choice letter in the answer")
        return Score.of(got == want, f"chose {got}")

    @staticmethod
    def _extract(text: str, letters: str) -> str | None:
        patterns = (
            rf"(?i:answer|choice|option)\s*(?:is|:)?\s*\(?([{letters}])\b",
            rf"\(([{letters}])\)",
            rf"(?m)^\s*([{letters}])[).:]?(?:\s|$)",
            rf"\b([{letters}])\b",
        )
        for pattern in patterns:
            m = re.search(pattern, text.upper() if pattern.startswith("(?i") else text)
            if m:
                return m.group(1).upper()
        return None
