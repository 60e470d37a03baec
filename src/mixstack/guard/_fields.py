"""Every field of a `Request` that can leave the machine, and what the guard does with it.

    redact   free text rewritten with placeholders before it leaves (message text, tool-call
             arguments, the end-user id)
    scan     text that leaves as it is (a JSON schema, stop sequences, a message's `name`,
             tool definitions, image bytes via OCR): findings there cannot be redacted, so
             they keep the request on the premises
    inert    leaves, but holds no free text (numbers, flags, enums)
    local    never leaves the machine (routing and accounting)

`FIELD_USES` names every field of every model reachable from `Request`; a test fails when a
new field appears without a use, so nothing new can be forwarded unscanned.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

from mixstack._types import (
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
    "FIELD_USES",
    "FieldUse",
    "fixed_texts",
    "message_seams",
    "redact_fields",
    "redactable_texts",
]

#: characters each side of a seam between two messages scanned together
SEAM = 96

FieldUse = Literal["redact", "scan", "inert", "local", "nested"]

#: (model class name, field) → use; `nested` fields are models listed here in turn
FIELD_USES: dict[tuple[str, str], FieldUse] = {
    ("Request", "messages"): "nested",
    ("Request", "model"): "local",  # providers send their own upstream model id
    ("Request", "workload"): "local",
    ("Request", "tools"): "nested",
    ("Request", "tool_choice"): "scan",
    ("Request", "params"): "nested",
    ("Request", "response_format"): "nested",
    ("Request", "rephrase"): "local",
    ("Request", "caller"): "local",
    ("Request", "metadata"): "redact",  # values: `user` is often the end user's email
    # fields an OpenAI-compatible endpoint receives as the client sent them (`top_k`,
    # `chat_template_kwargs`, …): any text in them leaves as it is
    ("Request", "extra"): "scan",
    ("Request", "raw_prompt"): "inert",
    ("Message", "role"): "inert",
    ("Message", "content"): "nested",
    ("Message", "tool_calls"): "nested",
    ("Message", "tool_call_id"): "scan",
    ("Message", "name"): "scan",  # providers restrict its characters: no placeholder fits
    ("TextPart", "type"): "inert",
    ("TextPart", "text"): "redact",
    ("ImagePart", "type"): "inert",
    ("ImagePart", "data"): "scan",  # read by OCR when it could leave
    ("ImagePart", "url"): "scan",
    ("ImagePart", "media_type"): "inert",
    ("ImagePart", "source"): "local",
    ("ImagePart", "detail"): "inert",
    ("ToolCall", "id"): "scan",
    ("ToolCall", "name"): "scan",
    ("ToolCall", "arguments"): "redact",
    ("Tool", "name"): "scan",
    ("Tool", "description"): "scan",
    ("Tool", "parameters"): "scan",
    ("Tool", "strict"): "inert",
    ("SamplingParams", "temperature"): "inert",
    ("SamplingParams", "top_p"): "inert",
    ("SamplingParams", "max_tokens"): "inert",
    ("SamplingParams", "stop"): "scan",  # a placeholder would change where the answer stops
    ("SamplingParams", "seed"): "inert",
    ("SamplingParams", "n"): "inert",
    ("SamplingParams", "presence_penalty"): "inert",
    ("SamplingParams", "frequency_penalty"): "inert",
    ("SamplingParams", "logit_bias"): "inert",  # token ids and numbers
    ("SamplingParams", "logprobs"): "inert",
    ("SamplingParams", "top_logprobs"): "inert",
    ("ResponseFormat", "type"): "inert",
    ("ResponseFormat", "json_schema"): "scan",
    ("ResponseFormat", "name"): "scan",
    ("ResponseFormat", "strict"): "inert",
}

#: the models whose fields `FIELD_USES` covers (what the completeness test walks)
MODELS: tuple[type[Any], ...] = (
    Request,
    Message,
    TextPart,
    ImagePart,
    ToolCall,
    Tool,
    SamplingParams,
    ResponseFormat,
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def redactable_texts(request: Request) -> Iterator[str]:
    """Every `redact` text of a request, in a stable order."""
    for message in request.messages:
        for part in message.content:
            if isinstance(part, TextPart):
                yield part.text
        for call in message.tool_calls:
            yield call.arguments
    yield from request.metadata.values()


def fixed_texts(request: Request) -> Iterator[str]:
    """Every `scan` text of a request except image bytes (OCR reads those)."""
    for message in request.messages:
        if message.name:
            yield message.name
            # names are identifiers (`jane_doe`, `jane-doe`): scanned as the words they join
            yield message.name.replace("_", " ").replace("-", " ")
        if message.tool_call_id:
            yield message.tool_call_id
        for call in message.tool_calls:
            yield call.id
            yield call.name
        for part in message.content:
            if isinstance(part, ImagePart) and part.url:
                yield part.url
    for tool in request.tools:
        yield tool.name
        yield tool.description
        yield _json(tool.parameters)
    if request.tool_choice is not None:
        choice = request.tool_choice
        yield choice if isinstance(choice, str) else _json(choice)
    yield from request.params.stop
    fmt = request.response_format
    if fmt.name:
        yield fmt.name
    if fmt.json_schema is not None:
        yield _json(fmt.json_schema)
    if request.extra:
        yield _json(request.extra)


def message_seams(request: Request) -> Iterator[tuple[str, int]]:
    """The end of each message text joined to the start of the next, and where they meet:
    texts in order, and texts of the same role in order (a split across two user messages
    with an assistant message between them)."""
    texts: list[tuple[str, str]] = [
        (m.role, p.text)
        for m in request.messages
        for p in m.content
        if isinstance(p, TextPart) and p.text
    ]
    pairs = list(itertools.pairwise(texts))
    last: dict[str, tuple[str, str]] = {}
    for i, item in enumerate(texts):
        before = last.get(item[0])
        if before is not None and (i == 0 or texts[i - 1] is not before):
            pairs.append((before, item))
        last[item[0]] = item
    for (_, before_text), (_, after_text) in pairs:
        tail, head = before_text[-SEAM:], after_text[:SEAM]
        yield tail + head, len(tail)


def redact_fields(request: Request, clean: Callable[[str], str]) -> Request:
    """The request with `clean` applied to every `redact` text (unchanged parts kept as is)."""
    messages: list[Message] = []
    for message in request.messages:
        parts = tuple(
            TextPart(text=clean(p.text)) if isinstance(p, TextPart) else p for p in message.content
        )
        calls = tuple(_clean_call(c, clean) for c in message.tool_calls)
        same = parts == message.content and calls == message.tool_calls
        messages.append(
            message if same else message.model_copy(update={"content": parts, "tool_calls": calls})
        )
    changes: dict[str, Any] = {"messages": tuple(messages)}
    if request.metadata:
        changes["metadata"] = {k: clean(v) for k, v in request.metadata.items()}
    return request.with_changes(**changes)


def _clean_call(call: ToolCall, clean: Callable[[str], str]) -> ToolCall:
    arguments = clean(call.arguments)
    return call if arguments == call.arguments else call.model_copy(update={"arguments": arguments})
