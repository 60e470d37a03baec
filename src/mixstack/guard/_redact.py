"""Reversible redaction: PII becomes stable placeholders before a request leaves the machine.

The same value always gets the same placeholder within one call (`<EMAIL_ADDRESS_1_3FA9C2>`
in every message that mentions it), so the model can still refer to it; the answer is
restored before the caller sees it, streamed answers too (a placeholder split across two
chunks is held back until it is complete).

Placeholders carry a random tag per call, so a look-alike the user typed is never replaced.
A placeholder is restored only where it stands as plain text: never inside a URL, a
Markdown link or image target, or an HTML tag, where a client that renders the answer would
send the value to whoever wrote the URL (a remote model can be told to write one).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from mixstack._types import Chunk, Request, ToolCall, ToolCallDelta
from mixstack.guard._fields import redact_fields
from mixstack.guard._pii import PiiScanner, PiiSpan, count_types

__all__ = ["ChunkRestorer", "RedactionMap", "StreamRestorer", "redact_request"]

_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")
#: what marks the text just before a placeholder as part of a URL
_URLISH = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/|www\.|mailto:|[/?=&#%@\\]")
_TAG_OPEN = re.compile(r"<[A-Za-z/!?]")
#: how much of what came before a placeholder decides whether it is plain text
_CONTEXT = 2048
#: the longest tail of a chunk that could still grow into a placeholder
_PARTIAL = re.compile(r"<[A-Z0-9_]*$")


@dataclass(slots=True)
class RedactionMap:
    """Placeholder ↔ value for one call. Lives in memory only; never stored or logged."""

    values: dict[str, str] = field(default_factory=dict)
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _next: dict[str, int] = field(default_factory=dict)
    types: list[str] = field(default_factory=list)
    tag: str = field(default_factory=lambda: secrets.token_hex(3).upper())

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        found = self._by_value.get(key)
        if found is None:
            n = self._next.get(entity, 0) + 1
            self._next[entity] = n
            found = f"<{entity}_{n}_{self.tag}>"
            self._by_value[key] = found
            self.values[found] = value
        self.types.append(entity)
        return found

    def __bool__(self) -> bool:
        return bool(self.values)

    def restore(self, text: str, before: str = "") -> str:
        """Placeholders back to their values where they stand as plain text (see above);
        `before` is the text that preceded `text` (earlier pieces of a stream)."""
        if not self.values or "<" not in text:
            return text

        def swap(match: re.Match[str]) -> str:
            value = self.values.get(match.group(0))
            if value is None:
                return match.group(0)
            context = (before + text[: match.start()])[-_CONTEXT:]
            return value if plain_text_at(context) else match.group(0)

        return _PLACEHOLDER.sub(swap, text)

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


def plain_text_at(before: str) -> bool:
    """Whether a placeholder following `before` stands as plain text (safe to restore)."""
    lt = before.rfind("<")
    if lt > before.rfind(">") and _TAG_OPEN.match(before, lt):
        return False  # inside an HTML tag: an attribute such as src= or href=
    link = before.rfind("](")
    if link != -1 and ")" not in before[link:]:
        return False  # a Markdown link or image target
    token = before.rsplit(None, 1)[-1] if before and not before[-1].isspace() else ""
    return _URLISH.search(token) is None


class StreamRestorer:
    """Restores placeholders in streamed text; feed pieces in order, then `flush()`."""

    def __init__(self, redaction: RedactionMap):
        self._map = redaction
        self._held = ""
        self._before = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        tail = _PARTIAL.search(text)
        if tail is not None and len(text) - tail.start() <= self._longest():
            self._held = text[tail.start() :]
            text = text[: tail.start()]
        else:
            self._held = ""
        return self._emit(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self._emit(text)

    def _emit(self, text: str) -> str:
        out = self._map.restore(text, self._before)
        # the context is what the model wrote (placeholders, not values)
        self._before = (self._before + text)[-_CONTEXT:]
        return out

    def _longest(self) -> int:
        return max((len(p) for p in self._map.values), default=0)


def redact_request(scanner: PiiScanner, request: Request) -> tuple[Request, RedactionMap]:
    """The request with every finding in its redactable fields replaced (`guard.fields`)."""
    redaction = RedactionMap()

    def clean(text: str) -> str:
        spans = scanner.scan(text)
        return redaction.replace(text, spans) if spans else text

    return redact_fields(request, clean), redaction


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
