"""The pipeline's rephrase stage: after routing, so the rewrite fits the routed model.

It runs when the request sets `rephrase` (`auto` or a use case; `off` opts out) or when the
workload's config sets `rephrase:`. Only the last user message is rewritten; its images stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixstack._types import ContentPart, Request, TextPart
from mixstack.errors import ConfigError
from mixstack.rephrase._render import family_of
from mixstack.rephrase._result import RephraseResult
from mixstack.rephrase._rules import Target, rephrase_rules

if TYPE_CHECKING:
    from mixstack.catalog import ModelEntry
    from mixstack.config import Config
    from mixstack.router import RouteDecision

__all__ = ["OFF", "apply_rephrase", "rephrase_setting"]

#: values of `Request.rephrase` that turn the stage off even when the workload asks for it
OFF = frozenset({"off", "none", "no", "false"})


def rephrase_setting(config: Config, request: Request, workload: str) -> str | None:
    """`auto`, a use case, or None (off): the request's setting, else the workload's."""
    if request.rephrase is not None:
        value = request.rephrase.strip().lower()
        return None if not value or value in OFF else value
    workloads: Any = getattr(config, "workloads", None)
    policy = workloads.get(workload) if isinstance(workloads, dict) else None
    configured = getattr(policy, "rephrase", None)
    if isinstance(configured, str) and configured and configured.lower() not in OFF:
        return configured
    return None


def _check_workload_setting(use_case: str, workload: str) -> None:
    """A bad `rephrase:` in the config is the operator's error, not the caller's."""
    from mixstack.rephrase._registry import use_cases

    known = use_cases()
    if use_case not in known:
        raise ConfigError(
            f"workloads.{workload}.rephrase: unknown use case {use_case!r}; "
            f"use auto or one of {', '.join(known)} in the config."
        )


def apply_rephrase(
    config: Config, request: Request, route: RouteDecision, entry: ModelEntry
) -> tuple[Request, RephraseResult | None]:
    """The request with its last user message rewritten, and the rewrite (None if off)."""
    setting = rephrase_setting(config, request, route.workload)
    if setting is None:
        return request, None
    index = next(
        (i for i in range(len(request.messages) - 1, -1, -1) if request.messages[i].role == "user"),
        None,
    )
    if index is None or not request.messages[index].text.strip():
        return request, None
    message = request.messages[index]
    fmt = request.response_format
    use_case = None if setting == "auto" else setting
    if use_case is not None and request.rephrase is None:
        _check_workload_setting(use_case, route.workload)
    result = rephrase_rules(
        message.text,
        use_case,
        Target(family_of(entry), entry.name, entry.context_window),
        schema=fmt.json_schema if fmt.type == "json_schema" else None,
        has_image=any(m.images for m in request.messages),
        tools=tuple(t.name for t in request.tools),
    )
    content: tuple[ContentPart, ...] = (TextPart(text=result.prompt), *message.images)
    messages = list(request.messages)
    messages[index] = message.model_copy(update={"content": content})
    return request.with_changes(messages=tuple(messages)), result
