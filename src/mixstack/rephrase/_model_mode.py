"""The `model` mode: a model rewrites the slots, the checks decide whether to trust it.

The model sees only the user's instructions (never the pasted material, which is attached
verbatim afterwards) and answers with labelled lines (Role:, Task:, …). Those fill the
use case's template; the result is rendered for the target family like a rules rewrite.
If the model dropped a fact, invented a requirement or broke the template, the rules
rewrite is returned instead and a note says why.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mixstack.rephrase._analyze import Analysis
from mixstack.rephrase._checks import Check, run_checks
from mixstack.rephrase._facts import extract_facts
from mixstack.rephrase._render import render
from mixstack.rephrase._result import RephraseResult
from mixstack.rephrase._rules import Target, result_for, rules_rewrite
from mixstack.rephrase._spec import PromptSpec, Source
from mixstack.types import Request, SamplingParams

if TYPE_CHECKING:
    from mixstack.pipeline import Pipeline

__all__ = [
    "check_invented",
    "check_template",
    "default_rewriter",
    "meta_prompt",
    "parse_sections",
    "rephrase_with_model",
    "reply_budget",
]

_DEFAULT_REWRITER = "local/smollm2-135m-instruct"
_LABELS = {
    "role": "role",
    "task": "task",
    "constraints": "constraints",
    "constraint": "constraints",
    "rules": "constraints",
    "steps": "steps",
    "output format": "output_format",
    "answer format": "output_format",
    "format": "output_format",
    "if unsure": "uncertainty",
    "when unsure": "uncertainty",
    "uncertainty": "uncertainty",
}
_LABEL = re.compile(
    r"^[ \t#>*_-]{0,8}(role|task|constraints?|rules|steps|output format|answer format|format|"
    r"if unsure|when unsure|uncertainty)[ \t*_]{0,4}:[ \t*_]{0,4}(.*)$",
    re.I,
)
_REQUIRED = ("role", "task", "output_format", "uncertainty")
_NONE = re.compile(r"^\W*(none|n/a|no constraints?|-)\W*$", re.I)
_WORD = re.compile(r"[a-z]{4,}")
_COMMON_WORDS = (
    "that this with from have your what when will should must about answer into them then than "
    "each only user prompt task more make sure keep clear give using used write"
)
_COMMON = frozenset(_COMMON_WORDS.split())
#: the rewrite is rejected when one of these fails
CRITICAL = ("facts", "invented", "template")
#: reply tokens for the five labelled lines besides the task's own words; a model that
#: ignores the template (SmolLM2-135M writes on about the prompt) stops there, in seconds
_REPLY_TOKENS = 96


def default_rewriter(pipeline: Pipeline) -> str:
    if _DEFAULT_REWRITER in pipeline.catalog:
        return _DEFAULT_REWRITER
    return pipeline.config.default_model


def meta_prompt(analysis: Analysis, use_case: str) -> str:
    return (
        f"Rewrite the rough prompt below into a clear prompt for an AI assistant "
        f"({use_case} task). Keep every name, number, quoted text and code exactly as "
        "written. Do not add requirements the user did not ask for.\n"
        "Reply with exactly these five labelled lines:\n"
        "Role: <who the assistant should be>\n"
        "Task: <the full task>\n"
        "Constraints: <the user's limits, or none>\n"
        "Output format: <what the answer should look like>\n"
        "If unsure: <what to do when unsure>\n\n"
        f"Rough prompt: {analysis.instruction_text.strip()}"
    )


def reply_budget(instruction: str) -> int:
    """Tokens the rewriter may write: the labelled lines plus the task restated (about a
    token per two characters of the user's instructions, generously), at most 1024."""
    return min(1024, _REPLY_TOKENS + len(instruction) // 2)


def parse_sections(text: str) -> dict[str, str]:
    """Labelled sections of the model's reply; unlabelled lines continue the last section."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match:
            current = _LABELS[match.group(1).lower()]
            sections.setdefault(current, [])
            rest = match.group(2).strip().strip("*_ ")
            if rest:
                sections[current].append(rest)
        elif current is not None and line.strip():
            sections[current].append(line.strip())
    return {k: "\n".join(v).strip() for k, v in sections.items()}


def _constraint_lines(text: str) -> tuple[str, ...]:
    lines = [ln.strip().lstrip("-*• ").strip() for ln in text.splitlines()]
    return tuple(ln for ln in lines if ln and not _NONE.match(ln))


def spec_from_sections(sections: dict[str, str], rules: PromptSpec) -> PromptSpec:
    """The template's structure (answer parts, example, schema) with the model's wording."""
    sources: dict[str, Source] = dict(rules.sources)
    for slot in ("role", "task", "constraints", "output_format", "uncertainty"):
        if sections.get(slot):
            sources[slot] = "model"
    constraints = _constraint_lines(sections.get("constraints", ""))
    return replace(
        rules,
        role=sections.get("role", ""),
        task=sections.get("task", ""),
        constraints=constraints,
        output_format=sections.get("output_format", ""),
        uncertainty=sections.get("uncertainty", ""),
        steps=_constraint_lines(sections["steps"]) if sections.get("steps") else rules.steps,
        sources=sources,
    )


def check_template(sections: dict[str, str]) -> Check:
    empty = [s for s in _REQUIRED if not sections.get(s)]
    if empty:
        return Check("template", False, f"reply lacks sections: {', '.join(empty)}")
    return Check("template", True, "all labelled sections present")


def check_invented(sections: dict[str, str], original: str, reference: str) -> Check:
    """New facts, or constraints made of words neither the user nor the template used."""
    written = "\n".join(v for k, v in sections.items() if k != "context")
    known = original + "\n" + reference
    new_facts = sorted(
        {f.text for f in extract_facts(written) if f.kind != "name" and f.text not in known}
    )
    vocabulary = set(_WORD.findall(known.lower()))
    invented: list[str] = []
    for line in _constraint_lines(sections.get("constraints", "")):
        words = [w for w in _WORD.findall(line.lower()) if w not in _COMMON]
        novel = [w for w in words if w not in vocabulary]
        if words and len(novel) * 2 > len(words):
            invented.append(line)
    problems = [f"new facts {', '.join(repr(f) for f in new_facts[:5])}"] if new_facts else []
    if invented:
        problems.append(f"new requirements {', '.join(repr(c[:60]) for c in invented[:3])}")
    if problems:
        return Check("invented", False, "; ".join(problems))
    return Check("invented", True, "no requirement or fact the user did not give")


async def rephrase_with_model(
    pipeline: Pipeline,
    prompt: str,
    use_case: str | None,
    target: Target,
    *,
    rewriter: str | None = None,
    schema: dict[str, Any] | None = None,
    has_image: bool = False,
    tools: tuple[str, ...] = (),
) -> RephraseResult:
    rules = rules_rewrite(prompt, use_case, target, schema=schema, has_image=has_image, tools=tools)
    model = rewriter or default_rewriter(pipeline)
    request = Request.from_prompt(
        meta_prompt(rules.analysis, rules.spec.use_case),
        model=model,
        rephrase="off",
        params=SamplingParams(
            max_tokens=reply_budget(rules.analysis.instruction_text), temperature=0.0, seed=0
        ),
    )
    completion = await pipeline.complete(request, front_door="rephrase")
    sections = parse_sections(completion.text)
    spec = spec_from_sections(sections, rules.spec)
    rewrite = render(spec, target.family)
    checks = [
        *run_checks(spec, prompt, rewrite, target.family, context_window=target.context_window),
        check_invented(sections, prompt, rules.result.prompt),
        check_template(sections),
    ]
    failed = [c for c in checks if c.name in CRITICAL and not c.passed]
    if failed:
        why = "; ".join(f"{c.name}: {c.detail}" for c in failed)
        note = f"the rewrite by {model} was rejected ({why}); using the rules rewrite instead."
        return replace(rules.result, notes=(note,), rewriter=model, rejected_checks=tuple(checks))
    return result_for(
        spec,
        prompt,
        rewrite,
        target,
        checks,
        detected=rules.result.detected,
        mode="model",
        rewriter=model,
    )
