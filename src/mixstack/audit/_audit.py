"""Audit one reasoning trace: extract its steps, run the rule-based checks, give a verdict.

sound        right answer, no flagged step
lucky        right answer reached through a flagged step
wrong        wrong answer (or, with no expected answer known, a flagged step)
unauditable  no reasoning steps found; never counted as sound
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from mixstack.audit._arith import equations
from mixstack.audit._checks import (
    ReferenceAlignment,
    StepError,
    align_reference,
    check_arithmetic,
    check_consistency,
    check_contradictions,
    check_grounding,
    same_answer,
)
from mixstack.audit._extract import Reasoning, extract_reasoning, find_answer
from mixstack.audit._quotes import check_quotes

__all__ = ["JudgeReport", "TraceAudit", "Verdict", "audit_trace"]

Verdict = Literal["sound", "lucky", "wrong", "unauditable"]


@dataclass(frozen=True, slots=True)
class JudgeReport:
    """A model's step-by-step verdict; reported next to, never mixed with, the rule checks."""

    model: str
    wrong_steps: tuple[int, ...]
    notes: tuple[str, ...]
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "wrong_steps": list(self.wrong_steps),
            "first_wrong_step": min(self.wrong_steps) if self.wrong_steps else None,
            "notes": list(self.notes),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class TraceAudit:
    """One trace's audit: verdict, steps, the first wrong step and the errors found."""

    id: str | None
    verdict: Verdict
    steps: tuple[str, ...]
    answer: str | None
    expected: str | None
    answer_correct: bool | None
    errors: tuple[StepError, ...]
    equations_checked: int
    source: str
    reference: ReferenceAlignment | None = None
    judge: JudgeReport | None = None

    @property
    def first_error_step(self) -> int | None:
        """1-based index of the first flagged step (len(steps) + 1: the final answer)."""
        return min((e.step for e in self.errors), default=None)

    @property
    def first_error_text(self) -> str | None:
        step = self.first_error_step
        if step is None:
            return None
        if step <= len(self.steps):
            return self.steps[step - 1]
        return f"final answer: {self.answer}"

    @property
    def flagged(self) -> bool:
        return bool(self.errors)

    def with_id(self, trace_id: str) -> TraceAudit:
        return dataclasses.replace(self, id=trace_id)

    def with_judge(self, judge: JudgeReport) -> TraceAudit:
        return dataclasses.replace(self, judge=judge)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "first_error_step": self.first_error_step,
            "first_error_text": self.first_error_text,
            "errors": [e.to_json() for e in self.errors],
            "answer": self.answer,
            "expected": self.expected,
            "answer_correct": self.answer_correct,
            "steps": list(self.steps),
            "equations_checked": self.equations_checked,
            "reasoning_source": self.source,
            "reference": None if self.reference is None else self.reference.to_json(),
            "judge": None if self.judge is None else self.judge.to_json(),
        }


def audit_trace(
    question: str,
    output: str,
    *,
    reference: str | None = None,
    context: str | None = None,
    expected: str | None = None,
    reasoning: str | None = None,
    trace_id: str | None = None,
) -> TraceAudit:
    """Audit one output's reasoning. `reasoning` is a provider's separate reasoning field;
    `reference` a worked solution (GSM8K style, its `#### N` line gives `expected` if unset)."""
    found = extract_reasoning(output, reasoning)
    if expected is None and reference:
        expected = find_answer(reference)
    answer_correct = None
    if expected is not None and expected.strip():
        answer_correct = found.answer is not None and same_answer(found.answer, expected)
    if not found.steps or _answer_only(found):
        return TraceAudit(
            trace_id, "unauditable", (), found.answer, expected, answer_correct, (), 0,
            found.source,
        )  # fmt: skip
    errors, alignment, checked = _run_checks(found, question, context, reference)
    return TraceAudit(
        id=trace_id,
        verdict=_verdict(answer_correct, bool(errors)),
        steps=found.steps,
        answer=found.answer,
        expected=expected,
        answer_correct=answer_correct,
        errors=tuple(sorted(errors, key=lambda e: e.step)),
        equations_checked=checked,
        source=found.source,
        reference=alignment,
    )


def _answer_only(found: Reasoning) -> bool:
    """One unmarked line with no arithmetic is the answer itself, not reasoning."""
    return not found.marked and len(found.steps) == 1 and not equations(found.steps[0])


def _run_checks(
    found: Reasoning, question: str, context: str | None, reference: str | None
) -> tuple[list[StepError], ReferenceAlignment | None, int]:
    steps = found.steps
    given = "\n".join(t for t in (question, context) if t)
    errors, learned = check_arithmetic(steps)
    answer_in_steps = not found.marked
    errors += check_consistency(steps, found.answer, learned, answer_in_steps)
    errors += check_contradictions(given, steps, learned)
    contradicted = {e.step for e in errors if e.kind == "contradiction"}
    errors += [
        StepError(m.step, "contradiction", m.detail)
        for m in check_quotes(given, steps, learned.equations)
        if m.step not in contradicted
    ]
    errors += check_grounding(given, steps, learned)
    alignment = None
    if reference and reference.strip():
        alignment, ref_errors = align_reference(reference, steps, learned)
        errors += ref_errors
    return errors, alignment, sum(len(e) for e in learned.equations)


def _verdict(answer_correct: bool | None, flagged: bool) -> Verdict:
    if answer_correct is False:
        return "wrong"
    if answer_correct is None:
        return "wrong" if flagged else "sound"
    return "lucky" if flagged else "sound"
