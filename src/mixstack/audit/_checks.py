"""The rule-based step checks: arithmetic, answer consistency, contradiction, grounding and
reference alignment. Each returns the errors it finds; none of them calls a model.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from mixstack.audit._arith import Equation, equations
from mixstack.audit._clock import clock_value, duration_value, items, same_clock, time_relations
from mixstack.audit._facts import Fact, facts
from mixstack.audit._numbers import Quantity, approx_equal, quantities

__all__ = [
    "ErrorKind",
    "ReferenceAlignment",
    "StepError",
    "StepFacts",
    "align_reference",
    "check_arithmetic",
    "check_consistency",
    "check_contradictions",
    "check_grounding",
    "same_answer",
]

ErrorKind = Literal[
    "arithmetic", "inconsistency", "contradiction", "unsupported", "reference_mismatch"
]

#: numbers anyone may bring in: small counts and common conversion factors
_CONSTANTS = {Fraction(n) for n in range(11)} | {
    Fraction(n) for n in (12, 24, 30, 31, 52, 60, 100, 360, 365, 1000, 1440, 3600)
}

_FACTORS = tuple(Fraction(n) for n in (7, 12, 24, 60, 100, 1000, 3600))


@dataclass(frozen=True, slots=True)
class StepError:
    step: int  # 1-based; len(steps) + 1 is the final answer when it is not part of a step
    kind: ErrorKind
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "kind": self.kind, "detail": self.detail}


@dataclass(slots=True)
class StepFacts:
    """What the arithmetic pass learned about each step, reused by the later checks."""

    equations: list[list[Equation]] = field(default_factory=list)


def _fmt(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


def check_arithmetic(steps: tuple[str, ...]) -> tuple[list[StepError], StepFacts]:
    errors: list[StepError] = []
    learned = StepFacts()
    for index, step in enumerate(steps, start=1):
        eqs = equations(step)
        learned.equations.append(eqs)
        for eq in eqs:
            if not eq.ok:
                if eq.kind == "conversion":
                    detail = f"{eq.text}: the conversion gives {_fmt(eq.value)}"
                else:
                    detail = f"{eq.text}: {_lhs(eq.text)} is {_fmt(eq.value)}"
                stated = eq.stated.raw or _fmt(eq.stated.value)
                errors.append(StepError(index, "arithmetic", f"{detail}, not {stated}"))
        for rel in time_relations(step):
            if not rel.ok:
                errors.append(
                    StepError(index, "arithmetic", f"{rel.text}: the result is {rel.expected}")
                )
    return errors, learned


def _lhs(text: str) -> str:
    return re.split(r"\s(?:==?|≈|≃|~=|=>|->|→|is|are|was|were|equals?|gives?|makes?|yields|gets?|"
                    r"got|totals|comes|rounds?|round)\s", text, maxsplit=1)[0]  # fmt: skip


_LINKS = re.compile(r"=|≈|\b(?:is|are|equals|was|were|gives|makes)\b")


def answer_quantity(answer: str) -> Quantity | None:
    """The number an answer gives: after its last `=`/`is` if it has one, else its first."""
    parts = _LINKS.split(answer)
    for part in reversed(parts):
        nums = quantities(part, words=True)
        if nums:
            return nums[0]
    return None


def same_answer(answer: str, expected: str) -> bool:
    """Whether a final answer says the same as the expected one (numbers or normalized text)."""
    clock = same_clock(answer, expected)
    if clock is not None:
        return clock
    da, de = duration_value(answer), duration_value(expected)
    if da is not None and de is not None:
        return da == de
    if _same_number(answer, expected):
        return True
    said = quantities(answer, words=True)
    # "She sells 150, so 18 are left": a conclusion sentence ends on its answer
    return len(said) > 1 and _same_number(said[-1].raw, expected)


def _same_number(answer: str, expected: str) -> bool:
    e = answer_quantity(expected)
    if e is not None:
        a = answer_quantity(answer)
        if a is None:
            return False
        if a.value == e.value or a.plain == e.plain:
            return True
        digits = min(a.decimals, e.decimals)
        if digits == 0:
            return False
        return abs(a.plain - e.plain) <= Fraction(1, 2 * 10**digits) or abs(
            a.value - e.value
        ) <= Fraction(1, 2 * 10**digits)
    na, ne = _norm(answer), _norm(expected)
    if not ne:
        return False
    return na == ne or (len(na.split()) <= 8 and f" {ne} " in f" {na} ")


def _norm(text: str) -> str:
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def _step_candidates(steps: tuple[str, ...], learned: StepFacts) -> list[Fraction]:
    """The values the last step with numbers arrives at: its last result, and the numbers it
    states beyond the operands and results of its equations (`13 packs, since 13 × 12 = 156`)."""
    for index in range(len(steps) - 1, -1, -1):
        nums = quantities(steps[index], words=True)
        if not nums or (index and _CHECK_STEP.match(steps[index])):
            continue  # a closing check ("Check: 18 + 150 = 168") restates, it does not conclude
        eqs = learned.equations[index] if index < len(learned.equations) else []
        if not eqs:
            return [v for q in nums for v in (q.value, q.plain)]
        used = Counter(op for eq in eqs for op in eq.operands)
        used.update(eq.stated.plain for eq in eqs)
        seen: Counter[Fraction] = Counter()
        values = [eqs[-1].value, eqs[-1].stated.value, eqs[-1].stated.plain]
        for q in nums:
            seen[q.plain] += 1
            if seen[q.plain] > used[q.plain]:
                values.extend((q.value, q.plain))
        return values
    return []


_CHECK_STEP = re.compile(
    r"^\W*(?:let'?s |let us |to |we can |now )?(?:double[- ]?)?"
    r"(?:check|verify|verification|verifying|confirm|confirming|sanity)",
    re.IGNORECASE,
)


def check_consistency(
    steps: tuple[str, ...], answer: str | None, learned: StepFacts, answer_in_steps: bool
) -> list[StepError]:
    """The final answer against what the steps arrive at. An announced answer ("Answer: 13")
    is compared with the last step's result; an answer read off the last step ("… The area
    is 13 m².") is compared with what the steps before it computed."""
    if answer is None:
        return []
    clock = _clock_consistency(steps, answer, answer_in_steps)
    if clock is not None:
        return clock
    duration = _duration_consistency(steps, answer, answer_in_steps)
    if duration is not None:
        return duration
    if answer_in_steps:
        return _conclusion_consistency(steps, answer, learned)
    stated = answer_quantity(answer)
    if stated is None:
        return []
    candidates = _step_candidates(steps, learned)
    if not candidates:
        return []
    if any(approx_equal(c, stated) or c == stated.plain for c in candidates):
        return []
    arrived = learned_result(learned) or candidates[0]
    return [
        StepError(
            len(steps) + 1,
            "inconsistency",
            f"the final answer is {stated.raw} but the steps arrive at {_fmt(arrived)}",
        )
    ]


def _clock_consistency(
    steps: tuple[str, ...], answer: str, answer_in_steps: bool
) -> list[StepError] | None:
    """A clock-time answer against the last time the steps state (None: not a time answer)."""
    if clock_value(answer.rstrip(".")) is None:
        return None
    last = len(steps) - 1 if answer_in_steps else len(steps)
    for index in range(last - 1, -1, -1):
        times = [i for i in items(steps[index]) if i.kind == "time"]
        if times:
            if same_clock(times[-1].text, answer):
                return []
            return [
                StepError(
                    len(steps) + (0 if answer_in_steps else 1),
                    "inconsistency",
                    f"the final answer is {answer} but the steps arrive at {times[-1].text}",
                )
            ]
    return []


def _duration_consistency(
    steps: tuple[str, ...], answer: str, answer_in_steps: bool
) -> list[StepError] | None:
    """A duration answer ("2 hours 25 minutes") against the durations and amounts of the
    last steps (None: not a duration answer)."""
    value = duration_value(answer)
    if value is None or answer_in_steps:
        return None
    seen: list[str] = []
    for step in steps[-2:]:
        for item in items(step):
            if item.kind == "duration":
                seen.append(item.text)
                if item.value == value:
                    return []
        for q in quantities(step):
            if q.plain in (value, value / 60, value / 3600):
                return []
    if not seen:
        return []
    return [
        StepError(
            len(steps) + 1,
            "inconsistency",
            f"the final answer is {answer} but the steps arrive at {seen[-1]}",
        )
    ]


def _conclusion_consistency(
    steps: tuple[str, ...], answer: str, learned: StepFacts
) -> list[StepError]:
    """`9 × 4 = 36. The area is 13 m².`: a concluding sentence with no working of its own
    must state a number the earlier steps computed (or one step from one: `168 − 150`, said
    in words as "she sells 150, so 18 are left")."""
    if equations(answer) or len(steps) < 2:
        return []
    results: list[Fraction] = []
    for eqs in learned.equations[:-1]:
        for eq in eqs:
            results.extend((eq.value, eq.stated.value, eq.stated.plain))
    last_eqs = learned.equations[-1] if learned.equations else []
    for eq in last_eqs:
        results.extend((eq.value, eq.stated.value, eq.stated.plain))
    if not results:
        return []
    said = quantities(answer, words=True)
    if not said:
        return []
    for q in said:
        if any(approx_equal(r, q) or r == q.plain for r in results):
            return []
        # "she sells 150, so 18 are left": one operation with a number the sentence gives
        operands = {o.plain for o in said if o is not q}
        if _one_step(q.plain, results[-3:], operands) or _one_step(q.value, results[-3:], operands):
            return []
    stated = answer_quantity(answer) or said[-1]
    return [
        StepError(
            len(steps),
            "inconsistency",
            f"the final answer is {stated.raw} but the steps arrive at {_fmt(results[-3])}",
        )
    ]


def _one_step(value: Fraction, results: list[Fraction], operands: set[Fraction]) -> bool:
    for r in results:
        for o in operands:
            if o in (0, value):
                continue
            if value in (r + o, r - o, o - r, r * o, r / o) or (
                value and value == o / r if r else False
            ):
                return True
    return False


def learned_result(learned: StepFacts) -> Fraction | None:
    for eqs in reversed(learned.equations):
        if eqs:
            return eqs[-1].value
    return None


def check_contradictions(
    given: str, steps: tuple[str, ...], learned: StepFacts | None = None
) -> list[StepError]:
    """A restated fact with another value than the question or an earlier step gave it —
    unless the steps computed that value (then it is an update, not a misreading)."""
    known: dict[tuple[str, ...], Fact] = {}
    for fact in facts(given):
        known.setdefault(fact.key, fact)
    computed: set[Fraction] = set()
    errors: list[StepError] = []
    for index, step in enumerate(steps, start=1):
        if learned is not None and index - 1 < len(learned.equations):
            for eq in learned.equations[index - 1]:
                computed.update((eq.value, eq.stated.value, eq.stated.plain))
        for fact in facts(step):
            prior = known.get(fact.key)
            derived = isinstance(fact.value, Fraction) and fact.value in computed
            if (
                prior is not None
                and prior.value != fact.value
                and not fact.changing
                and not derived
            ):
                origin = "the question or context" if prior in facts(given) else "an earlier step"
                errors.append(
                    StepError(
                        index,
                        "contradiction",
                        f"{fact.text!r} contradicts {origin}: {prior.text!r}",
                    )
                )
            if prior is None or not fact.changing:
                known.setdefault(fact.key, fact)
    return errors


def check_grounding(given: str, steps: tuple[str, ...], learned: StepFacts) -> list[StepError]:
    """Numbers and names a step uses that come from nowhere: neither the question or
    context, nor an earlier result, nor one operation on known numbers."""
    if not given.strip():
        return []
    known = _Known()
    for q in quantities(given, words=True):
        known.add(q.value, q.plain, q.value * 100, own=True)
    known.add(*_implied(given), own=True)
    given_lower = given.lower()
    errors: list[StepError] = []
    for index, step in enumerate(steps, start=1):
        eqs = learned.equations[index - 1] if index - 1 < len(learned.equations) else []
        results = {eq.stated.value for eq in eqs} | {eq.value for eq in eqs}
        results |= {eq.stated.plain for eq in eqs}
        known.add(*results, own=True)
        for rel in time_relations(step):  # "from 8:10 to 11:25 is 3 hours 15 minutes"
            known.add(*(q.value for q in quantities(rel.result)), own=True)
        for q in quantities(step):
            if known.supports(q):
                known.add(q.value, q.plain, own=True)
                continue
            errors.append(
                StepError(
                    index,
                    "unsupported",
                    f"{q.raw} appears neither in the question nor as a result of earlier steps",
                )
            )
            break  # one unsupported number per step is enough to flag it
        for fact in facts(step):
            if fact.subject.lower() not in given_lower:
                errors.append(
                    StepError(index, "unsupported", f"{fact.subject!r} is not in the question")
                )
        for q in quantities(step, words=True):
            known.add(q.value, q.plain, own=True)
        known.add(*_implied(step), own=True)
    return errors


def _key(value: float) -> float:
    """Floats compared at nine significant digits (1/3 computed two ways is one key)."""
    return float(f"{value:.9g}")


class _Known:
    """The numbers a step may use. Lookups are by rounded float so that checking a number
    against every one-operation combination stays linear in the known numbers."""

    #: the most recent numbers of the trace that one-operation checks combine
    RECENT = 80

    def __init__(self) -> None:
        self.exact: set[Fraction] = set(_CONSTANTS)
        self.keys: set[float] = {_key(float(c)) for c in _CONSTANTS}
        self.sorted: list[float] = sorted(self.keys)
        self.own: dict[float, None] = {}  # insertion-ordered: problem numbers and results

    def add(self, *values: Fraction, own: bool = False) -> None:
        for v in values:
            if v in self.exact:
                continue
            self.exact.add(v)
            k = _key(float(v))
            if k not in self.keys:
                self.keys.add(k)
                bisect.insort(self.sorted, k)
            if own and v not in _CONSTANTS and v:
                self.own.pop(k, None)
                self.own[k] = None

    def _near(self, target: float, tolerance: float) -> bool:
        i = bisect.bisect_left(self.sorted, target - tolerance)
        return i < len(self.sorted) and self.sorted[i] <= target + tolerance

    def supports(self, q: Quantity) -> bool:
        if q.value in self.exact or q.plain in self.exact:
            return True
        # a restatement rounded to the digits shown ("about 33%" for 1/3)
        tolerance = float(q.resolution) * 2 + 1e-12
        for target in {float(q.value), float(q.plain)}:
            scale = tolerance / 100 if q.percent and target == float(q.plain) else tolerance
            if self._near(target, scale):
                return True
        return any(self._derived(_key(float(t))) for t in {q.value, q.plain})

    def _derived(self, t: float) -> bool:
        """One operation on known numbers, done in the head ("5 apples and 3 pears: 8"),
        with at least one operand from the problem; or a mixed-unit amount (2 kg 300 g)."""
        keys = self.keys
        recent = list(self.own)[-self.RECENT :]
        for a in recent:
            candidates = (t - a, a - t, t + a, t / a, a / t if t else 0.0, t * a)
            if any(_key(c) in keys for c in candidates if c):
                return True
        own = set(recent)
        for f in _FACTORS:
            ff = float(f)
            for b in keys:
                if _key(t - b * ff) in own:
                    return True
        return False


_FRACTION = re.compile(r"\b(\d+)\s*/\s*(\d+)\b")
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")


def _implied(text: str) -> set[Fraction]:
    """Values a text gives without writing them: fractions (3/4) and clock times (8:30)."""
    values: set[Fraction] = set()
    for m in _FRACTION.finditer(text):
        if int(m.group(2)):
            values.add(Fraction(int(m.group(1)), int(m.group(2))))
    for m in _CLOCK.finditer(text):
        hours, minutes = int(m.group(1)), int(m.group(2))
        values.update((hours + Fraction(minutes, 60), Fraction(hours * 60 + minutes)))
    return values


@dataclass(frozen=True, slots=True)
class ReferenceAlignment:
    """How the trace's intermediate results line up with a reference solution's."""

    reference_results: tuple[str, ...]
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    different: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "reference_results": list(self.reference_results),
            "matched": list(self.matched),
            "missing": list(self.missing),
            "different": list(self.different),
        }


def align_reference(
    reference: str, steps: tuple[str, ...], learned: StepFacts
) -> tuple[ReferenceAlignment, list[StepError]]:
    ref_eqs = [eq for line in reference.splitlines() for eq in equations(line)]
    trace_values: list[Fraction] = []
    for step in steps:
        for q in quantities(step, words=True):
            trace_values.extend((q.value, q.plain))
    matched: list[str] = []
    missing: list[str] = []
    different: list[str] = []
    errors: list[StepError] = []
    for ref in ref_eqs:
        label = ref.text
        if any(approx_equal(v, ref.stated) for v in trace_values):
            matched.append(label)
            continue
        clash = _same_operation(ref, learned)
        if clash is not None:
            step_index, eq = clash
            different.append(label)
            errors.append(
                StepError(
                    step_index,
                    "reference_mismatch",
                    f"{eq.text} where the reference has {label}",
                )
            )
        else:
            missing.append(label)
    alignment = ReferenceAlignment(
        tuple(eq.text for eq in ref_eqs), tuple(matched), tuple(missing), tuple(different)
    )
    return alignment, errors


def _same_operation(ref: Equation, learned: StepFacts) -> tuple[int, Equation] | None:
    """A trace equation on the same operands as a reference one but with another result."""
    wanted = sorted(ref.operands)
    for index, eqs in enumerate(learned.equations, start=1):
        for eq in eqs:
            if sorted(eq.operands) == wanted and not approx_equal(eq.stated.value, ref.stated):
                return index, eq
    return None
