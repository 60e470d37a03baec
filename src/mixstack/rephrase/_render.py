"""Render a `PromptSpec` for a model family.

- `anthropic`: XML-tagged sections (`<task>…</task>`), which Claude models are tuned to follow.
- `openai`, `gemini`, `generic`: Markdown headings.
- `small` (≤ 3B parameters, the embedded models): a short explicit form with an example of
  the answer, since tiny models copy a shown form far better than they follow a description.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from mixstack.rephrase._spec import PromptSpec

if TYPE_CHECKING:
    from mixstack.catalog import ModelEntry

__all__ = ["FAMILIES", "Family", "family_of", "render"]

Family = Literal["anthropic", "openai", "gemini", "small", "generic"]
FAMILIES: tuple[Family, ...] = ("anthropic", "openai", "gemini", "small", "generic")
_SMALL_MAX_B = 3.0
_NAME_HINTS: tuple[tuple[str, Family], ...] = (
    ("claude", "anthropic"),
    ("gemini", "gemini"),
    ("gpt", "openai"),
)


def family_of(entry: ModelEntry) -> Family:
    """The config's `family`, else small by size, else the provider's or the model id's."""
    declared = (entry.config.family or "").lower()
    for family in FAMILIES:
        if declared == family:
            return family
    size = entry.config.parameters_b
    if size is not None and size <= _SMALL_MAX_B:
        return "small"
    for family in ("anthropic", "openai", "gemini"):
        if entry.provider == family:
            return family
    model_id = entry.model_id.lower()
    for hint, family in _NAME_HINTS:
        if hint in model_id:
            return family
    return "generic"


def _schema_block(spec: PromptSpec) -> str:
    if spec.schema is None:
        return ""
    return "```json\n" + json.dumps(spec.schema, indent=2, ensure_ascii=False) + "\n```"


def _numbered(items: tuple[str, ...]) -> list[str]:
    # the user's own numbered items keep their numbers
    return [s if s[:1].isdigit() else f"{i}. {s}" for i, s in enumerate(items, 1)]


def _output_lines(spec: PromptSpec) -> list[str]:
    lines = [spec.output_format] if spec.output_format else []
    lines.extend(_numbered(spec.answer_parts))
    schema = _schema_block(spec)
    if schema:
        lines.append(schema)
    return lines


def _markdown(spec: PromptSpec) -> str:
    out = [spec.role, "", "## Task", spec.task]
    if spec.context:
        out += ["", "## Context", *spec.context]
    if spec.constraints:
        out += ["", "## Constraints", *(f"- {c}" for c in spec.constraints)]
    if spec.steps:
        out += ["", "## Steps", *_numbered(spec.steps)]
    out += ["", "## Output format", *_output_lines(spec)]
    out += ["", "## If you are unsure", spec.uncertainty]
    return "\n".join(out)


def _xml(spec: PromptSpec) -> str:
    out = [f"<role>{spec.role}</role>", "<task>", spec.task, "</task>"]
    for i, piece in enumerate(spec.context, 1):
        out += [f'<context index="{i}">', piece, "</context>"]
    if spec.constraints:
        out += ["<constraints>", *(f"- {c}" for c in spec.constraints), "</constraints>"]
    if spec.steps:
        out += ["<steps>", *_numbered(spec.steps), "</steps>"]
    out += ["<output_format>", *_output_lines(spec), "</output_format>"]
    out += ["<uncertainty>", spec.uncertainty, "</uncertainty>"]
    return "\n".join(out)


def _small(spec: PromptSpec) -> str:
    """Short: role, the answer's form, the user's own rules, then the task last."""
    out = [spec.role]
    if spec.example and spec.answer_parts:
        out += ["Answer in this form:", spec.example]
    elif spec.answer_parts:
        out += ["Answer with:", *_numbered(spec.answer_parts)]
    elif spec.output_format:
        out.append(spec.output_format)
        if spec.example:
            out += ["For example:", spec.example]
    schema = _schema_block(spec)
    if schema:
        out += ["The JSON Schema:", schema]
    out += [f"- {c}" for c in spec.constraints if c not in spec.generic]
    if spec.sources.get("steps") == "user" or spec.use_case == "agent":
        out += ["Steps:", *_numbered(spec.steps)]
    out.append(spec.uncertainty_short or spec.uncertainty)
    # a question labelled as one, and an answer cue last: tiny models follow both far better
    label = "Question" if spec.task.rstrip().endswith("?") else "Task"
    out.append(f"{label}: {spec.task}")
    out += list(spec.context)
    if spec.use_case == "json":
        out.append("JSON:")
    return "\n".join(out)


def render(spec: PromptSpec, family: Family) -> str:
    if family == "anthropic":
        return _xml(spec)
    if family == "small":
        return _small(spec)
    return _markdown(spec)
