"""One OpenAI-compatible wire module for OpenAI, vLLM, Ollama, llama.cpp server, TGI, OpenRouter…

Each endpoint is config (`base_url`, `api_key_env`, `upstream_model`, `options.headers`), not
code. This is the gateway's hot path: one keep-alive `aiohttp` session per endpoint (its C
parser costs a quarter of the CPU of a pure-Python client per call), bodies built as plain
dicts, streamed chunks built with `model_construct` (no re-validation).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from mixstack._jsonbytes import dumps
from mixstack._types import (
    Chunk,
    FinishReason,
    Message,
    Request,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from mixstack.config import Config, ModelEntry
from mixstack.config.models import EndpointModelConfig, OpenAIModelConfig, OpenAIQuirks
from mixstack.errors import ProviderError, UpstreamTimeout
from mixstack.providers._http_errors import parse_retry_after, status_error
from mixstack.providers._vendor import missing_key
from mixstack.providers.base import Availability, EmbeddingReply, Provider, ProviderReply

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = [
    "DEFAULT_BASE_URL",
    "OpenAICompatProvider",
    "create_provider",
    "message_to_openai",
    "request_body",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: seconds an idle upstream connection is kept (below the 5 s most endpoint servers keep it)
_IDLE_KEEPALIVE_S = 4.0
_DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",
}


_NO_QUIRKS = OpenAIQuirks()


def _settings(model: ModelEntry) -> EndpointModelConfig:
    """The entry's endpoint settings (an `openai` entry, or a plugin's that reuses this
    provider's wire format)."""
    return model.settings(EndpointModelConfig)


def _quirks(model: ModelEntry) -> OpenAIQuirks:
    cfg = model.config
    return cfg.quirks if isinstance(cfg, OpenAIModelConfig) else _NO_QUIRKS


def _base_url(model: ModelEntry) -> str:
    return (_settings(model).base_url or DEFAULT_BASE_URL).rstrip("/")


def _key_env(model: ModelEntry) -> str | None:
    cfg = _settings(model)
    if cfg.api_key_env:
        return cfg.api_key_env
    return _DEFAULT_KEY_ENV if cfg.base_url is None else None


# -- request translation ---------------------------------------------------------------------


def message_to_openai(message: Message) -> dict[str, Any]:
    """A mixstack message as an OpenAI chat message (text-only content stays a plain string)."""
    out: dict[str, Any] = {"role": message.role}
    if message.images:
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            else:
                image: dict[str, Any] = {"url": part.data_url()}
                if part.detail is not None:
                    image["detail"] = part.detail
                parts.append({"type": "image_url", "image_url": image})
        out["content"] = parts
    else:
        out["content"] = message.text
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
        if not message.content:  # no content at all; an empty string stays one
            out["content"] = None
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def request_body(model: ModelEntry, request: Request, *, stream: bool) -> dict[str, Any]:
    """The JSON body of `POST /chat/completions` (`/completions` for a raw prompt)."""
    body: dict[str, Any] = {"model": model.model_id}
    if request.raw_prompt:
        body["prompt"] = request.messages[-1].text
    else:
        body["messages"] = [message_to_openai(m) for m in request.messages]
    params = request.params
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.max_tokens is not None:
        body[_quirks(model).max_tokens_field] = params.max_tokens
    if params.stop:
        body["stop"] = list(params.stop)
    _sampling(body, request)
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
    fmt = request.response_format
    if fmt.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif fmt.type == "json_schema":
        schema: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.json_schema or {}}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    user = request.metadata.get("user")
    if user:
        body["user"] = user
    # every other field the client sent goes on as it is (`top_k`, `reasoning_effort`, …):
    # the endpoint, not mixstack, knows what it accepts
    for key, value in request.extra.items():
        body.setdefault(key, value)
    if stream:
        body["stream"] = True
        # always ask for usage: logs, costs, budgets and rate limits need it
        body["stream_options"] = {**body.get("stream_options", {}), "include_usage": True}
    return body


def _sampling(body: dict[str, Any], request: Request) -> None:
    params = request.params
    if params.seed is not None:
        body["seed"] = params.seed
    if params.n > 1:
        body["n"] = params.n
    if params.presence_penalty is not None:
        body["presence_penalty"] = params.presence_penalty
    if params.frequency_penalty is not None:
        body["frequency_penalty"] = params.frequency_penalty
    if params.logit_bias:
        body["logit_bias"] = params.logit_bias
    if request.raw_prompt:  # the legacy API: one number, the top alternatives to return
        if params.logprobs:
            body["logprobs"] = params.top_logprobs or 0
        return
    if params.logprobs:
        body["logprobs"] = True
    if params.top_logprobs is not None:
        body["top_logprobs"] = params.top_logprobs


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
    }
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


# -- errors ---------------------------------------------------------------------------------


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw[:300].decode("utf-8", "replace").strip() or "no message"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err)[:500]
        return str(err)[:500]
    return str(data)[:500]


def _status_error(
    model: ModelEntry, status: int, headers: Mapping[str, str], raw: bytes
) -> Exception:
    env = _key_env(model)
    return status_error(
        model.name,
        f"{model.name} ({_base_url(model)})",
        status,
        _error_message(raw),
        credentials_fix=f"check ${env}" if env else "set `api_key_env:` for this model",
        retry_after_s=parse_retry_after(headers),
    )


def _transport_error(model: ModelEntry, exc: Exception) -> ProviderError:
    timed_out = isinstance(exc, TimeoutError)
    kind = "timed out" if timed_out else "failed"
    error = (UpstreamTimeout if timed_out else ProviderError)(
        f"{model.name}: the connection to {_base_url(model)} {kind} "
        f"({type(exc).__name__}: {exc}); check that the endpoint is up or add a fallback.",
        model=model.name,
        retryable=True,
    )
    error.public_message = (
        f"{model.name}: the connection to its endpoint {kind}; retry later or add a fallback."
    )
    return error


# -- response translation -------------------------------------------------------------------


def _usage(data: Any) -> tuple[int, int] | None:
    if not isinstance(data, dict):
        return None
    return int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0)


def legacy_logprobs(data: Any) -> dict[str, Any] | None:
    """`/completions` logprobs (`tokens`, `token_logprobs`, `top_logprobs`) in the chat shape."""
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
        return None
    tops = data.get("top_logprobs") or [None] * len(data["tokens"])
    content = []
    for token, logprob, top in zip(data["tokens"], data.get("token_logprobs") or [], tops,
                                   strict=False):  # fmt: skip
        content.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(str(token).encode()),
                "top_logprobs": [
                    {"token": k, "logprob": v, "bytes": list(str(k).encode())}
                    for k, v in (top or {}).items()
                ],
            }
        )
    return {"content": content}


def _choice_logprobs(choice: dict[str, Any]) -> dict[str, Any] | None:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    return logprobs if "content" in logprobs else legacy_logprobs(logprobs)


def _choice_reply(choice: dict[str, Any]) -> ProviderReply:
    if "message" not in choice and "text" in choice:  # `/completions`
        return ProviderReply(
            text=str(choice.get("text") or ""),
            prompt_tokens=0,
            completion_tokens=0,
            finish_reason=_FINISH.get(choice.get("finish_reason") or "stop", "stop"),
            logprobs=_choice_logprobs(choice),
        )
    message = choice.get("message") or {}
    calls = tuple(
        ToolCall(
            id=str(call.get("id") or f"call_{i}"),
            name=str(call["function"]["name"]),
            arguments=call["function"].get("arguments") or "{}",
        )
        for i, call in enumerate(message.get("tool_calls") or ())
    )
    return ProviderReply(
        text=message.get("content") or "",
        prompt_tokens=0,
        completion_tokens=0,
        finish_reason=_FINISH.get(choice.get("finish_reason") or "stop", "stop"),
        tool_calls=calls,
        reasoning=message.get("reasoning_content") or message.get("reasoning") or None,
        logprobs=_choice_logprobs(choice),
    )


def _reply(model: ModelEntry, data: Any) -> ProviderReply:
    try:
        choices = sorted(data["choices"], key=lambda c: int(c.get("index") or 0))
        replies = [_choice_reply(c) for c in choices]
        first = replies[0]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ProviderError(
            f"{model.name}: the endpoint's answer has no choices; check `base_url` points at "
            "an OpenAI-compatible /v1.",
            model=model.name,
        ) from exc
    counted = _usage(data.get("usage"))
    prompt_tokens, completion_tokens = counted or (0, 0)
    return dataclasses.replace(
        first,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        upstream_model=data.get("model"),
        usage_reported=counted is not None,
        alternatives=tuple(replies[1:]),
    )


class OpenAICompatProvider(Provider):
    name = "openai"
    accepts = frozenset({"*"})
    default_locality = "remote"
    default_capabilities = ("chat", "tools", "json", "vision")

    def __init__(self, config: Config | None = None, *, max_connections: int = 256) -> None:
        self._max_connections = max_connections
        self._sessions: dict[tuple[str, int], aiohttp.ClientSession] = {}
        self._timeouts: dict[str, tuple[aiohttp.ClientTimeout, aiohttp.ClientTimeout]] = {}
        self._urls: dict[str, yarl.URL] = {}

    def availability(self, model: ModelEntry) -> Availability:
        env = _key_env(model)
        if env and not os.environ.get(env):
            return Availability(False, f"${env} is not set")
        return Availability(True, _base_url(model))

    def endpoint(self, model: ModelEntry) -> str:
        return _base_url(model)

    def _session(self, model: ModelEntry) -> aiohttp.ClientSession:
        """One keep-alive session per endpoint and event loop (sessions belong to a loop)."""
        import aiohttp  # here, not at import: a config without HTTP models never loads it

        slot = (_base_url(model), id(asyncio.get_running_loop()))
        session = self._sessions.get(slot)
        if session is None or session.closed:
            # an idle connection is closed here before the endpoint closes it: servers most
            # endpoints run on (uvicorn, as vLLM and llama.cpp's Python server do; Node;
            # Apache) drop idle keep-alive connections after 5 s, and a request written as
            # they do is reset mid-send ("Connection reset by peer"), a failure the caller
            # never caused
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=_IDLE_KEEPALIVE_S,
                ttl_dns_cache=300,
            )
            # no cookie jar: an API endpoint's cookies mean nothing to mixstack, and the jar
            # filters every request's URL against them
            session = aiohttp.ClientSession(
                connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._sessions[slot] = session
        return session

    def _url(self, model: ModelEntry, request: Request) -> yarl.URL:
        """The chat endpoint, parsed once per model (aiohttp parses a string every call)."""
        import yarl

        if request.raw_prompt:
            return yarl.URL(_base_url(model) + "/completions")
        url = self._urls.get(model.name)
        if url is None:
            url = self._urls[model.name] = yarl.URL(_base_url(model) + "/chat/completions")
        return url

    def _timeout(self, model: ModelEntry, *, stream: bool) -> aiohttp.ClientTimeout:
        """Connecting here; plain calls: nothing more, the call stage (_resilience.py) bounds
        the whole answer (a second timer per call here would only cost time); streams: the
        gap between reads (the call stage enforces first-token and total limits)."""
        import aiohttp

        cached = self._timeouts.get(model.name)
        if cached is None:
            t = model.config.timeouts
            cached = (
                aiohttp.ClientTimeout(total=None, sock_connect=t.connect),
                aiohttp.ClientTimeout(total=None, sock_connect=t.connect, sock_read=t.total),
            )
            self._timeouts[model.name] = cached
        return cached[1] if stream else cached[0]

    def _headers(self, model: ModelEntry) -> dict[str, str]:
        headers = dict(_quirks(model).headers)
        headers["content-type"] = "application/json"
        env = _key_env(model)
        if env:
            key = os.environ.get(env)
            if not key:
                raise missing_key(model, env)
            headers["authorization"] = f"Bearer {key}"
        return headers

    async def complete(self, model: ModelEntry, request: Request) -> ProviderReply:
        # compact UTF-8 JSON serialized in Rust: about 4x the stdlib encoder on a body
        body = dumps(request_body(model, request, stream=False))
        raw = await self._post(model, self._url(model, request), body)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ProviderError(
                f"{model.name}: the endpoint answered with invalid JSON; check `base_url`.",
                model=model.name,
            ) from exc
        return _reply(model, data)

    async def _post(self, model: ModelEntry, url: str | yarl.URL, body: bytes) -> bytes:
        """POST a JSON body and read the whole answer; transport and HTTP errors raised."""
        import aiohttp

        try:
            async with self._session(model).post(
                url,
                data=body,
                headers=self._headers(model),
                timeout=self._timeout(model, stream=False),
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(model, exc) from exc
        if status >= 400:
            raise _status_error(model, status, headers, raw)
        return raw

    async def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        import aiohttp

        session = self._session(model)
        body = dumps(request_body(model, request, stream=True))
        try:
            async with session.post(
                self._url(model, request),
                data=body,
                headers=self._headers(model),
                timeout=self._timeout(model, stream=True),
            ) as response:
                if response.status >= 400:
                    raw = await response.read()
                    raise _status_error(model, response.status, response.headers, raw)
                async for chunk in _parse_sse(model, response.content):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(model, exc) from exc

    async def embed(
        self, model: ModelEntry, texts: list[str], extra: dict[str, Any]
    ) -> EmbeddingReply:
        body = {**extra, "model": model.model_id, "input": texts, "encoding_format": "float"}
        raw = await self._post(model, _base_url(model) + "/embeddings", dumps(body))
        try:
            data = json.loads(raw)
            rows = sorted(data["data"], key=lambda d: int(d.get("index") or 0))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                f"{model.name}: the endpoint's /embeddings answer has no float vectors; check "
                "`base_url`.",
                model=model.name,
            ) from exc
        if len(vectors) != len(texts):
            raise ProviderError(
                f"{model.name}: the endpoint returned {len(vectors)} vectors for {len(texts)} "
                "inputs; retry or check the endpoint.",
                model=model.name,
            )
        counted = _usage(data.get("usage"))
        return EmbeddingReply(vectors, counted[0] if counted else None)

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()


async def _parse_sse(model: ModelEntry, lines: aiohttp.StreamReader) -> AsyncIterator[Chunk]:
    """Turn `data: {...}` lines into chunks; the last one carries finish reason and usage.

    A stream that stops without a finish reason and without `[DONE]`, or a body with no
    `data:` line at all (an HTML page, an empty body, plain JSON), is an upstream failure,
    never a normal end: before the first chunk the call stage may still fall back."""
    finish: FinishReason | None = None
    usage: tuple[int, int] | None = None
    done = False
    events = 0
    async for line in lines:
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            done = True
            break
        try:
            data = json.loads(payload)
        except ValueError as exc:
            invalid = ProviderError(
                f"{model.name}: the endpoint streamed invalid JSON ({payload[:80]!r}); "
                "check `base_url`.",
                model=model.name,
            )
            invalid.public_message = f"{model.name}: the endpoint streamed invalid JSON."
            raise invalid from exc
        if not isinstance(data, dict):
            raise _not_a_stream(model, f"an event is not a JSON object ({payload[:80]!r})")
        if "error" in data:
            broken = ProviderError(
                f"{model.name} failed mid-stream: {_error_message(payload)}; "
                "retry or pick another model.",
                model=model.name,
                retryable=False,
            )
            broken.public_message = f"{model.name} failed mid-stream; retry or pick another model."
            raise broken
        events += 1
        usage = _usage(data.get("usage")) or usage
        for choice in data.get("choices") or ():
            chunk = _delta_chunk(choice)
            if chunk is not None:
                yield chunk
            reason = choice.get("finish_reason")
            if reason:
                finish = _FINISH.get(reason, "stop")
    if not events and not done:
        raise _not_a_stream(model, "the answer held no `data:` events")
    if finish is None and not done:
        raise ProviderError(
            f"{model.name}: the stream ended early (no finish reason and no [DONE]); "
            "the answer is incomplete: retry or add a fallback.",
            model=model.name,
            retryable=True,
        )
    yield Chunk.model_construct(
        text="",
        reasoning="",
        tool_calls=(),
        finish_reason=finish or "stop",
        usage=None if usage is None else Usage(prompt_tokens=usage[0], completion_tokens=usage[1]),
        logprobs=(),
    )


def _delta_chunk(choice: dict[str, Any]) -> Chunk | None:
    delta = choice.get("delta") or {}
    text = delta.get("content") or choice.get("text") or ""
    reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
    calls = delta.get("tool_calls")
    logprobs = _choice_logprobs(choice)
    entries = logprobs.get("content") if logprobs is not None else None
    if not (text or reasoning or calls or entries):
        return None
    return Chunk.model_construct(
        text=text,
        reasoning=reasoning,
        tool_calls=tuple(_tool_delta(c) for c in calls) if calls else (),
        finish_reason=None,
        usage=None,
        logprobs=tuple(entries) if entries else (),
    )


def _not_a_stream(model: ModelEntry, why: str) -> ProviderError:
    error = ProviderError(
        f"{model.name}: the endpoint answered 200 but not with an event stream ({why}); "
        "check `base_url` points at an OpenAI-compatible /v1.",
        model=model.name,
        retryable=True,
    )
    # the client hears that it failed, not what the upstream said
    error.public_message = (
        f"{model.name}: the endpoint answered 200 but not with an event stream; see the "
        "gateway's log."
    )
    return error


def _tool_delta(raw: dict[str, Any]) -> ToolCallDelta:
    function = raw.get("function") or {}
    return ToolCallDelta.model_construct(
        index=int(raw.get("index") or 0),
        id=raw.get("id"),
        name=function.get("name"),
        arguments=function.get("arguments") or "",
    )


#: the entry point's target: the class builds the provider, and the catalog reads its
#: built-in models and defaults from it without building one
create_provider = OpenAICompatProvider
