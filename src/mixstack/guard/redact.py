"""Reversible redaction: PII becomes stable placeholders before a request leaves the machine.

The same value always gets the same placeholder within one call (`<EMAIL_ADDRESS_1>` in
every message that mentions it), so the model can still refer to it; the answer is
restored before the caller sees it, streamed answers too (a placeholder split across two
chunks is held back until it is complete).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mixstack.guard.pii import PiiScanner, PiiSpan, count_types
from mixstack.types import Chunk, Message, Request, TextPart, ToolCall, ToolCallDelta

__all__ = ["ChunkRestorer", "RedactionMap", "StreamRestorer", "redact_request"]

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
#: the longest tail of a chunk that could still grow into a placeholder
_PARTIAL = re.compile(r"<[A-Z0-9_]*$")


@dataclass(slots=True)
class RedactionMap:
    """Placeholder ↔ value for one call. Lives in memory only; never stored or logged."""

    values: dict[str, str] = field(default_factory=dict)
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _next: dict[str, int] = field(default_factory=dict)
    types: list[str] = field(default_factory=list)

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        found = self._by_value.get(key)
        if found is None:
            n = self._next.get(entity, 0) + 1
            self._next[entity] = n
            found = f"<{entity}_{n}>"
            self._by_value[key] = found
            self.values[found] = value
        self.types.append(entity)
        return found

    def __bool__(self) -> bool:
        return bool(self.values)

    def restore(self, text: str) -> str:
        if not self.values or "<" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(0), m.group(0)), text)

    def restore_call(self, call: ToolCall) -> ToolCall:
        restored = self.restore(call.arguments)
        return (
            call if restored == call.arguments else call.model_copy(update={"arguments": restored})
        )

    def replace(self, text: str, spans: list[PiiSpan]) -> str:
        out: list[str] = []
        last = 0
        for span in spans:
            out.append(text[last : span.start])
            out.append(self.placeholder(span.type, text[span.start : span.end]))
            last = span.end
        out.append(text[last:])
        return "".join(out)

    def counts(self) -> list[tuple[str, int]]:
        return [(c.type, c.count) for c in count_types(self.types)]


class StreamRestorer:
    """Restores placeholders in streamed text; feed pieces in order, then `flush()`."""

    def __init__(self, redaction: RedactionMap):
        self._map = redaction
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        tail = _PARTIAL.search(text)
        if tail is not None and len(text) - tail.start() <= self._longest():
            self._held = text[tail.start() :]
            text = text[: tail.start()]
        else:
            self._held = ""
        return self._map.restore(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self._map.restore(text)

    def _longest(self) -> int:
        return max((len(p) for p in self._map.values), default=0)


def redact_request(scanner: PiiScanner, request: Request) -> tuple[Request, RedactionMap]:
    """The request with every finding in its messages and tool-call arguments replaced."""
    redaction = RedactionMap()

    def clean(text: str) -> str:
        spans = scanner.scan(text)
        return redaction.replace(text, spans) if spans else text

    messages: list[Message] = []
    for message in request.messages:
        parts = tuple(
            TextPart(text=clean(p.text)) if isinstance(p, TextPart) else p for p in message.content
        )
        calls = tuple(
            c.model_copy(update={"arguments": clean(c.arguments)}) for c in message.tool_calls
        )
        same = parts == message.content and calls == message.tool_calls
        messages.append(
            message if same else message.model_copy(update={"content": parts, "tool_calls": calls})
        )
    return request.with_changes(messages=tuple(messages)), redaction


class ChunkRestorer:
    """Restores placeholders in a stream of chunks: answer text and tool-call arguments."""

    def __init__(self, redaction: RedactionMap):
        self._map = redaction
        self._text = StreamRestorer(redaction)
        self._args: dict[int, StreamRestorer] = {}

    def feed(self, chunk: Chunk) -> Chunk | None:
        """The chunk with placeholders restored; None while all it holds is incomplete."""
        changes: dict[str, object] = {}
        if chunk.text:
            changes["text"] = self._text.feed(chunk.text)
        if chunk.tool_calls:
            deltas = []
            for delta in chunk.tool_calls:
                restorer = self._args.setdefault(delta.index, StreamRestorer(self._map))
                args = restorer.feed(delta.arguments) if delta.arguments else ""
                if args or delta.id or delta.name:
                    deltas.append(delta.model_copy(update={"arguments": args}))
            changes["tool_calls"] = tuple(deltas)
        if not changes:
            return chunk
        out = chunk.model_copy(update=changes)
        if not (out.text or out.tool_calls or out.reasoning or out.finish_reason or out.usage):
            return None
        return out

    def flush(self) -> list[Chunk]:
        """What is still held back at the end of the stream."""
        out = []
        if rest := self._text.flush():
            out.append(Chunk(text=rest))
        for index, restorer in self._args.items():
            if rest := restorer.flush():
                out.append(Chunk(tool_calls=(ToolCallDelta(index=index, arguments=rest),)))
        return out
