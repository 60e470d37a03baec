"""OpenAI `tools` on in-process models: the text tool-call protocol, held by a grammar.

The transcript is rewritten into the protocol (a system prompt listing the tools, past calls
as `{"tool": …, "arguments": …}`, tool results as user turns), the turn is constrained by a
JSON-schema grammar that encodes `tool_choice` (`auto`: any tool or an answer; `required`:
a tool; a named function: that tool), and the reply comes back as real `tool_calls`.
"""

from __future__ import annotations

import json
import random
from typing import Any

from mixstack._toolcalls import (
    NEXT_STEP,
    ParseError,
    parse_turn,
    protocol_system_prompt,
    tool_call_schema,
    turn_schema,
)
from mixstack._types import Message, Request, ResponseFormat, Tool, ToolCall
from mixstack.errors import InvalidRequestError, ProviderError

__all__ = ["ToolTurn", "protocol_request", "read_turn", "uses_tools"]


def uses_tools(request: Request) -> bool:
    """Whether the model must answer through the tool protocol."""
    return bool(request.tools) and request.tool_choice != "none"


def _named(request: Request) -> Tool | None:
    choice = request.tool_choice
    if not isinstance(choice, dict):
        return None
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    for tool in request.tools:
        if tool.name == name:
            return tool
    raise InvalidRequestError(
        f"tool_choice names the function {name!r}, which is not among `tools` "
        f"({', '.join(t.name for t in request.tools)}); name one of them.",
        param="tool_choice",
    )


def _schema(request: Request) -> dict[str, Any]:
    named = _named(request)
    if named is not None:
        return tool_call_schema(named)
    if request.tool_choice == "required":
        options = [tool_call_schema(t) for t in request.tools]
        return options[0] if len(options) == 1 else {"anyOf": options}
    return turn_schema(list(request.tools))


def _transcript(messages: tuple[Message, ...]) -> list[Message]:
    """Past turns in the protocol's own terms, so the model sees the pattern it must follow."""
    names: dict[str, str] = {}
    out: list[Message] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "assistant":
            turns = []
            for call in m.tool_calls:
                names[call.id] = call.name
                turns.append(json.dumps({"tool": call.name, "arguments": _args(call)}))
            if not turns:
                turns.append(json.dumps({"answer": m.text}, ensure_ascii=False))
            out.append(Message.assistant("\n".join(turns)))
        elif m.role == "tool":
            name = m.name or names.get(m.tool_call_id or "", "tool")
            out.append(Message.user(f"Tool result ({name}): {m.text}\n{NEXT_STEP}"))
        else:
            out.append(m)
    return out


def _args(call: ToolCall) -> Any:
    try:
        return json.loads(call.arguments or "{}")
    except ValueError:
        return call.arguments


def protocol_request(request: Request) -> Request:
    """The request as the model sees it: protocol prompt, rewritten turns, turn grammar."""
    instructions = "\n\n".join(m.text for m in request.messages if m.role == "system")
    task = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
    prompt = protocol_system_prompt(list(request.tools), instructions, task=task)
    system = Message.system(prompt)
    return request.with_changes(
        messages=(system, *_transcript(request.messages)),
        tools=(),
        tool_choice=None,
        response_format=ResponseFormat(type="json_schema", json_schema=_schema(request)),
    )


class ToolTurn:
    """One reply read back: an answer text, or tool calls."""

    def __init__(self, text: str, calls: tuple[ToolCall, ...]):
        self.text = text
        self.calls = calls


def read_turn(model: str, request: Request, reply: str) -> ToolTurn:
    """The reply of a protocol turn as OpenAI would give it (text, or `tool_calls`)."""
    try:
        turn = parse_turn(reply, [t.name for t in request.tools])
    except ParseError as exc:
        raise ProviderError(
            f"{model} answered the tool turn with unreadable JSON ({exc}); raise max_tokens "
            "or retry.",
            model=model,
        ) from exc
    if turn.tool is None:
        if request.tool_choice == "required" or isinstance(request.tool_choice, dict):
            raise ProviderError(
                f"{model} did not call a tool although tool_choice demands one; retry.",
                model=model,
            )
        return ToolTurn(turn.answer or "", ())
    call = ToolCall(
        id=f"call_{random.getrandbits(64):016x}",
        name=turn.tool,
        arguments=json.dumps(turn.arguments, ensure_ascii=False),
    )
    return ToolTurn("", (call,))
