"""The result of a rewrite: the new prompt and everything `--json` shows about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "RephraseResult"]


@dataclass(frozen=True, slots=True)
class Check:
    """One quality check of a rewrite: its name, whether it passed, and one line on why."""

    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class RephraseResult:
    """A rewritten prompt with its use case, target, filled slots, open questions and checks."""

    #: the rewritten prompt
    prompt: str
    original: str
    use_case: str
    #: anthropic, openai, gemini, small or generic
    target_family: str
    #: the model the rewrite is for, when one was named or routed to
    target_model: str | None
    #: the mode that produced `prompt` (`rules` also when `model` fell back)
    mode: str
    #: role, task, context, constraints, steps, output_format, uncertainty → user, template,
    #: model or "" (empty)
    slots: dict[str, str]
    #: the use case's own slots (language, audience, schema, …) → user, template or missing
    fields: dict[str, str]
    #: what the user should still say for a better answer
    questions: tuple[str, ...]
    checks: tuple[Check, ...]
    detected: bool = False
    notes: tuple[str, ...] = ()
    #: the model that wrote the rewrite in `model` mode
    rewriter: str | None = None
    #: the checks of a model rewrite that was rejected
    rejected_checks: tuple[Check, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "detected": self.detected,
            "target_family": self.target_family,
            "target_model": self.target_model,
            "mode": self.mode,
            "rewriter": self.rewriter,
            "prompt": self.prompt,
            "original": self.original,
            "slots": dict(self.slots),
            "fields": dict(self.fields),
            "questions": list(self.questions),
            "checks": [c.to_json() for c in self.checks],
            "rejected_checks": [c.to_json() for c in self.rejected_checks],
            "notes": list(self.notes),
        }
