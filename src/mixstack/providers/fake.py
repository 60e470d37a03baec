"""`fake/…` models: deterministic scripted replies (text, tool calls, errors, streaming).

A fake model is declared in the config like any other model:

    models:
      - name: fake/calc
        provider: fake
        replies:
          - when: "tool result: 42"      # matched against the last message's text
            text: "The answer is 42."
          - tool_calls: [{name: calculator, arguments: {expression: "6*7"}}]

The first reply whose `when` occurs in the last message wins; a reply without `when` is the
default. With no replies, the model echoes the last user message. Tokens are counted as
whitespace-separated words, so usage is deterministic too.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

from mixstack.config import ModelEntry, ScriptedReply
from mixstack.config.models import FakeModelConfig
from mixstack.errors import ProviderError
from mixstack.providers.base import Availability, Provider
from mixstack.types import Chunk, FinishReason, Message, Request, ToolCallDelta, Usage

__all__ = ["FakeProvider", "create_provider"]

_PIECE = re.compile(r"\S+\s*|\s+")


def _count(text: str) -> int:
    return len(text.split())


def _prompt_tokens(messages: tuple[Message, ...]) -> int:
    return sum(_count(m.text) + 1 for m in messages)


class FakeProvider(Provider):
    name = "fake"
    #: scripted answers do not sample (a seed changes nothing) and use no template (a raw
    #: prompt is a prompt like any other)
    accepts = frozenset({"seed", "prompt"})
    default_locality = "local"
    default_capabilities = ("chat", "tools", "json", "vision")

    def availability(self, model: ModelEntry) -> Availability:
        return Availability(True, "scripted")

    def count_prompt_tokens(self, model: ModelEntry, request: Request) -> int:
        return _prompt_tokens(request.messages)

    def _choose(self, cfg: FakeModelConfig, request: Request) -> ScriptedReply:
        last = request.messages[-1].text if request.messages else ""
        default: ScriptedReply | None = None
        for reply in cfg.replies:
            if reply.when is None:
                default = default or reply
            elif reply.when in last:
                return reply
        if default is not None:
            return default
        users = [m for m in request.messages if m.role == "user"]
        return ScriptedReply(text=f"echo: {users[-1].text if users else ''}")

    async def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        cfg = model.settings(FakeModelConfig)
        reply = self._choose(cfg, request)
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if reply.error is not None:
            raise ProviderError(reply.error, model=model.name)
        demands = request.tools and (
            request.tool_choice == "required" or isinstance(request.tool_choice, dict)
        )
        if demands and not reply.tool_calls:
            raise ProviderError(
                f"{model.name}'s scripted reply calls no tool although tool_choice demands "
                "one; script a reply with `tool_calls`.",
                model=model.name,
            )
        text = reply.text
        limit = request.params.max_tokens
        finish: FinishReason = "stop"
        if limit is not None and _count(text) > limit:
            text = " ".join(text.split()[:limit])
            finish = "length"
        if reply.reasoning:
            yield Chunk(reasoning=reply.reasoning)
        for piece in _PIECE.findall(text):
            yield Chunk(text=piece)
        for index, call in enumerate(reply.tool_calls):
            yield Chunk(
                tool_calls=(
                    ToolCallDelta(
                        index=index,
                        id=f"call_{index}",
                        name=str(call.get("name", "")),
                        arguments=json.dumps(call.get("arguments", {})),
                    ),
                )
            )
        if reply.tool_calls:
            finish = "tool_calls"
        yield Chunk(
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=_prompt_tokens(request.messages),
                completion_tokens=_count(text) + sum(len(c) for c in reply.tool_calls),
            ),
        )


#: the entry point's target: the class builds the provider, and the catalog reads its
#: built-in models and defaults from it without building one
create_provider = FakeProvider
