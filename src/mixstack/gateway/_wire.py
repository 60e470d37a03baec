"""The OpenAI Chat Completions wire format: request bodies in, completions and SSE chunks out.

The request schema below is also what `/openapi.json` publishes. Nothing is dropped: fields
mixstack does not model (`top_k`, `reasoning_effort`, any `extra_body` field) travel on in
`Request.extra`, and the pipeline refuses those the routed model cannot honour.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from starlette.responses import Response

from mixstack.errors import InvalidRequestError, MixstackError
from mixstack.gateway._errors import error_response, exception_payload
from mixstack.gateway._formats import Parsed, parse_json_body
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
    "ChatWire",
    "ChunkWriter",
    "completion_json",
    "extra_fields",
    "to_request",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TextContent(_In):
    type: Literal["text"]
    text: str


class ImageURL(_In):
    url: str = Field(description="an https URL or a base64 data URL")
    detail: Literal["auto", "low", "high"] | None = None


class ImageContent(_In):
    type: Literal["image_url"]
    image_url: ImageURL


class OtherContent(BaseModel):
    """A content part of a type mixstack does not take (audio, files, …): refused by name."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


def _part_type(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("text", "image_url") else "other"


ContentIn = Annotated[
    Annotated[TextContent, Tag("text")]
    | Annotated[ImageContent, Tag("image_url")]
    | Annotated[OtherContent, Tag("other")],
    Discriminator(_part_type),
]


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
    strict: bool | None = None


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


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`: OpenAI's body. Fields not listed here are kept (in
    `model_extra`) and travel on in `Request.extra`: never silently dropped."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str = Field(description="`provider/model` or `workload/<name>`")
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    response_format: ResponseFormatIn | None = None
    n: int | None = Field(default=None, ge=1, le=16, description="how many answers")
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None


# -- in ----------------------------------------------------------------------------------------


def _parts(content: str | list[ContentIn] | None, where: str) -> tuple[ContentPart, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        # an empty string stays one (some endpoints reject `null` where the client sent "")
        return (TextPart(text=content),)
    parts: list[ContentPart] = []
    for i, part in enumerate(content):
        if isinstance(part, TextContent):
            parts.append(TextPart(text=part.text))
            continue
        if isinstance(part, OtherContent):
            raise InvalidRequestError(
                f"{where}.content[{i}] has type {part.type!r}, which this gateway does not take; "
                "send `text` or `image_url` parts (audio and files are not supported).",
                param=f"{where}.content[{i}].type",
                code="unsupported_content",
            )
        try:
            parts.append(ImagePart.from_url(part.image_url.url, detail=part.image_url.detail))
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
        type="json_schema",
        json_schema=fmt.json_schema.json_schema,
        name=fmt.json_schema.name,
        strict=fmt.json_schema.strict,
    )


#: legacy or unsupported fields refused by name, with the replacement
_REFUSED = {
    "functions": "send `tools` (each `{type: function, function: {...}}`) instead",
    "function_call": "send `tool_choice` instead",
    "audio": "audio output is not supported",
    "modalities": "only text output is supported",
    "prediction": "predicted outputs are not supported",
}


def extra_fields(body: BaseModel) -> dict[str, Any]:
    """The fields of a body mixstack does not model, refused where they are known to be
    unsupported; the others travel on to the model's provider."""
    extra = dict(body.model_extra or {})
    for name, fix in _REFUSED.items():
        if name in extra:
            raise InvalidRequestError(
                f"`{name}` is not supported by this gateway; {fix}.",
                param=name,
                code="unsupported_parameter",
            )
    return extra


def to_request(
    body: ChatCompletionRequest,
    *,
    workload: str | None = None,
    rephrase: str | None = None,
    caller: str | None = None,
) -> Request:
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    if body.stream and (body.n or 1) > 1:
        raise InvalidRequestError(
            "`n` > 1 cannot be streamed by this gateway; send `stream: false` or `n: 1`.",
            param="n",
            code="unsupported_parameter",
        )
    extra = extra_fields(body)
    if body.stream_options is not None:
        extra.pop("stream_options", None)
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
                strict=t.function.strict,
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
            n=body.n or 1,
            presence_penalty=body.presence_penalty,
            frequency_penalty=body.frequency_penalty,
            logit_bias=body.logit_bias,
            logprobs=bool(body.logprobs),
            top_logprobs=body.top_logprobs,
        ),
        response_format=_response_format(body.response_format),
        metadata={"user": body.user} if body.user else {},
        extra=extra,
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


def _choice(index: int, completion: Completion) -> dict[str, Any]:
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
    return {
        "index": index,
        "message": message,
        "finish_reason": _finish(completion.finish_reason),
        "logprobs": completion.logprobs,
    }


def completion_json(completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    answers = (completion, *completion.alternatives)
    out = _usage(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd)
    if usage.estimated:
        out["estimated"] = True
    return {
        "id": "chatcmpl-" + completion.request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": completion.model,
        "choices": [_choice(i, c) for i, c in enumerate(answers)],
        "usage": out,
    }


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ChunkWriter:
    """Encodes one stream's chunks as SSE `data:` lines; the envelope is built once."""

    def __init__(self, request_id: str, model: str, include_usage: bool = False):
        self._include_usage = include_usage
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
        logprobs = (
            b',"logprobs":' + _DUMPS({"content": list(chunk.logprobs)}).encode()
            if chunk.logprobs
            else b""
        )
        return (
            self._head
            + b'"choices":[{"index":0,"delta":'
            + _DUMPS(delta).encode()
            + logprobs
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

    def head(self) -> bytes:
        return b""

    def end(self, completion: Completion | None) -> bytes:
        if not self._include_usage or completion is None:
            return self.DONE
        u = completion.usage
        return self.usage(u.prompt_tokens, u.completion_tokens, u.cost_usd) + self.DONE

    @staticmethod
    def error(exc: MixstackError) -> bytes:
        return b"data: " + _DUMPS(exception_payload(exc)).encode() + b"\n\n"

    DONE = b"data: [DONE]\n\n"


class ChatWire:
    """`POST /v1/chat/completions`."""

    path = "/v1/chat/completions"

    def parse(self, body: bytes, headers: Mapping[str, str], caller: str | None) -> Parsed:
        chat = parse_json_body(ChatCompletionRequest, body, "`model` and `messages`")
        request = to_request(
            chat,
            workload=headers.get("x-mixstack-workload") or None,
            rephrase=headers.get("x-mixstack-rephrase") or None,
            caller=caller,
        )
        include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
        return Parsed(request, chat.stream, include_usage)

    def render(self, completion: Completion, parsed: Parsed) -> dict[str, Any]:
        return completion_json(completion)

    def writer(self, request_id: str, model: str, parsed: Parsed) -> ChunkWriter:
        return ChunkWriter(request_id, model, parsed.include_usage)

    def error_response(self, exc: MixstackError) -> Response:
        return error_response(exc)
