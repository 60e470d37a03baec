"""The prompt rephraser: rough prompts into structured prompts for a use case and a model.

    prompt ─► use case (given or detected) ─► template slots ─► render for the family ─► checks

`rules` mode is deterministic and offline; `model` mode asks a model and keeps its rewrite
only when the checks pass.
"""

from mixstack.rephrase._api import MODES, arephrase, rephrase, resolve_target
from mixstack.rephrase._render import FAMILIES, family_of
from mixstack.rephrase._result import Check, RephraseResult

__all__ = [
    "FAMILIES",
    "MODES",
    "Check",
    "RephraseResult",
    "arephrase",
    "family_of",
    "rephrase",
    "resolve_target",
]
