"""The structured prompt before rendering: one value per slot, and where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SLOTS", "PromptSpec", "Source"]

#: the slots every rewrite is described by, in rendering order
SLOTS = ("role", "task", "context", "constraints", "steps", "output_format", "uncertainty")

#: `user`: taken verbatim from the prompt; `template`: added by the use case's template;
#: `model`: written by the rewriting model; `""`: empty
Source = Literal["user", "template", "model", ""]


@dataclass(frozen=True, slots=True)
class PromptSpec:
    use_case: str
    role: str
    task: str
    context: tuple[str, ...] = ()
    #: the user's constraints (verbatim) first, then the template's
    constraints: tuple[str, ...] = ()
    #: the template's general-purpose constraints (small models get only the specific ones)
    generic: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    #: one line on the shape of the answer
    output_format: str = ""
    #: what the answer must contain, in order (e.g. UI state, user goal, …)
    answer_parts: tuple[str, ...] = ()
    uncertainty: str = ""
    #: the same in a few words, for small models
    uncertainty_short: str = ""
    #: the form of the answer (labels and placeholders), shown to small models
    example: str = ""
    sources: dict[str, Source] = field(default_factory=dict)
    #: the use case's own slots (language, audience, schema, …): user, template or missing
    fields: dict[str, str] = field(default_factory=dict)
    questions: tuple[str, ...] = ()
    #: a JSON Schema the answer must match (json use case)
    schema: dict[str, Any] | None = None

    def filled(self) -> dict[str, Source]:
        """Each generic slot and where its content came from (`""` when empty)."""
        values: dict[str, object] = {
            "role": self.role,
            "task": self.task,
            "context": self.context,
            "constraints": self.constraints,
            "steps": self.steps,
            "output_format": self.output_format or self.answer_parts,
            "uncertainty": self.uncertainty,
        }
        return {s: (self.sources.get(s, "template") if values[s] else "") for s in SLOTS}
