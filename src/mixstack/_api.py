"""The Python API: `arun`/`astream` (async core) and `run`/`stream` (thin sync wrappers).

Every function takes the same typed options (`CallOptions`): sampling parameters such as
`max_tokens=40` go into the request's `SamplingParams`, the rest into the `Request`. Without
`pipeline=`, the config's shared pipeline answers (built once per process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from pydantic import ValidationError

from mixstack._resilience import CallPolicy
from mixstack._shared import shared_pipeline
from mixstack._sync import iterate_sync, run_sync
from mixstack._types import (
    Chunk,
    Completion,
    ImagePart,
    Request,
    ResponseFormat,
    SamplingParams,
    Tool,
)
from mixstack.config import Config
from mixstack.errors import InvalidRequestError
from mixstack.pipeline import Pipeline

__all__ = ["CallOptions", "arun", "astream", "build_request", "call_policy", "run", "stream"]


class CallOptions(TypedDict, total=False):
    """What a call may set besides the prompt; each maps onto a `Request` field."""

    #: `provider/model` or `workload/<name>`; None: the router chooses
    model: str | None
    #: a system message put before the prompt
    system: str
    #: image files or parts sent with the prompt
    images: Sequence[str | Path | ImagePart]
    #: the workload whose policy applies
    workload: str
    tools: Sequence[Tool]
    tool_choice: str | dict[str, Any]
    response_format: ResponseFormat
    #: `auto` or a use case: rewrite the prompt for the routed model
    rephrase: str
    #: key id or user, for accounting
    caller: str
    metadata: Mapping[str, str]
    #: all sampling parameters at once; the single ones below override its fields
    params: SamplingParams
    temperature: float
    top_p: float
    max_tokens: int
    stop: str | Sequence[str]
    seed: int
    n: int
    presence_penalty: float
    frequency_penalty: float
    logit_bias: Mapping[str, float]
    logprobs: bool
    top_logprobs: int
    #: retries per model, instead of each model's `retries:` (0 to 10)
    retries: int
    #: False: only the routed model answers, never a fallback
    fallbacks: bool


_SAMPLING = frozenset(SamplingParams.model_fields)
_PROMPT_ONLY = frozenset({"system", "images"})
_POLICY = frozenset({"retries", "fallbacks"})
KNOWN_OPTIONS = frozenset(CallOptions.__annotations__)
#: options that are `Request` fields as they are
_REQUEST = KNOWN_OPTIONS - _SAMPLING - _PROMPT_ONLY - _POLICY - {"params"}


def _unknown(names: set[str]) -> InvalidRequestError:
    listed = ", ".join(sorted(names))
    return InvalidRequestError(
        f"unknown option(s) {listed}; use one of: {', '.join(sorted(KNOWN_OPTIONS))} "
        "(or pass a full `mixstack.Request`).",
        param=sorted(names)[0],
    )


def _invalid(exc: ValidationError) -> InvalidRequestError:
    """A pydantic error as the caller's error: which option, what is wrong."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    return InvalidRequestError(
        f"{where}: {first['msg'].lower()} (got {first.get('input')!r}); fix that option.",
        param=where,
    )


def _params(base: SamplingParams, options: Mapping[str, Any]) -> SamplingParams:
    changed = {k: v for k, v in options.items() if k in _SAMPLING}
    if not changed:
        return base
    if isinstance(changed.get("stop"), str):
        changed["stop"] = (changed["stop"],)
    return SamplingParams.model_validate({**base.model_dump(exclude_unset=True), **changed})


def _fields(options: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in options.items() if k in _REQUEST}
    if "tools" in fields:
        fields["tools"] = tuple(fields["tools"])
    if "metadata" in fields:
        fields["metadata"] = dict(fields["metadata"])
    return fields


def build_request(prompt: str | Request, options: Mapping[str, Any]) -> Request:
    """The `Request` for a prompt (or a given `Request`) and call options.

    Options given with a `Request` override its fields. Unknown options and invalid values
    are `InvalidRequestError`s naming the option."""
    unknown = set(options) - KNOWN_OPTIONS
    if unknown:
        raise _unknown(unknown)
    try:
        if isinstance(prompt, Request):
            if _PROMPT_ONLY & set(options):
                raise InvalidRequestError(
                    "system= and images= apply to a prompt string; put them in the "
                    "Request's messages instead.",
                    param="system" if "system" in options else "images",
                )
            base = prompt
        else:
            if not isinstance(prompt, str):
                raise InvalidRequestError(
                    f"the prompt must be a string or a mixstack.Request, not "
                    f"{type(prompt).__name__}.",
                    param="prompt",
                )
            images = tuple(
                i if isinstance(i, ImagePart) else ImagePart.from_path(i)
                for i in options.get("images", ())
            )
            base = Request.from_prompt(prompt, system=options.get("system"), images=images)
        params = _params(base.params, options)
        return Request.model_validate({**dict(base), **_fields(options), "params": params})
    except ValidationError as exc:
        raise _invalid(exc) from None


def call_policy(options: Mapping[str, Any]) -> CallPolicy:
    """The call stage's per-call overrides among the options (`retries`, `fallbacks`)."""
    return CallPolicy(retries=options.get("retries"), fallbacks=options.get("fallbacks", True))


def _pipeline(config: Config | str | Path | None, pipeline: Pipeline | None) -> Pipeline:
    return pipeline if pipeline is not None else shared_pipeline(config)


async def _chunks(pipeline: Pipeline, request: Request, policy: CallPolicy) -> AsyncIterator[Chunk]:
    async for chunk in await pipeline.open_stream(request, policy=policy):
        yield chunk


async def arun(
    prompt: str | Request,
    *,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    **options: Unpack[CallOptions],
) -> Completion:
    """Send one prompt (or a full `Request`) through the pipeline and return the answer.

    `config`: a `Config`, a YAML file, or None (`$MIXSTACK_CONFIG`, else the embedded
    default); its pipeline is built once per process. `pipeline` uses that one instead.
    Options: see `CallOptions` (e.g. `model=`, `system=`, `max_tokens=`, `temperature=`)."""
    request = build_request(prompt, options)
    return await _pipeline(config, pipeline).complete(request, policy=call_policy(options))


async def astream(
    prompt: str | Request,
    *,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    **options: Unpack[CallOptions],
) -> AsyncIterator[Chunk]:
    """Stream the answer chunk by chunk; the last chunk carries the usage. Arguments as `arun`."""
    request = build_request(prompt, options)
    async for chunk in _chunks(_pipeline(config, pipeline), request, call_policy(options)):
        yield chunk


def run(
    prompt: str | Request,
    *,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    **options: Unpack[CallOptions],
) -> Completion:
    """Sync `arun` (same arguments); not inside a running event loop (await `arun` there)."""
    request = build_request(prompt, options)
    policy = call_policy(options)
    return run_sync(_pipeline(config, pipeline).complete(request, policy=policy))


def stream(
    prompt: str | Request,
    *,
    config: Config | str | Path | None = None,
    pipeline: Pipeline | None = None,
    **options: Unpack[CallOptions],
) -> Iterator[Chunk]:
    """Sync `astream` (same arguments): yields chunks as they arrive."""
    request = build_request(prompt, options)
    return iterate_sync(_chunks(_pipeline(config, pipeline), request, call_policy(options)))
