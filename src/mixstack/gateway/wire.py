"""The OpenAI Chat Completions wire format: request bodies in, completions and SSE chunks out.

The request schema below is also what `/openapi.json` publishes. Unknown OpenAI fields are
accepted and ignored, so any SDK version can talk to the gateway.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mixstack.errors import InvalidRequestError
from mixstack.types import (
    Chunk,
    Completion,
    ContentPart,
    ImagePart,
    Message,
    Request,
    ResponseFormat,
    SamplingParams,
    TextPart,
    Tool,
    ToolCall,
)

__all__ = [
    "ChatCompletionRequest",
    "ChunkWriter",
    "completion_json",
    "to_request",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TextContent(_In):
    type: Literal["text"]
    text: str


class ImageURL(_In):
    url: str = Field(description="an https URL or a base64 data URL")
    detail: str | None = None


class ImageContent(_In):
    type: Literal["image_url"]
    image_url: ImageURL


ContentIn = Annotated[TextContent | ImageContent, Field(discriminator="type")]


class FunctionCallIn(_In):
    name: str
    arguments: str = "{}"


class ToolCallIn(_In):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessageIn(_In):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentIn] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class FunctionDef(_In):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolIn(_In):
    type: Literal["function"] = "function"
    function: FunctionDef


class JsonSchemaIn(_In):
    name: str = "response"
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(_In):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaIn | None = None


class StreamOptions(_In):
    include_usage: bool = False


class ChatCompletionRequest(_In):
    """`POST /v1/chat/completions`: the subset of OpenAI's body that mixstack acts on."""

    model: str = Field(description="`provider/model` or `workload/<name>`")
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    response_format: ResponseFormatIn | None = None
    n: Literal[1] | None = Field(default=None, description="only one choice is supported")
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None


# -- in ----------------------------------------------------------------------------------------


def _parts(content: str | list[ContentIn] | None, where: str) -> tuple[ContentPart, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(text=content),) if content else ()
    parts: list[ContentPart] = []
    for i, part in enumerate(content):
        if isinstance(part, TextContent):
            parts.append(TextPart(text=part.text))
            continue
        try:
            parts.append(ImagePart.from_url(part.image_url.url))
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                exc.message, param=f"{where}.content[{i}].image_url.url", code="invalid_image"
            ) from exc
    return tuple(parts)


def _message(m: ChatMessageIn, index: int) -> Message:
    where = f"messages[{index}]"
    role = "system" if m.role == "developer" else m.role
    calls = tuple(
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
        for c in m.tool_calls or ()
    )
    if m.role == "tool" and not m.tool_call_id:
        raise InvalidRequestError(
            f"{where} has role `tool` but no `tool_call_id`; add the id of the call it answers.",
            param=f"{where}.tool_call_id",
        )
    return Message(
        role=role,
        content=_parts(m.content, where),
        tool_calls=calls,
        tool_call_id=m.tool_call_id,
        name=m.name,
    )


def _response_format(fmt: ResponseFormatIn | None) -> ResponseFormat:
    if fmt is None or fmt.type == "text":
        return ResponseFormat()
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    if fmt.json_schema is None:
        raise InvalidRequestError(
            "response_format of type json_schema needs a `json_schema` object with `schema`.",
            param="response_format.json_schema",
        )
    return ResponseFormat(
        type="json_schema", json_schema=fmt.json_schema.json_schema, name=fmt.json_schema.name
    )


def to_request(
    body: ChatCompletionRequest,
    *,
    workload: str | None = None,
    rephrase: str | None = None,
    caller: str | None = None,
) -> Request:
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return Request(
        messages=tuple(_message(m, i) for i, m in enumerate(body.messages)),
        model=body.model,
        workload=workload,
        rephrase=rephrase,
        caller=caller,
        tools=tuple(
            Tool(
                name=t.function.name,
                description=t.function.description or "",
                parameters=t.function.parameters or {"type": "object"},
            )
            for t in body.tools or ()
        ),
        tool_choice=body.tool_choice,
        params=SamplingParams(
            temperature=body.temperature,
            top_p=body.top_p,
            max_tokens=body.max_completion_tokens or body.max_tokens,
            stop=stop,
            seed=body.seed,
        ),
        response_format=_response_format(body.response_format),
        metadata={"user": body.user} if body.user else {},
    )


# -- out ---------------------------------------------------------------------------------------


def _finish(reason: str) -> str:
    return "stop" if reason == "error" else reason


def _usage(prompt: int, completion: int, cost: float) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": cost,
    }


def completion_json(completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if completion.tool_calls:
        message["content"] = completion.text or None
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in completion.tool_calls
        ]
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    usage = completion.usage
    return {
        "id": "chatcmpl-" + completion.request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": completion.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _finish(completion.finish_reason),
                "logprobs": None,
            }
        ],
        "usage": _usage(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd),
    }


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ChunkWriter:
    """Encodes one stream's chunks as SSE `data:` lines; the envelope is built once."""

    def __init__(self, request_id: str, model: str):
        created = int(time.time())
        self._head = (
            f'data: {{"id":{_DUMPS("chatcmpl-" + request_id)},"object":"chat.completion.chunk",'
            f'"created":{created},"model":{_DUMPS(model)},'
        ).encode()
        self._role_sent = False

    def chunk(self, chunk: Chunk) -> bytes:
        delta: dict[str, Any] = {}
        if not self._role_sent:
            delta["role"] = "assistant"
            self._role_sent = True
        if chunk.text:
            delta["content"] = chunk.text
        if chunk.reasoning:
            delta["reasoning_content"] = chunk.reasoning
        if chunk.tool_calls:
            delta["tool_calls"] = [
                {
                    "index": d.index,
                    **({"id": d.id, "type": "function"} if d.id else {}),
                    "function": {
                        **({"name": d.name} if d.name else {}),
                        "arguments": d.arguments,
                    },
                }
                for d in chunk.tool_calls
            ]
        finish = "null" if chunk.finish_reason is None else f'"{_finish(chunk.finish_reason)}"'
        return (
            self._head
            + b'"choices":[{"index":0,"delta":'
            + _DUMPS(delta).encode()
            + b',"finish_reason":'
            + finish.encode()
            + b"}]}\n\n"
        )

    def usage(self, prompt: int, completion: int, cost: float) -> bytes:
        return (
            self._head
            + b'"choices":[],"usage":'
            + _DUMPS(_usage(prompt, completion, cost)).encode()
            + b"}\n\n"
        )

    @staticmethod
    def error(payload: dict[str, Any]) -> bytes:
        return b"data: " + _DUMPS(payload).encode() + b"\n\n"

    DONE = b"data: [DONE]\n\n"
