"""Optional model judge: a model reads the numbered steps with a rubric and names the
wrong ones. Its verdict is reported next to the rule-based checks, never merged into them."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from mixstack._types import Request, SamplingParams
from mixstack.audit._audit import JudgeReport
from mixstack.errors import MixstackError

if TYPE_CHECKING:
    from mixstack.pipeline import Pipeline

__all__ = ["JUDGE_RUBRIC", "judge_trace"]

JUDGE_RUBRIC = """You check a worked solution step by step.
A step is WRONG if it: miscalculates; states a fact or number that the question or an
earlier step contradicts; uses a number or fact that comes from nowhere; or does not
follow from the earlier steps. A step is OK otherwise. Judge each step on its own.
Reply with JSON only: {"wrong_steps": [step numbers], "notes": ["step N: why", ...]}"""


def _prompt(question: str, steps: tuple[str, ...], answer: str | None, context: str | None) -> str:
    numbered = "\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, start=1))
    parts = [f"Question: {question}"]
    if context:
        parts.append(f"Context: {context}")
    parts += [f"Solution:\n{numbered}", f"Final answer: {answer or '(none)'}"]
    return "\n\n".join(parts)


def parse_judgement(text: str, n_steps: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Step numbers the judge calls wrong, from its JSON or, failing that, its prose."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("wrong_steps"), list):
            steps = {int(s) for s in obj["wrong_steps"] if str(s).isdigit()}
            notes = tuple(str(n) for n in obj.get("notes", []) if isinstance(n, str | int))
            return tuple(sorted(s for s in steps if 1 <= s <= n_steps)), notes
    steps = {int(m.group(1)) for m in re.finditer(r"step\s*(\d+)\D{0,20}wrong", text, re.I)}
    return tuple(sorted(s for s in steps if 1 <= s <= n_steps)), ()


async def judge_trace(
    pipeline: Pipeline,
    model: str,
    question: str,
    steps: tuple[str, ...],
    answer: str | None,
    *,
    context: str | None = None,
) -> JudgeReport:
    if not steps:
        return JudgeReport(model, (), (), error="no steps to judge")
    request = Request.from_prompt(
        _prompt(question, steps, answer, context),
        model=model,
        system=JUDGE_RUBRIC,
        params=SamplingParams(temperature=0.0, max_tokens=300),
    )
    try:
        completion = await pipeline.complete(request, front_door="audit")
    except MixstackError as exc:
        return JudgeReport(model, (), (), error=exc.message)
    wrong, notes = parse_judgement(completion.text, len(steps))
    return JudgeReport(model, wrong, notes)
