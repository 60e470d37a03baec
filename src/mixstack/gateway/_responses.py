"""The OpenAI Responses wire format (`POST /v1/responses`): input items in, output items out.

Text, images, function tools (calls and their outputs as input items), `text.format` (JSON
object or schema), streaming (the typed `response.*` events) and `previous_response_id`:
the conversation of the last responses this gateway process answered is kept in memory
(`KEPT` of them); an id it no longer holds is a 400 that says so. Fields without a meaning
here are refused by name, the others travel on like Chat Completions' extra fields.
"""

from __future__ import annotations

import json
import random
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
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

__all__ = ["KEPT", "ResponsesRequest", "ResponsesWire"]

#: how many answered conversations a gateway process keeps for `previous_response_id`
KEPT = 1000
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class _In(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class FunctionTool(_In):
    type: Literal["function"] = "function"
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class TextFormat(_In):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextOptions(_In):
    format: TextFormat | None = None


class ResponsesRequest(_In):
    """`POST /v1/responses`."""

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    text: TextOptions | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stream: bool = False
    previous_response_id: str | None = None
    user: str | None = None
    #: kept by this gateway anyway (in memory, for `previous_response_id`)
    store: bool | None = None
    metadata: dict[str, str] | None = None


_REFUSED = {
    "background": "background responses are not supported; drop `background`",
    "conversation": "use `previous_response_id` instead",
    "prompt": "stored prompts are not supported; send `input`",
}


# -- in ------------------------------------------------------------------------------------------


def _content(content: Any, where: str) -> tuple[ContentPart, ...]:
    if isinstance(content, str):
        return (TextPart(text=content),)
    if not isinstance(content, list):
        raise InvalidRequestError(f"{where}.content must be a string or a list.", param=where)
    parts: list[ContentPart] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            parts.append(TextPart(text=part["text"]))
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append(ImagePart.from_url(part["image_url"], detail=part.get("detail")))
        else:
            raise InvalidRequestError(
                f"{where}.content[{i}] has type {kind!r}, which this gateway does not take; "
                "send input_text or input_image (with image_url) parts.",
                param=f"{where}.content[{i}].type",
                code="unsupported_content",
            )
    return tuple(parts)


def _items(items: list[dict[str, Any]]) -> list[Message]:
    messages: list[Message] = []
    names: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "system", "developer", "assistant"):
                raise InvalidRequestError(
                    f"{where}.role must be user, system, developer or assistant.",
                    param=f"{where}.role",
                )
            messages.append(
                Message(
                    role="system" if role == "developer" else role,
                    content=_content(item.get("content", ""), where),
                )
            )
        elif kind == "function_call":
            call = ToolCall(
                id=str(item.get("call_id") or item.get("id") or f"call_{i}"),
                name=str(item.get("name", "")),
                arguments=str(item.get("arguments") or "{}"),
            )
            names[call.id] = call.name
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and not last.content:
                messages[-1] = last.model_copy(update={"tool_calls": (*last.tool_calls, call)})
            else:
                messages.append(Message(role="assistant", tool_calls=(call,)))
        elif kind == "function_call_output":
            call_id = str(item.get("call_id", ""))
            output = item.get("output", "")
            text = output if isinstance(output, str) else json.dumps(output)
            messages.append(Message.tool(call_id, text, name=names.get(call_id)))
        else:
            raise InvalidRequestError(
                f"{where} has type {kind!r}, which this gateway does not take; send message, "
                "function_call or function_call_output items.",
                param=f"{where}.type",
                code="unsupported_content",
            )
    return messages


def _format(text: TextOptions | None) -> ResponseFormat:
    fmt = text.format if text is not None else None
    if fmt is None or fmt.type == "text":
        return ResponseFormat()
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    if fmt.json_schema is None:
        raise InvalidRequestError(
            "text.format of type json_schema needs a `schema`.", param="text.format.schema"
        )
    return ResponseFormat(
        type="json_schema", json_schema=fmt.json_schema, name=fmt.name, strict=fmt.strict
    )


def _tool_choice(choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


# -- out -----------------------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}_{random.getrandbits(96):024x}"


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _call_item(item_id: str, call: ToolCall, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


class ResponsesWire:
    """`POST /v1/responses`, with the conversations it answered kept for follow-ups."""

    path = "/v1/responses"

    def __init__(self, kept: int = KEPT):
        self._kept = kept
        self._conversations: OrderedDict[str, tuple[Message, ...]] = OrderedDict()

    def parse(self, body: bytes, headers: Mapping[str, str], caller: str | None) -> Parsed:
        req = parse_json_body(ResponsesRequest, body, "`model` and `input`")
        extra = dict(req.model_extra or {})
        for name, fix in _REFUSED.items():
            if name in extra:
                raise InvalidRequestError(
                    f"`{name}` is not supported by this gateway; {fix}.",
                    param=name,
                    code="unsupported_parameter",
                )
        history: tuple[Message, ...] = ()
        if req.previous_response_id is not None:
            kept = self._conversations.get(req.previous_response_id)
            if kept is None:
                raise InvalidRequestError(
                    f"previous_response_id {req.previous_response_id!r} is not held here: this "
                    f"gateway keeps the last {self._kept} responses of its process in memory; "
                    "send the whole conversation as `input` instead.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            history = kept
        turns = [Message.user(req.input)] if isinstance(req.input, str) else _items(req.input)
        system = [Message.system(req.instructions)] if req.instructions else []
        past = tuple(m for m in history if m.role != "system")
        request = Request(
            messages=(*system, *past, *turns),
            model=req.model,
            workload=headers.get("x-mixstack-workload") or None,
            rephrase=headers.get("x-mixstack-rephrase") or None,
            caller=caller,
            tools=tuple(
                Tool(
                    name=t.name,
                    description=t.description or "",
                    parameters=t.parameters or {"type": "object"},
                    strict=t.strict,
                )
                for t in req.tools or ()
            ),
            tool_choice=_tool_choice(req.tool_choice),
            params=SamplingParams(
                temperature=req.temperature, top_p=req.top_p, max_tokens=req.max_output_tokens
            ),
            response_format=_format(req.text),
            metadata={"user": req.user} if req.user else {},
            extra=extra,
        )
        context = {
            "response_id": _new_id("resp"),
            "echo": {
                "instructions": req.instructions,
                "max_output_tokens": req.max_output_tokens,
                "temperature": req.temperature,
                "top_p": req.top_p,
                "tool_choice": req.tool_choice or "auto",
                "tools": [t.model_dump(by_alias=True, exclude_none=True) for t in req.tools or ()],
                "text": {
                    "format": (
                        req.text.format if req.text and req.text.format else TextFormat()
                    ).model_dump(by_alias=True, exclude_none=True)
                },
                "metadata": req.metadata or {},
                "previous_response_id": req.previous_response_id,
                "parallel_tool_calls": True,
                "store": req.store if req.store is not None else True,
            },
        }
        return Parsed(request, req.stream, True, context)

    def _keep(self, parsed: Parsed, answer: Message) -> None:
        assert parsed.context is not None
        self._conversations[parsed.context["response_id"]] = (*parsed.request.messages, answer)
        while len(self._conversations) > self._kept:
            self._conversations.popitem(last=False)

    def response(
        self,
        parsed: Parsed,
        model: str,
        output: list[dict[str, Any]],
        completion: Completion | None,
        status: str = "completed",
    ) -> dict[str, Any]:
        assert parsed.context is not None
        usage = None
        if completion is not None:
            u = completion.usage
            usage = {
                "input_tokens": u.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": u.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": u.total_tokens,
            }
        incomplete = None
        if completion is not None and completion.finish_reason == "length":
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        return {
            "id": parsed.context["response_id"],
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": model,
            "output": output,
            "usage": usage,
            "error": None,
            "incomplete_details": incomplete,
            "top_p": None,
            **parsed.context["echo"],
        }

    def render(self, completion: Completion, parsed: Parsed) -> dict[str, Any]:
        output: list[dict[str, Any]] = []
        if completion.text or not completion.tool_calls:
            output.append(_message_item(_new_id("msg"), completion.text))
        output.extend(_call_item(_new_id("fc"), c) for c in completion.tool_calls)
        self._keep(parsed, Message.assistant(completion.text, completion.tool_calls))
        return self.response(parsed, completion.model, output, completion)

    def writer(self, request_id: str, model: str, parsed: Parsed) -> ResponsesStream:
        return ResponsesStream(self, parsed, model)

    def error_response(self, exc: MixstackError) -> Response:
        return error_response(exc)


class ResponsesStream:
    """The typed `response.*` events of one streamed response."""

    def __init__(self, wire: ResponsesWire, parsed: Parsed, model: str):
        self._wire = wire
        self._parsed = parsed
        self._model = model
        self._seq = 0
        self._output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}

    def _event(self, kind: str, **data: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **data}
        self._seq += 1
        return f"event: {kind}\ndata: ".encode() + _DUMPS(payload).encode() + b"\n\n"

    def head(self) -> bytes:
        shell = self._wire.response(self._parsed, self._model, [], None, "in_progress")
        return self._event("response.created", response=shell) + self._event(
            "response.in_progress", response=shell
        )

    def _close_open(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        index = len(self._output)
        if item["type"] == "message":
            text = "".join(self._text)
            done = _message_item(item["id"], text)
            out = self._event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=text,
            )
            out += self._event(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part={"type": "output_text", "text": text, "annotations": []},
            )
        else:
            call = ToolCall(id=item["call_id"], name=item["name"], arguments=item["arguments"])
            done = _call_item(item["id"], call)
            out = self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        self._output.append(done)
        return out + self._event("response.output_item.done", output_index=index, item=done)

    def chunk(self, chunk: Chunk) -> bytes:
        out = b""
        index = len(self._output)
        if chunk.text:
            if self._open is None or self._open["type"] != "message":
                out += self._close_open()
                index = len(self._output)
                self._open = {"type": "message", "id": _new_id("msg")}
                item_id = self._open["id"]
                out += self._event(
                    "response.output_item.added",
                    output_index=index,
                    item=_message_item(item_id, "", "in_progress"),
                )
                out += self._event(
                    "response.content_part.added",
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
            self._text.append(chunk.text)
            out += self._event(
                "response.output_text.delta",
                item_id=self._open["id"],
                output_index=index,
                content_index=0,
                delta=chunk.text,
            )
        for delta in chunk.tool_calls:
            if self._open is None or self._open.get("index") != delta.index:
                out += self._close_open()
                index = len(self._output)
                self._open = {
                    "type": "function_call",
                    "index": delta.index,
                    "id": _new_id("fc"),
                    "call_id": delta.id or f"call_{delta.index}",
                    "name": delta.name or "",
                    "arguments": "",
                }
                shown = ToolCall(id=self._open["call_id"], name=self._open["name"], arguments="")
                out += self._event(
                    "response.output_item.added",
                    output_index=index,
                    item=_call_item(self._open["id"], shown, "in_progress"),
                )
            if delta.arguments:
                self._open["arguments"] += delta.arguments
                out += self._event(
                    "response.function_call_arguments.delta",
                    item_id=self._open["id"],
                    output_index=index,
                    delta=delta.arguments,
                )
        return out

    def end(self, completion: Completion | None) -> bytes:
        out = self._close_open()
        if not self._output:
            self._output.append(_message_item(_new_id("msg"), ""))
        calls = tuple(
            ToolCall(id=i["call_id"], name=i["name"], arguments=i["arguments"])
            for i in self._output
            if i["type"] == "function_call"
        )
        self._wire._keep(self._parsed, Message.assistant("".join(self._text), calls))
        final = self._wire.response(self._parsed, self._model, self._output, completion)
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        return out + self._event(kind, response=final)

    def error(self, exc: MixstackError) -> bytes:
        err = exception_payload(exc)["error"]
        return self._event("error", code=err["code"], message=err["message"], param=err["param"])
