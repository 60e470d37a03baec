"""`rephrase()` / `arephrase()`: the Python API and what the CLI and the pipeline use.

A target may be a family name (no catalog needed), a model or `workload/<name>` (looked up
through the router), or None: the model the router would choose for this prompt. Nothing is
sent to a model in `rules` mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mixstack._types import Request
from mixstack.errors import InvalidRequestError
from mixstack.rephrase._render import FAMILIES, family_of
from mixstack.rephrase._result import RephraseResult

if TYPE_CHECKING:
    from mixstack.config import Config
    from mixstack.pipeline import Pipeline
    from mixstack.rephrase._rules import Target

__all__ = ["MODES", "Mode", "arephrase", "rephrase", "resolve_target"]

Mode = Literal["rules", "model"]
MODES: tuple[Mode, ...] = ("rules", "model")


def resolve_target(target: str | None, pipeline: Pipeline, prompt: str = "") -> Target:
    """The family, model and context window a rewrite is for."""
    from mixstack.rephrase._rules import Target, check_family

    if target is not None and target in FAMILIES:
        return Target(check_family(target))
    request = Request.from_prompt(prompt or " ", model=target)
    decision = pipeline.router.decide(request)
    entry = pipeline.catalog.get(decision.model)
    return Target(family_of(entry), entry.name, entry.context_window)


def _schema(schema: dict[str, Any] | str | Path | None) -> dict[str, Any] | None:
    from mixstack.rephrase._schema import check_schema, load_schema

    if schema is None or isinstance(schema, dict):
        return None if schema is None else check_schema(schema)
    return load_schema(schema)


def _mode(mode: str) -> Mode:
    for known in MODES:
        if mode == known:
            return known
    raise InvalidRequestError(f"unknown mode {mode!r}; use rules or model.", param="mode")


def _pipeline(config: Config | str | Path | None) -> Pipeline:
    """The config's shared pipeline (built once per process)."""
    from mixstack._shared import shared_pipeline

    return shared_pipeline(config)


def _rules(
    prompt: str,
    use_case: str | None,
    target: str | None,
    *,
    schema: dict[str, Any] | str | Path | None,
    has_image: bool,
    tools: tuple[str, ...],
    config: Config | str | Path | None,
    pipeline: Pipeline | None,
) -> RephraseResult:
    """The rules mode: no model call, so no event loop either."""
    # the rules compile their patterns on first use, so `import mixstack` stays cheap
    from mixstack.rephrase._rules import Target, check_family, check_prompt, rephrase_rules

    check_prompt(prompt)
    parsed = _schema(schema)
    if target is not None and target in FAMILIES:
        resolved = Target(check_family(target))
    else:
        # only the catalog and the router are used: nothing to send, nothing to close
        resolved = resolve_target(target, pipeline or _pipeline(config), prompt)
    return rephrase_rules(
        prompt, use_case, resolved, schema=parsed, has_image=has_image, tools=tools
    )


async def arephrase(
    prompt: str,
    use_case: str | None = None,
    target: str | None = None,
    mode: str = "rules",
    *,
    schema: dict[str, Any] | str | Path | None = None,
    has_image: bool = False,
    tools: tuple[str, ...] = (),
    rewriter: str | None = None,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
) -> RephraseResult:
    """Rewrite a rough prompt for a use case (`None`/`auto`: detected) and a target model.

    `target`: a family (anthropic, openai, gemini, small, generic), a model name, or None
    for the model the router would choose. `mode="model"` has `rewriter` (default: the
    embedded local model) write the rewrite and falls back to the rules when checks fail.
    """
    if _mode(mode) == "rules":
        return _rules(
            prompt,
            use_case,
            target,
            schema=schema,
            has_image=has_image,
            tools=tools,
            config=config,
            pipeline=pipeline,
        )
    from mixstack.rephrase._model_mode import rephrase_with_model
    from mixstack.rephrase._rules import check_prompt

    check_prompt(prompt)
    parsed = _schema(schema)
    active = pipeline if pipeline is not None else _pipeline(config)
    return await rephrase_with_model(
        active,
        prompt,
        use_case,
        resolve_target(target, active, prompt),
        rewriter=rewriter,
        schema=parsed,
        has_image=has_image,
        tools=tools,
    )


def rephrase(
    prompt: str,
    use_case: str | None = None,
    target: str | None = None,
    mode: str = "rules",
    *,
    schema: dict[str, Any] | str | Path | None = None,
    has_image: bool = False,
    tools: tuple[str, ...] = (),
    rewriter: str | None = None,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
) -> RephraseResult:
    """Sync `arephrase` (same arguments). The rules mode also works inside an event loop."""
    if _mode(mode) == "rules":
        return _rules(
            prompt,
            use_case,
            target,
            schema=schema,
            has_image=has_image,
            tools=tools,
            config=config,
            pipeline=pipeline,
        )
    from mixstack._sync import run_sync

    return run_sync(
        arephrase(
            prompt,
            use_case,
            target,
            mode,
            schema=schema,
            has_image=has_image,
            tools=tools,
            rewriter=rewriter,
            config=config,
            pipeline=pipeline,
        ),
        what="mixstack.rephrase(mode='model')",
        awaitable="mixstack.arephrase()",
    )
