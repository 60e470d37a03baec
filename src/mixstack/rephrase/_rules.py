"""The `rules` mode: deterministic, offline, linear in the prompt's length.

prompt ─► analyze (verbatim pieces) ─► template (use case) ─► render (family) ─► checks
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mixstack.errors import InvalidRequestError
from mixstack.rephrase._analyze import Analysis, analyze
from mixstack.rephrase._checks import Check, contradictions, run_checks
from mixstack.rephrase._detect import detect_use_case
from mixstack.rephrase._facts import extract_facts
from mixstack.rephrase._registry import get_template
from mixstack.rephrase._render import FAMILIES, Family, render
from mixstack.rephrase._result import RephraseResult
from mixstack.rephrase._spec import PromptSpec
from mixstack.rephrase.templates import TemplateInput

__all__ = [
    "RulesRewrite",
    "Target",
    "build_spec",
    "check_family",
    "check_prompt",
    "rephrase_rules",
    "resolve_use_case",
    "result_for",
    "rules_rewrite",
]


@dataclass(frozen=True, slots=True)
class Target:
    """Who the rewrite is for: a family, and the model and its window when known."""

    family: Family = "generic"
    model: str | None = None
    context_window: int | None = None


def check_prompt(prompt: str) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError(
            "the prompt is empty; pass the text to rephrase as an argument or on stdin.",
            param="prompt",
        )
    return prompt


def resolve_use_case(
    use_case: str | None, prompt: str, *, has_image: bool, has_schema: bool = False
) -> tuple[str, bool]:
    """(use case, whether it was detected). Unknown names raise with the list of known ones."""
    if use_case is None or use_case == "auto":
        return detect_use_case(prompt, has_image=has_image, has_schema=has_schema), True
    get_template(use_case)
    return use_case, False


def check_family(family: str) -> Family:
    for known in FAMILIES:
        if family == known:
            return known
    raise InvalidRequestError(
        f"unknown model family {family!r}; use one of {', '.join(FAMILIES)} or a model name.",
        param="target",
    )


def build_spec(
    analysis: Analysis,
    use_case: str,
    *,
    schema: dict[str, Any] | None = None,
    tools: tuple[str, ...] = (),
) -> PromptSpec:
    spec = get_template(use_case).build(TemplateInput(analysis, schema=schema, tools=tools))
    if analysis.format_in_task and not analysis.output_format and spec.schema is None:
        # the task names the format ("in 3 bullet points"): don't contradict it
        spec = replace(
            spec, output_format="Use the format the task asks for.", answer_parts=(), example=""
        )
    conflicts = contradictions([analysis.task, *analysis.constraints, analysis.output_format])
    if conflicts:
        question = f"Your instructions conflict ({'; '.join(conflicts)}): which one holds?"
        spec = replace(spec, questions=(*spec.questions, question))
    return spec


def rephrase_rules(
    prompt: str,
    use_case: str | None = None,
    target: Target | None = None,
    *,
    schema: dict[str, Any] | None = None,
    has_image: bool = False,
    tools: tuple[str, ...] = (),
) -> RephraseResult:
    """Rewrite `prompt` with the use case's template for the target's family."""
    return rules_rewrite(
        prompt, use_case, target, schema=schema, has_image=has_image, tools=tools
    ).result


@dataclass(frozen=True, slots=True)
class RulesRewrite:
    analysis: Analysis
    spec: PromptSpec
    result: RephraseResult


def rules_rewrite(
    prompt: str,
    use_case: str | None = None,
    target: Target | None = None,
    *,
    schema: dict[str, Any] | None = None,
    has_image: bool = False,
    tools: tuple[str, ...] = (),
) -> RulesRewrite:
    """The rules rewrite with its intermediate pieces (the model mode builds on them)."""
    check_prompt(prompt)
    target = target or Target()
    name, detected = resolve_use_case(
        use_case, prompt, has_image=has_image, has_schema=schema is not None
    )
    analysis = analyze(prompt, has_image=has_image)
    spec = build_spec(analysis, name, schema=schema, tools=tools)
    rewrite = render(spec, target.family)
    checks = run_checks(
        spec,
        prompt,
        rewrite,
        target.family,
        context_window=target.context_window,
        facts=extract_facts("\n\n".join(analysis.instructions)),
    )
    result = result_for(spec, prompt, rewrite, target, checks, detected=detected, mode="rules")
    return RulesRewrite(analysis, spec, result)


def result_for(
    spec: PromptSpec,
    prompt: str,
    rewrite: str,
    target: Target,
    checks: list[Check],
    *,
    detected: bool,
    mode: str,
    notes: tuple[str, ...] = (),
    rewriter: str | None = None,
    rejected: tuple[Check, ...] = (),
) -> RephraseResult:
    return RephraseResult(
        prompt=rewrite,
        original=prompt,
        use_case=spec.use_case,
        target_family=target.family,
        target_model=target.model,
        mode=mode,
        slots=dict(spec.filled()),
        fields=dict(spec.fields),
        questions=spec.questions,
        checks=tuple(checks),
        detected=detected,
        notes=notes,
        rewriter=rewriter,
        rejected_checks=rejected,
    )
