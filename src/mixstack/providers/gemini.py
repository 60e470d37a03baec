"""`gemini/…` models through the official `google-genai` SDK (`pip install mixstack[gemini]`).

Translates system instructions, multi-turn conversations, images, function calls and their
results, JSON answers (with a schema), streaming, usage and finish reasons. The SDK is
imported only when a Gemini model is first called; its own retries are off.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from mixstack.config import Config, ModelEntry
from mixstack.errors import InvalidRequestError, ProviderError
from mixstack.providers.base import Availability, Provider, ProviderReply
from mixstack.providers.http_errors import status_error
from mixstack.providers.vendor import VendorSdk
from mixstack.types import (
    Chunk,
    FinishReason,
    Message,
    Request,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["GeminiProvider", "create_provider", "generate_params"]

_SDK = VendorSdk("google.genai", "Google Gen AI SDK", "gemini", key_env="GEMINI_API_KEY")
_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}


# -- request translation ---------------------------------------------------------------------


def _parts(message: Message, names: dict[str, str]) -> list[dict[str, Any]]:
    if message.role == "tool":
        name = message.name or names.get(message.tool_call_id or "", "")
        if not name:
            raise InvalidRequestError(
                f"tool result {message.tool_call_id!r} answers no earlier tool call; give the "
                "tool's name or keep the assistant message with the call."
            )
        response: dict[str, Any] = {"name": name, "response": {"result": message.text}}
        if message.tool_call_id:
            response["id"] = message.tool_call_id
        return [{"function_response": response}]
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif part.data is not None:
            parts.append({"inline_data": {"mime_type": part.media_type, "data": part.data}})
        else:
            parts.append({"file_data": {"file_uri": part.url, "mime_type": part.media_type}})
    for call in message.tool_calls:
        try:
            args = call.parsed_arguments()
        except ValueError as exc:
            raise InvalidRequestError(
                f"tool call {call.id} has arguments that are not a JSON object; fix them."
            ) from exc
        parts.append({"function_call": {"id": call.id, "name": call.name, "args": args}})
    return parts


def _tool_config(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if not name:
            raise InvalidRequestError("tool_choice names no function; use auto, required, none.")
        return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [name]}}
    mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}.get(choice)
    if mode is None:
        raise InvalidRequestError(
            f"tool_choice {choice!r} is not supported; use auto, required, none."
        )
    return {"function_calling_config": {"mode": mode}}


def generate_params(model: ModelEntry, request: Request) -> dict[str, Any]:
    """Keyword arguments of `client.aio.models.generate_content` for this request."""
    names = {c.id: c.name for m in request.messages for c in m.tool_calls}
    contents: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message, names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    config: dict[str, Any] = {}
    system = "\n\n".join(m.text for m in request.messages if m.role == "system" and m.text)
    if system:
        config["system_instruction"] = system
    params = request.params
    if params.temperature is not None:
        config["temperature"] = params.temperature
    if params.top_p is not None:
        config["top_p"] = params.top_p
    if params.max_tokens is not None:
        config["max_output_tokens"] = params.max_tokens
    if params.stop:
        config["stop_sequences"] = list(params.stop)
    if params.seed is not None:
        config["seed"] = params.seed
    if params.presence_penalty is not None:
        config["presence_penalty"] = params.presence_penalty
    if params.frequency_penalty is not None:
        config["frequency_penalty"] = params.frequency_penalty
    if "top_k" in request.extra:
        config["top_k"] = request.extra["top_k"]
    fmt = request.response_format
    if fmt.type != "text":
        config["response_mime_type"] = "application/json"
        if fmt.json_schema:
            config["response_json_schema"] = fmt.json_schema
    if request.tools:
        config["tools"] = [
            {
                "function_declarations": [
                    {"name": t.name, "description": t.description, "parameters": t.parameters}
                    for t in request.tools
                ]
            }
        ]
        tool_config = _tool_config(request.tool_choice)
        if tool_config is not None:
            config["tool_config"] = tool_config
    return {"model": model.model_id, "contents": contents, "config": config}


# -- response translation -------------------------------------------------------------------


def _finish(candidate: Any) -> FinishReason | None:
    reason = getattr(candidate, "finish_reason", None)
    if reason is None:
        return None
    name = getattr(reason, "name", str(reason))
    return _FINISH.get(name, "stop")


def _usage(response: Any) -> tuple[int, int]:
    meta = getattr(response, "usage_metadata", None)
    if meta is None:
        return 0, 0
    return meta.prompt_token_count or 0, meta.candidates_token_count or 0


def _pieces(response: Any, offset: int) -> tuple[str, str, list[ToolCall]]:
    """Text, thought text and function calls of one response (calls numbered from offset)."""
    text: list[str] = []
    thought: list[str] = []
    calls: list[ToolCall] = []
    for candidate in (response.candidates or ())[:1]:
        content = candidate.content
        for part in (content.parts if content is not None else None) or ():
            if part.function_call is not None:
                call = part.function_call
                calls.append(
                    ToolCall(
                        id=call.id or f"call_{offset + len(calls)}",
                        name=call.name or "",
                        arguments=json.dumps(call.args or {}),
                    )
                )
            elif part.text:
                (thought if part.thought else text).append(part.text)
    return "".join(text), "".join(thought), calls


def _error(model: ModelEntry, exc: Exception) -> Exception:
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return status_error(
            model.name,
            f"{model.name} (Gemini)",
            int(exc.code or 0),
            exc.message or str(exc),
            credentials_fix=f"check ${_SDK.key_env(model)}",
        )
    import httpx

    if isinstance(exc, httpx.HTTPError):
        return ProviderError(
            f"{model.name}: cannot reach the Gemini endpoint ({type(exc).__name__}: {exc}); "
            "check the network or add a fallback.",
            model=model.name,
            retryable=True,
        )
    return exc


class GeminiProvider(Provider):
    name = "gemini"
    accepts = frozenset({"seed", "presence_penalty", "frequency_penalty", "top_k"})
    default_locality = "remote"
    default_capabilities = ("chat", "tools", "json", "vision")

    def __init__(self, config: Config | None = None) -> None:
        self._clients: dict[tuple[str | None, str], Any] = {}

    def availability(self, model: ModelEntry) -> Availability:
        return _SDK.availability(model, "Gemini API")

    def endpoint(self, model: ModelEntry) -> str:
        return model.config.base_url_or_none or "https://generativelanguage.googleapis.com"

    def _client(self, model: ModelEntry) -> Any:
        genai = _SDK.load()
        key = _SDK.key(model)
        base_url = model.config.base_url_or_none
        slot = (base_url, key)
        client = self._clients.get(slot)
        if client is None:
            from google.genai import types

            options = types.HttpOptions(
                base_url=base_url,
                timeout=int(model.config.timeouts.total * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            client = genai.Client(api_key=key, http_options=options)
            self._clients[slot] = client
        return client

    async def complete(self, model: ModelEntry, request: Request) -> ProviderReply:
        client = self._client(model)
        try:
            response = await client.aio.models.generate_content(**generate_params(model, request))
        except Exception as exc:
            raise _error(model, exc) from exc
        text, thought, calls = _pieces(response, 0)
        prompt_tokens, completion_tokens = _usage(response)
        finish = _finish((response.candidates or [None])[0]) or "stop"
        return ProviderReply(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason="tool_calls" if calls and finish == "stop" else finish,
            tool_calls=tuple(calls),
            reasoning=thought or None,
            upstream_model=getattr(response, "model_version", None),
        )

    async def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        client = self._client(model)
        prompt_tokens = completion_tokens = 0
        finish: FinishReason | None = None
        calls_seen = 0
        try:
            responses = await client.aio.models.generate_content_stream(
                **generate_params(model, request)
            )
            async for response in responses:
                text, thought, calls = _pieces(response, calls_seen)
                if text or thought:
                    yield Chunk(text=text, reasoning=thought)
                for call in calls:
                    yield Chunk(
                        tool_calls=(
                            ToolCallDelta(
                                index=calls_seen,
                                id=call.id,
                                name=call.name,
                                arguments=call.arguments,
                            ),
                        )
                    )
                    calls_seen += 1
                if response.usage_metadata is not None:
                    prompt_tokens, completion_tokens = _usage(response)
                finish = _finish((response.candidates or [None])[0]) or finish
        except Exception as exc:
            raise _error(model, exc) from exc
        if calls_seen and finish in (None, "stop"):
            finish = "tool_calls"
        yield Chunk(
            finish_reason=finish or "stop",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aio.aclose()


#: the entry point's target: the class builds the provider, and the catalog reads its
#: built-in models and defaults from it without building one
create_provider = GeminiProvider
