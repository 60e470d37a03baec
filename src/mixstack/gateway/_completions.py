"""The legacy OpenAI Completions wire format (`POST /v1/completions`): a raw prompt in, text out.

The natural endpoint of base models such as Gemma 3 270M: the prompt reaches the model as
written (no chat template); OpenAI-compatible endpoints receive it on their own
`/completions`. One prompt per request (a list of several is refused, not half-answered).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from mixstack.errors import InvalidRequestError, MixstackError
from mixstack.gateway._errors import error_response, exception_payload
from mixstack.gateway._formats import Parsed, parse_json_body
from mixstack.gateway._wire import extra_fields
from mixstack.types import Chunk, Completion, Message, Request, SamplingParams

__all__ = ["CompletionsRequest", "CompletionsWire"]

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: OpenAI's documented default for this endpoint
DEFAULT_MAX_TOKENS = 16


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    include_usage: bool = False


class CompletionsRequest(BaseModel):
    """`POST /v1/completions`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str
    prompt: str | list[str]
    max_tokens: int | None = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int | None = Field(default=None, ge=1, le=16)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    best_of: int | None = Field(default=None, ge=1)
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    user: str | None = None


def _prompt(prompt: str | list[str]) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1:
        return prompt[0]
    raise InvalidRequestError(
        "`prompt` holds several prompts; this gateway answers one per request: send them as "
        "separate requests.",
        param="prompt",
    )


def _legacy_logprobs(completion: Completion, offset: int) -> dict[str, Any] | None:
    """Chat-shaped logprob entries back in the legacy shape."""
    if completion.logprobs is None:
        return None
    entries = completion.logprobs.get("content") or []
    tokens, values, tops, offsets = [], [], [], []
    at = offset
    for e in entries:
        tokens.append(e["token"])
        values.append(e["logprob"])
        tops.append({t["token"]: t["logprob"] for t in e.get("top_logprobs") or ()})
        offsets.append(at)
        at += len(e["token"])
    return {
        "tokens": tokens,
        "token_logprobs": values,
        "top_logprobs": tops,
        "text_offset": offsets,
    }


class CompletionsWire:
    """`POST /v1/completions`."""

    path = "/v1/completions"

    def parse(self, body: bytes, headers: Mapping[str, str], caller: str | None) -> Parsed:
        req = parse_json_body(CompletionsRequest, body, "`model` and `prompt`")
        prompt = _prompt(req.prompt)
        if req.best_of not in (None, 1, req.n):
            raise InvalidRequestError(
                "`best_of` other than `n` is not supported; drop it.", param="best_of"
            )
        if req.stream and (req.n or 1) > 1:
            raise InvalidRequestError(
                "`n` > 1 cannot be streamed by this gateway; send `stream: false` or `n: 1`.",
                param="n",
            )
        extra = extra_fields(req)
        stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
        request = Request(
            messages=(Message.user(prompt),),
            model=req.model,
            workload=headers.get("x-mixstack-workload") or None,
            caller=caller,
            raw_prompt=True,
            params=SamplingParams(
                temperature=req.temperature,
                top_p=req.top_p,
                max_tokens=req.max_tokens,
                stop=stop,
                seed=req.seed,
                n=req.n or 1,
                presence_penalty=req.presence_penalty,
                frequency_penalty=req.frequency_penalty,
                logit_bias=req.logit_bias,
                logprobs=req.logprobs is not None,
                top_logprobs=req.logprobs,
            ),
            metadata={"user": req.user} if req.user else {},
            extra=extra,
        )
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        context = {"echo": prompt if req.echo else ""}
        return Parsed(request, req.stream, include_usage, context)

    def render(self, completion: Completion, parsed: Parsed) -> dict[str, Any]:
        assert parsed.context is not None
        echo = parsed.context["echo"]
        u = completion.usage
        choices = [
            {
                "text": echo + c.text,
                "index": i,
                "logprobs": _legacy_logprobs(c, len(echo)),
                "finish_reason": "stop" if c.finish_reason == "error" else c.finish_reason,
            }
            for i, c in enumerate((completion, *completion.alternatives))
        ]
        return {
            "id": "cmpl-" + completion.request_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": completion.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "total_tokens": u.total_tokens,
            },
        }

    def writer(self, request_id: str, model: str, parsed: Parsed) -> CompletionsStream:
        assert parsed.context is not None
        return CompletionsStream(request_id, model, parsed.include_usage, parsed.context["echo"])

    def error_response(self, exc: MixstackError) -> Response:
        return error_response(exc)


class CompletionsStream:
    def __init__(self, request_id: str, model: str, include_usage: bool, echo: str):
        self._envelope = {
            "id": "cmpl-" + request_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
        }
        self._include_usage = include_usage
        self._echo = echo

    def _data(self, **fields: Any) -> bytes:
        return b"data: " + _DUMPS({**self._envelope, **fields}).encode() + b"\n\n"

    def head(self) -> bytes:
        if not self._echo:
            return b""
        choice = {"text": self._echo, "index": 0, "logprobs": None, "finish_reason": None}
        return self._data(choices=[choice])

    def chunk(self, chunk: Chunk) -> bytes:
        if not chunk.text and chunk.finish_reason is None:
            return b""
        finish = chunk.finish_reason
        choice = {
            "text": chunk.text,
            "index": 0,
            "logprobs": None,
            "finish_reason": None if finish is None else ("stop" if finish == "error" else finish),
        }
        return self._data(choices=[choice])

    def end(self, completion: Completion | None) -> bytes:
        out = b""
        if self._include_usage and completion is not None:
            u = completion.usage
            usage = {
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "total_tokens": u.total_tokens,
            }
            out += self._data(choices=[], usage=usage)
        return out + b"data: [DONE]\n\n"

    def error(self, exc: MixstackError) -> bytes:
        return b"data: " + _DUMPS(exception_payload(exc)).encode() + b"\n\n"
