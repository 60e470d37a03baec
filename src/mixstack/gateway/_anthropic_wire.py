"""The Anthropic Messages wire format (`POST /v1/messages`), served by any model in the catalog.

Text, images, tools (`tool_use` / `tool_result` blocks, `tool_choice` auto/any/tool/none),
`system`, `stop_sequences`, `top_k` (kept as an extra field: in-process and vendor models
honour it, OpenAI-compatible endpoints receive it) and streaming with Anthropic's events.
Errors use Anthropic's error JSON, so the `anthropic` SDK raises its own exception types.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from mixstack.errors import InvalidRequestError, MixstackError, RateLimited
from mixstack.gateway._errors import exception_payload
from mixstack.gateway._formats import Parsed, parse_json_body
from mixstack.types import (
    Chunk,
    Completion,
    ContentPart,
    ImagePart,
    Message,
    Request,
    SamplingParams,
    TextPart,
    Tool,
    ToolCall,
)

__all__ = ["MessagesRequest", "MessagesWire"]

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
#: OpenAI-style error types as Anthropic names them
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class _In(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ToolIn(_In):
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class MessageIn(_In):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesRequest(_In):
    """`POST /v1/messages`."""

    model: str
    messages: list[MessageIn] = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    system: str | list[dict[str, Any]] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=1)
    stream: bool = False
    tools: list[ToolIn] | None = None
    tool_choice: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _image(block: dict[str, Any], where: str) -> ImagePart:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        raise InvalidRequestError(
            f"{where}.source must be of type base64 or url.", param=f"{where}.source"
        )
    return ImagePart.from_url(url)


def _message(m: MessageIn, index: int) -> list[Message]:
    """One Anthropic turn as mixstack messages (tool results become `tool` messages)."""
    where = f"messages[{index}]"
    if isinstance(m.content, str):
        return [Message(role=m.role, content=(TextPart(text=m.content),))]
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    for i, block in enumerate(m.content):
        kind = block.get("type")
        at = f"{where}.content[{i}]"
        if kind == "text":
            parts.append(TextPart(text=str(block.get("text", ""))))
        elif kind == "image":
            parts.append(_image(block, at))
        elif kind == "tool_use" and m.role == "assistant":
            calls.append(
                ToolCall(
                    id=str(block.get("id", f"toolu_{i}")),
                    name=str(block.get("name", "")),
                    arguments=json.dumps(block.get("input") or {}),
                )
            )
        elif kind == "tool_result" and m.role == "user":
            text = _text_of(block.get("content", ""))
            if block.get("is_error"):
                text = f"Error: {text}"
            results.append(Message.tool(str(block.get("tool_use_id", "")), text))
        else:
            raise InvalidRequestError(
                f"{at} has type {kind!r}, which this gateway does not take in a {m.role} turn; "
                "send text, image, tool_use (assistant) or tool_result (user) blocks.",
                param=f"{at}.type",
                code="unsupported_content",
            )
    out = list(results)
    if parts or calls:
        out.append(Message(role=m.role, content=tuple(parts), tool_calls=tuple(calls)))
    return out


def _tool_choice(choice: dict[str, Any] | None) -> str | dict[str, Any] | None:
    if choice is None:
        return None
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    mapped = {"auto": "auto", "any": "required", "none": "none"}.get(str(kind))
    if mapped is None:
        raise InvalidRequestError(
            "tool_choice.type must be auto, any, tool or none.", param="tool_choice.type"
        )
    return mapped


def _new_id(prefix: str) -> str:
    return f"{prefix}_{random.getrandbits(96):024x}"


def _usage(completion: Completion | None) -> dict[str, int]:
    if completion is None:
        return {"input_tokens": 0, "output_tokens": 0}
    u = completion.usage
    return {"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens}


def _tool_use(call: ToolCall) -> dict[str, Any]:
    try:
        arguments = json.loads(call.arguments or "{}")
    except ValueError:
        arguments = {"_raw": call.arguments}
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


class MessagesWire:
    """`POST /v1/messages`."""

    path = "/v1/messages"

    def parse(self, body: bytes, headers: Mapping[str, str], caller: str | None) -> Parsed:
        req = parse_json_body(MessagesRequest, body, "`model`, `max_tokens` and `messages`")
        extra = dict(req.model_extra or {})
        if req.top_k is not None:
            extra["top_k"] = req.top_k
        thinking = extra.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "disabled":
            del extra["thinking"]  # the default: it asks for nothing
        system = _text_of(req.system) if req.system is not None else ""
        messages = [Message.system(system)] if system else []
        for i, m in enumerate(req.messages):
            messages.extend(_message(m, i))
        user = (req.metadata or {}).get("user_id")
        request = Request(
            messages=tuple(messages),
            model=req.model,
            workload=headers.get("x-mixstack-workload") or None,
            rephrase=headers.get("x-mixstack-rephrase") or None,
            caller=caller,
            tools=tuple(
                Tool(name=t.name, description=t.description or "", parameters=t.input_schema)
                for t in req.tools or ()
            ),
            tool_choice=_tool_choice(req.tool_choice),
            params=SamplingParams(
                temperature=req.temperature,
                top_p=req.top_p,
                max_tokens=req.max_tokens,
                stop=tuple(req.stop_sequences or ()),
            ),
            metadata={"user": str(user)} if user else {},
            extra=extra,
        )
        return Parsed(request, req.stream, True, {"message_id": _new_id("msg")})

    def render(self, completion: Completion, parsed: Parsed) -> dict[str, Any]:
        assert parsed.context is not None
        content: list[dict[str, Any]] = []
        if completion.text:
            content.append({"type": "text", "text": completion.text})
        content.extend(_tool_use(c) for c in completion.tool_calls)
        return {
            "id": parsed.context["message_id"],
            "type": "message",
            "role": "assistant",
            "model": completion.model,
            "content": content,
            "stop_reason": _STOP.get(completion.finish_reason, "end_turn"),
            "stop_sequence": None,
            "usage": _usage(completion),
        }

    def writer(self, request_id: str, model: str, parsed: Parsed) -> MessagesStream:
        assert parsed.context is not None
        return MessagesStream(parsed.context["message_id"], model)

    def error_response(self, exc: MixstackError) -> Response:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["retry-after"] = str(max(1, int(exc.retry_after_s + 0.999)))
        return JSONResponse(error_body(exc), status_code=exc.http_status, headers=headers)


def error_body(exc: MixstackError) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(exc.http_status, "api_error")
    message = exception_payload(exc)["error"]["message"]
    return {"type": "error", "error": {"type": kind, "message": message}}


class MessagesStream:
    """Anthropic's streaming events for one answer."""

    def __init__(self, message_id: str, model: str):
        self._id = message_id
        self._model = model
        self._block = -1
        self._kind: str | None = None
        self._call_index: int | None = None

    @staticmethod
    def _event(kind: str, **data: Any) -> bytes:
        return f"event: {kind}\ndata: ".encode() + _DUMPS({"type": kind, **data}).encode() + b"\n\n"

    def head(self) -> bytes:
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return self._event("message_start", message=message)

    def _stop_block(self) -> bytes:
        if self._kind is None:
            return b""
        self._kind = None
        return self._event("content_block_stop", index=self._block)

    def chunk(self, chunk: Chunk) -> bytes:
        out = b""
        if chunk.text:
            if self._kind != "text":
                out += self._stop_block()
                self._block += 1
                self._kind = "text"
                out += self._event(
                    "content_block_start",
                    index=self._block,
                    content_block={"type": "text", "text": ""},
                )
            out += self._event(
                "content_block_delta",
                index=self._block,
                delta={"type": "text_delta", "text": chunk.text},
            )
        for delta in chunk.tool_calls:
            if self._kind != "tool_use" or self._call_index != delta.index:
                out += self._stop_block()
                self._block += 1
                self._kind, self._call_index = "tool_use", delta.index
                block = {
                    "type": "tool_use",
                    "id": delta.id or f"toolu_{delta.index}",
                    "name": delta.name or "",
                    "input": {},
                }
                out += self._event("content_block_start", index=self._block, content_block=block)
            if delta.arguments:
                out += self._event(
                    "content_block_delta",
                    index=self._block,
                    delta={"type": "input_json_delta", "partial_json": delta.arguments},
                )
        return out

    def end(self, completion: Completion | None) -> bytes:
        out = self._stop_block()
        reason = _STOP.get(completion.finish_reason, "end_turn") if completion else "end_turn"
        out += self._event(
            "message_delta",
            delta={"stop_reason": reason, "stop_sequence": None},
            usage=_usage(completion),
        )
        return out + self._event("message_stop")

    def error(self, exc: MixstackError) -> bytes:
        return self._event("error", **{"error": error_body(exc)["error"]})
