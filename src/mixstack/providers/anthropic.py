"""`anthropic/…` models through the official SDK (`pip install mixstack[anthropic]`).

Translates system prompts, multi-turn conversations, images, tools and tool results, JSON
answers, streaming, usage and stop reasons to and from the Messages API. The SDK is imported
only when an Anthropic model is first called; its own retries are off (the call stage retries).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mixstack.config import Config, ModelEntry
from mixstack.config.models import AnthropicModelConfig
from mixstack.errors import InvalidRequestError, ProviderError
from mixstack.providers.base import Availability, Provider, ProviderReply
from mixstack.providers.http_errors import parse_retry_after, status_error
from mixstack.providers.vendor import VendorSdk
from mixstack.types import (
    Chunk,
    FinishReason,
    ImagePart,
    Message,
    Request,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    import anthropic

__all__ = ["AnthropicProvider", "create_provider", "messages_params"]

_SDK = VendorSdk("anthropic", "Anthropic SDK", "anthropic", key_env="ANTHROPIC_API_KEY")
_DEFAULT_MAX_TOKENS = 4096
_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}


# -- request translation ---------------------------------------------------------------------


def _image_block(image: ImagePart) -> dict[str, Any]:
    if image.data is None:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    data = image.data_url().partition(",")[2]
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": image.media_type, "data": data},
    }


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.text,
            }
        ]
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        else:
            blocks.append(_image_block(part))
    for call in message.tool_calls:
        try:
            args = call.parsed_arguments()
        except ValueError as exc:
            raise InvalidRequestError(
                f"tool call {call.id} has arguments that are not a JSON object; fix them."
            ) from exc
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": args})
    return blocks


def _tool_choice(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if choice is None or choice == "auto":
        return {"type": "auto"} if choice else None
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            return {"type": "tool", "name": name}
    raise InvalidRequestError(f"tool_choice {choice!r} is not supported; use auto, required, none.")


def messages_params(model: ModelEntry, request: Request) -> dict[str, Any]:
    """Keyword arguments of `client.messages.create` for this request."""
    system = [m.text for m in request.messages if m.role == "system" and m.text]
    fmt = request.response_format
    if fmt.type != "text":
        schema = (
            f" matching this JSON schema: {json.dumps(fmt.json_schema)}" if fmt.json_schema else ""
        )
        system.append(f"Answer with one JSON object{schema}, and nothing else.")
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:  # the API wants alternating turns
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    params = request.params
    out: dict[str, Any] = {
        "model": model.model_id,
        "messages": turns,
        "max_tokens": params.max_tokens or _default_max_tokens(model),
    }
    if system:
        out["system"] = "\n\n".join(system)
    # sampling knobs go in the raw body: newer SDKs no longer type them
    extra: dict[str, Any] = {}
    if params.temperature is not None:
        extra["temperature"] = min(params.temperature, 1.0)
    if params.top_p is not None:
        extra["top_p"] = params.top_p
    if "top_k" in request.extra:
        extra["top_k"] = request.extra["top_k"]
    if extra:
        out["extra_body"] = extra
    if params.stop:
        out["stop_sequences"] = list(params.stop)
    if request.tools:
        out["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
        choice = _tool_choice(request.tool_choice)
        if choice is not None:
            out["tool_choice"] = choice
    if request.caller:
        out["metadata"] = {"user_id": request.caller}
    return out


# -- errors ---------------------------------------------------------------------------------


def _error(model: ModelEntry, exc: Exception) -> Exception:
    sdk = _SDK.load()
    if isinstance(exc, sdk.APIStatusError):
        return status_error(
            model.name,
            f"{model.name} (Anthropic)",
            exc.status_code,
            getattr(exc, "message", str(exc)),
            credentials_fix=f"check ${_SDK.key_env(model)}",
            retry_after_s=parse_retry_after(exc.response.headers),
        )
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError(
            f"{model.name}: cannot reach the Anthropic endpoint ({exc}); check the network or "
            "add a fallback.",
            model=model.name,
            retryable=True,
        )
    return exc


def _default_max_tokens(model: ModelEntry) -> int:
    """The cap sent when a request sets none: the entry's, else the API's usual 4096."""
    cfg = model.config
    return cfg.default_max_tokens if isinstance(cfg, AnthropicModelConfig) else _DEFAULT_MAX_TOKENS


class AnthropicProvider(Provider):
    name = "anthropic"
    accepts = frozenset({"top_k"})
    default_locality = "remote"
    default_capabilities = ("chat", "tools", "json", "vision")

    def __init__(self, config: Config | None = None) -> None:
        self._clients: dict[tuple[str | None, str], anthropic.AsyncAnthropic] = {}

    def availability(self, model: ModelEntry) -> Availability:
        return _SDK.availability(model, "Anthropic API")

    def endpoint(self, model: ModelEntry) -> str:
        return model.config.base_url_or_none or "https://api.anthropic.com"

    def _client(self, model: ModelEntry) -> anthropic.AsyncAnthropic:
        sdk = _SDK.load()
        key = _SDK.key(model)
        base_url = model.config.base_url_or_none
        slot = (base_url, key)
        client = self._clients.get(slot)
        if client is None:
            timeouts = model.config.timeouts
            client = sdk.AsyncAnthropic(
                api_key=key,
                base_url=base_url,
                max_retries=0,
                timeout=sdk.Timeout(timeouts.total, connect=timeouts.connect),
            )
            self._clients[slot] = client
        return client

    async def complete(self, model: ModelEntry, request: Request) -> ProviderReply:
        client = self._client(model)
        try:
            message = await client.messages.create(**messages_params(model, request))
        except Exception as exc:
            raise _error(model, exc) from exc
        texts: list[str] = []
        thinking: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append(
                    ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input))
                )
            elif block.type == "thinking":
                thinking.append(block.thinking)
        return ProviderReply(
            text="".join(texts),
            prompt_tokens=message.usage.input_tokens,
            completion_tokens=message.usage.output_tokens,
            finish_reason=_STOP.get(message.stop_reason or "end_turn", "stop"),
            tool_calls=tuple(calls),
            reasoning="".join(thinking) or None,
            upstream_model=message.model,
        )

    async def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        client = self._client(model)
        try:
            events = await client.messages.create(**messages_params(model, request), stream=True)
        except Exception as exc:
            raise _error(model, exc) from exc
        prompt_tokens = completion_tokens = 0
        finish: FinishReason = "stop"
        tool_index: dict[int, int] = {}
        try:
            async for event in events:
                kind = event.type
                if kind == "message_start":
                    prompt_tokens = event.message.usage.input_tokens
                elif kind == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    tool_index[event.index] = len(tool_index)
                    yield Chunk(
                        tool_calls=(
                            ToolCallDelta(
                                index=tool_index[event.index], id=block.id, name=block.name
                            ),
                        )
                    )
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        yield Chunk(text=delta.text)
                    elif delta.type == "input_json_delta" and delta.partial_json:
                        index = tool_index.get(event.index, 0)
                        yield Chunk(
                            tool_calls=(ToolCallDelta(index=index, arguments=delta.partial_json),)
                        )
                    elif delta.type == "thinking_delta":
                        yield Chunk(reasoning=delta.thinking)
                elif kind == "message_delta":
                    completion_tokens = event.usage.output_tokens
                    if event.delta.stop_reason:
                        finish = _STOP.get(event.delta.stop_reason, "stop")
        except Exception as exc:
            raise _error(model, exc) from exc
        finally:
            await events.close()
        yield Chunk(
            finish_reason=finish,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()


#: the entry point's target: the class builds the provider, and the catalog reads its
#: built-in models and defaults from it without building one
create_provider = AnthropicProvider
