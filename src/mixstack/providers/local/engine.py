"""One loaded GGUF model, loaded once per process, and the engine that generates with it.

By default requests are decoded together by the batched engine (`batched.py`: several
slots in one llama context, continuous batching). `slots: 1` keeps the serial engine: one
llama context guarded by a lock, generation through llama-cpp-python's `create_completion`.
llama.cpp releases the GIL while it computes, so generation runs in a worker thread and
streamed tokens are handed to the event loop one by one. A cancelled consumer stops its
generation at the next token and frees its slot (or the context).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mixstack._cpu import default_threads
from mixstack.errors import InvalidRequestError, ModelUnavailableError
from mixstack.providers.local.batched import BatchedEngine, Sequence, Update
from mixstack.providers.local.grammar import grammar_for
from mixstack.providers.local.logprobs import LogprobRecorder
from mixstack.providers.local.sampling import SAMPLER_FIELDS, SamplerChain, sampler_settings
from mixstack.types import FinishReason, Message, ResponseFormat, SamplingParams

__all__ = [
    "SAMPLER_FIELDS",
    "GenerationResult",
    "Job",
    "LoadedModel",
    "close_all",
    "default_slots",
    "kv_bytes_per_token",
    "load_model",
]

T = TypeVar("T")

_LOADED: dict[tuple[str, int, int | None, bool, str, int | None], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()

#: max_tokens when the request gives none (llama.cpp's own default of 16 is too short)
DEFAULT_MAX_TOKENS = 512

#: default slots: this many, fewer when their KV caches would pass `_kv_budget()`
MAX_DEFAULT_SLOTS = 4


@dataclass(frozen=True, slots=True)
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason
    #: OpenAI-shaped logprob entries when asked for
    logprobs: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """What to generate, besides the prompt tokens."""

    params: SamplingParams
    response_format: ResponseFormat
    stop: list[str]
    extra: Mapping[str, Any]
    logprobs: bool = False
    top_logprobs: int = 0


def load_model(
    path: Path,
    *,
    n_ctx: int,
    threads: int | None,
    style: str,
    embedding: bool = False,
    lora_path: Path | None = None,
    slots: int | None = None,
) -> LoadedModel:
    """The process-wide instance for this file and context size (loaded on first use); an
    embedding instance is a second context of the same file in llama.cpp's embedding mode.
    With `lora_path`, the GGUF LoRA adapter is applied on top (its own instance). `n_ctx`
    is the context of one request (per slot); `slots=None` picks a default."""
    slots = None if embedding else slots
    # keyed by the configured threads: the default is chosen once, when the model loads
    key = (str(path), n_ctx, threads, embedding, str(lora_path or ""), slots)
    with _LOAD_LOCK:
        model = _LOADED.get(key)
        if model is None:
            if not _LOADED:
                atexit.register(close_all)
            model = LoadedModel(
                path,
                n_ctx=n_ctx,
                n_threads=threads or default_threads(),
                style=style,
                embedding=embedding,
                lora_path=lora_path,
                slots=1 if embedding else slots,
            )
            _LOADED[key] = model
        return model


class LoadedModel:
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on this model's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int,
        n_threads: int,
        style: str,
        embedding: bool = False,
        lora_path: Path | None = None,
        slots: int | None = 1,
    ):
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF file {str(path)!r} not found; check `path:`.")
        if lora_path is not None and not lora_path.is_file():
            raise ModelUnavailableError(
                f"LoRA adapter {str(lora_path)!r} not found; check `lora_path:` (or re-export "
                "the tuned model with `mixstack tune export`)."
            )
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        _route_llama_log()

        # embedding mode: one mean-pooled vector per input, whatever the GGUF declares
        pooling: dict[str, Any] = (
            {"embedding": True, "pooling_type": LLAMA_POOLING_TYPE_MEAN} if embedding else {}
        )
        batched = slots != 1
        try:
            self.llama = Llama(
                model_path=str(path),
                # the batched engine has a context of its own: this one only tokenizes
                n_ctx=_TOKENIZER_CONTEXT if batched else n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
                lora_path=None if lora_path is None else str(lora_path),
                **pooling,
            )
        except (ValueError, RuntimeError) as exc:
            if lora_path is not None:
                raise ModelUnavailableError(
                    f"{path} with the LoRA adapter {lora_path} could not be loaded: {exc}; "
                    "the adapter must be a GGUF LoRA made for this base model (re-export it "
                    "with `mixstack tune export`)."
                ) from exc
            raise ModelUnavailableError(
                f"{path} could not be loaded as a GGUF model (corrupt or truncated?): {exc}; "
                "reinstall the package that provides it or point `path:` at a valid file."
            ) from exc
        self.path = path
        self.style = style
        # llama.cpp may pad the context it allocates; the buffers follow the requested size
        self.n_ctx = min(n_ctx, self.llama.n_ctx())
        self.lock = threading.Lock()
        # every llama.cpp call of this context runs on one dedicated thread: handing the
        # context from thread to thread (a shared pool) slows generation down severalfold
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixstack-llama")
        self._formatter = self._chat_formatter() if style == "chat" and not embedding else None
        self.batcher: BatchedEngine | None = None
        if batched:
            count = slots or default_slots(self.llama, n_ctx)
            self.batcher = BatchedEngine(
                self.llama._model.model,
                slots=count,
                slot_context=n_ctx,
                n_threads=n_threads,
                name=path.name,
                # the adapter llama-cpp-python loaded for its context serves this one too
                lora=getattr(self.llama, "_lora_adapter", None),
            )
            self.n_ctx = min(n_ctx, self.batcher.slot_context)

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelUnavailableError(
                f"{self.path.name} has no chat template in its metadata; "
                "declare it with `style: completion` in the config."
            )
        model = self.llama._model
        return Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(self.llama.token_eos()),
            bos_token=model.token_get_text(self.llama.token_bos()),
        )

    # -- prompt -------------------------------------------------------------------------

    def render(self, messages: tuple[Message, ...]) -> tuple[str, list[str]]:
        """The prompt text and the stop strings it implies."""
        for m in messages:
            if m.images:
                raise InvalidRequestError(
                    f"{self.path.name} is text-only and the request still holds an image; "
                    "send images to a vision model or let the pipeline OCR them."
                )
        if self._formatter is None:
            return _completion_prompt(messages)
        result = self._formatter(messages=[_as_template_message(m) for m in messages])
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return result.prompt, [s for s in stop if s]

    def tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Unit-length vectors of `texts` (an embedding-mode instance) and the tokens read."""
        tokens = sum(self.count_tokens(t) for t in texts)
        with self.lock:
            vectors: Any = self.llama.embed(texts, normalize=True, truncate=True)
        return [list(map(float, v)) for v in vectors], tokens

    # -- generation ---------------------------------------------------------------------

    def _max_new(self, tokens: list[int], job: Job) -> int:
        room = self.n_ctx - len(tokens)
        wanted = job.params.max_tokens or DEFAULT_MAX_TOKENS
        return max(1, min(wanted, room))

    def _kwargs(
        self,
        tokens: list[int],
        job: Job,
        cancel: threading.Event,
        recorder: LogprobRecorder | None = None,
    ) -> dict[str, Any]:
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        kwargs: dict[str, Any] = {
            "prompt": tokens,
            "max_tokens": self._max_new(tokens, job),
            "stop": [*job.stop, *job.params.stop],
            "stopping_criteria": StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()]),
            **sampler_settings(job.params, dict(job.extra)),
        }
        if recorder is not None:
            kwargs["logits_processor"] = LogitsProcessorList([recorder])
        grammar = grammar_for(job.response_format)
        if grammar is not None:
            kwargs["grammar"] = grammar
        return kwargs

    async def agenerate(self, tokens: list[int], job: Job) -> GenerationResult:
        """The whole answer; leaving early (cancellation) stops generation at once."""
        if self.batcher is None:
            cancel = threading.Event()
            try:
                return await self.run(self.generate, tokens, job, cancel)
            finally:
                cancel.set()
        pieces: list[str] = []
        last = Update()
        async for update in self._batched(tokens, job):
            pieces.append(update.text)
            last = update
        return GenerationResult(
            text="".join(pieces),
            prompt_tokens=len(tokens),
            completion_tokens=last.completion_tokens,
            finish_reason=last.finish or "stop",
            logprobs=last.logprobs,
        )

    async def _batched(self, tokens: list[int], job: Job) -> AsyncIterator[Update]:
        """The updates of one sequence of the batched engine, ending with its finish."""
        assert self.batcher is not None
        if not tokens:
            raise InvalidRequestError("the prompt is empty; send at least one token of text.")
        chain = await self.run(self._chain, job)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Update | BaseException] = asyncio.Queue()

        def emit(item: Update | BaseException) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        sequence = Sequence(
            tokens=tokens,
            chain=chain,
            stops=[*job.stop, *job.params.stop],
            max_new=self._max_new(tokens, job),
            emit=emit,
            recorder=LogprobRecorder(self, job.top_logprobs) if job.logprobs else None,
        )
        self.batcher.submit(sequence)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish is not None:
                    return
        finally:
            sequence.cancel()  # the consumer left early (or finished): free the slot

    def _chain(self, job: Job) -> SamplerChain:
        model = self.llama._model
        return SamplerChain(
            model.model,
            model.vocab,
            sampler_settings(job.params, dict(job.extra)),
            job.response_format,
        )

    def generate(self, tokens: list[int], job: Job, cancel: threading.Event) -> GenerationResult:
        recorder = LogprobRecorder(self, job.top_logprobs) if job.logprobs else None
        kwargs = self._kwargs(tokens, job, cancel, recorder)
        with self.lock:
            out: Any = self.llama.create_completion(**kwargs)
        choice = out["choices"][0]
        usage = out["usage"]
        return GenerationResult(
            text=choice["text"],
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            finish_reason=_finish(choice.get("finish_reason")),
            logprobs=recorder.entries(choice["text"]) if recorder is not None else None,
        )

    async def stream(
        self, tokens: list[int], job: Job
    ) -> AsyncIterator[tuple[str, FinishReason | None]]:
        """Yields (text, None) per token, then ("", finish_reason)."""
        if self.batcher is not None:
            async for update in self._batched(tokens, job):
                if update.text:
                    yield update.text, None
                if update.finish is not None:
                    yield "", update.finish
            return
        cancel = threading.Event()
        kwargs = self._kwargs(tokens, job, cancel)
        kwargs["stream"] = True
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, FinishReason | None] | BaseException] = asyncio.Queue()

        def work() -> None:
            put: Callable[[Any], None] = queue.put_nowait
            finish: FinishReason = "stop"
            try:
                with self.lock:
                    chunks: Iterator[Any] = self.llama.create_completion(**kwargs)  # type: ignore[assignment]
                    try:
                        for chunk in chunks:
                            choice = chunk["choices"][0]
                            if choice["text"]:
                                loop.call_soon_threadsafe(put, (choice["text"], None))
                            if choice.get("finish_reason"):
                                finish = _finish(choice["finish_reason"])
                            if cancel.is_set():
                                break
                    finally:
                        close = getattr(chunks, "close", None)
                        if close is not None:
                            close()
                loop.call_soon_threadsafe(put, ("", finish))
            except BaseException as exc:  # handed to the consumer, re-raised there
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(put, exc)

        worker = loop.run_in_executor(self.executor, work)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item[1] is not None:
                    break
        finally:
            cancel.set()
            with contextlib.suppress(BaseException):
                await asyncio.shield(worker)


#: ggml's log levels (DEBUG 1, INFO 2, WARN 3, ERROR 4; 5 continues the last line)
_GGML_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.INFO, 4: logging.WARNING}
_llama_log = logging.getLogger("mixstack.llama")


@functools.cache
def _route_llama_log() -> Any:
    """llama.cpp's log into the `mixstack.llama` logger. llama-cpp-python reads ggml's levels
    off by one, so with `verbose=False` it still printed warnings on stderr (Gemma's "using
    full-size SWA cache" on every command) and never its errors. Here its warnings are
    info and its errors warnings (shown on stderr: a failure follows them). Installed once;
    the cache keeps the callback alive, as ctypes needs for as long as llama.cpp may call."""
    import ctypes

    import llama_cpp

    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, _user_data: Any) -> None:
        if level != 5:
            last[0] = _GGML_LEVELS.get(level, logging.DEBUG)
        message = text.decode("utf-8", "replace").rstrip()
        if message:
            _llama_log.log(last[0], message)

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return callback


def close_all() -> None:
    """Free llama contexts before interpreter shutdown tears down the modules they need."""
    with _LOAD_LOCK:
        for model in _LOADED.values():
            if model.batcher is not None:
                with contextlib.suppress(Exception):
                    model.batcher.close()
            with contextlib.suppress(Exception):
                model.llama.close()
            model.executor.shutdown(wait=False)
        _LOADED.clear()


def _finish(reason: Any) -> FinishReason:
    return "length" if reason == "length" else "stop"


def _as_template_message(message: Message) -> dict[str, str]:
    text = message.text
    if message.role == "tool":
        label = f" ({message.name})" if message.name else ""
        return {"role": "user", "content": f"Tool result{label}:\n{text}"}
    if message.role == "assistant" and message.tool_calls:
        calls = [{"name": c.name, "arguments": c.parsed_arguments()} for c in message.tool_calls]
        text = (text + "\n" if text else "") + json.dumps({"tool_calls": calls})
    return {"role": message.role, "content": text}


def _completion_prompt(messages: tuple[Message, ...]) -> tuple[str, list[str]]:
    """A base model has no chat template: a lone prompt is used as is, else a plain transcript."""
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].text, []
    lines: list[str] = []
    for m in messages:
        if m.role == "system":
            lines.append(m.text + "\n")
        else:
            speaker = {"user": "User", "assistant": "Assistant", "tool": "Tool"}[m.role]
            lines.append(f"{speaker}: {m.text}")
    lines.append("Assistant:")
    return "\n".join(lines), ["\nUser:"]


#: context of the instance that only tokenizes for the batched engine (llama.cpp's minimum)
_TOKENIZER_CONTEXT = 256


def _kv_budget() -> int:
    """Bytes the default slots' KV caches may take: an eighth of RAM, at most 2 GiB."""
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    return int(min(ram // 8, 2 << 30))


def kv_bytes_per_token(llama: Any) -> int:
    """f16 keys and values of one token, all layers (llama.cpp's default cache types)."""
    import llama_cpp as lc

    model = llama._model.model
    meta = llama.metadata
    arch = meta.get("general.architecture", "")
    n_head = max(1, lc.llama_model_n_head(model))
    k = int(meta.get(f"{arch}.attention.key_length", lc.llama_model_n_embd(model) // n_head))
    v = int(meta.get(f"{arch}.attention.value_length", k))
    layers = int(lc.llama_model_n_layer(model))
    return 2 * layers * int(lc.llama_model_n_head_kv(model)) * (k + v)


def default_slots(llama: Any, slot_context: int) -> int:
    """As many slots as fit the KV budget at the full context each, between 1 and 4."""
    per_slot = max(1, kv_bytes_per_token(llama) * slot_context)
    return max(1, min(MAX_DEFAULT_SLOTS, _kv_budget() // per_slot))
