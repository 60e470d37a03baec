"""Find use-case templates through the `mixstack.rephrase_templates` entry-point group."""

from __future__ import annotations

from functools import cache

from mixstack._plugins import plugins
from mixstack.errors import InvalidRequestError
from mixstack.rephrase.templates import UseCaseTemplate

__all__ = ["ENTRY_POINT_GROUP", "get_template", "use_cases"]

ENTRY_POINT_GROUP = "mixstack.rephrase_templates"


@cache
def _templates() -> dict[str, UseCaseTemplate]:
    # read once per process: scanning installed distributions costs milliseconds
    found: dict[str, UseCaseTemplate] = {}
    for ep in plugins(ENTRY_POINT_GROUP):
        template = ep.load()
        if isinstance(template, type):
            template = template()
        if isinstance(template, UseCaseTemplate):
            found[ep.name] = template
    if not found:
        import mixstack.rephrase.templates as builtin

        for t in (builtin.IMAGE, builtin.CODE, builtin.JSON, builtin.AGENT, builtin.CHAT):
            found[t.name] = t
    return found


def use_cases() -> list[str]:
    return sorted(_templates())


def get_template(name: str) -> UseCaseTemplate:
    template = _templates().get(name)
    if template is None:
        raise InvalidRequestError(
            f"unknown use case {name!r}; use one of: auto, {', '.join(use_cases())}.",
            param="rephrase",
        )
    return template
