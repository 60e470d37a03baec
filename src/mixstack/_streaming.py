"""Fold a stream of chunks back into one answer (text, tool calls, finish reason, usage)."""

from __future__ import annotations

from typing import Any

from mixstack._types import Chunk, FinishReason, ToolCall, Usage

__all__ = ["StreamAccumulator"]


class StreamAccumulator:
    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self._logprobs: list[dict[str, Any]] = []

    def add(self, chunk: Chunk) -> None:
        if chunk.text:
            self._text.append(chunk.text)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        for delta in chunk.tool_calls:
            slot = self._calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] = delta.id or slot["id"]
            slot["name"] = delta.name or slot["name"]
            slot["arguments"] += delta.arguments
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.logprobs:
            self._logprobs.extend(chunk.logprobs)

    @property
    def logprobs(self) -> dict[str, Any] | None:
        return {"content": list(self._logprobs)} if self._logprobs else None

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str | None:
        return "".join(self._reasoning) or None

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}")
            for i, c in sorted(self._calls.items())
        )
