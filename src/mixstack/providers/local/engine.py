"""One loaded GGUF model: loaded once per process, one llama context guarded by a lock.

llama.cpp releases the GIL while it computes, so generation runs in a worker thread and
streamed tokens are handed to the event loop one by one. A cancelled consumer sets an
event that stops generation at the next token and frees the context.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mixstack.errors import InvalidRequestError, ModelUnavailableError
from mixstack.providers.local.logprobs import LogprobRecorder
from mixstack.types import FinishReason, Message, ResponseFormat, SamplingParams

__all__ = [
    "SAMPLER_FIELDS",
    "GenerationResult",
    "Job",
    "LoadedModel",
    "close_all",
    "load_model",
]

T = TypeVar("T")

_LOADED: dict[tuple[str, int, int, bool, str], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()

#: max_tokens when the request gives none (llama.cpp's own default of 16 is too short)
DEFAULT_MAX_TOKENS = 512


#: endpoint-style sampler fields (`extra_body`) llama.cpp honours, by its own name
SAMPLER_FIELDS = {
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "repetition_penalty": "repeat_penalty",
    "repeat_penalty": "repeat_penalty",
    "tfs_z": "tfs_z",
    "mirostat_mode": "mirostat_mode",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
}


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
) -> LoadedModel:
    """The process-wide instance for this file and context size (loaded on first use); an
    embedding instance is a second context of the same file in llama.cpp's embedding mode.
    With `lora_path`, the GGUF LoRA adapter is applied on top (its own instance)."""
    n_threads = threads or os.cpu_count() or 1
    key = (str(path), n_ctx, n_threads, embedding, str(lora_path or ""))
    with _LOAD_LOCK:
        model = _LOADED.get(key)
        if model is None:
            if not _LOADED:
                atexit.register(close_all)
            model = LoadedModel(
                path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                style=style,
                embedding=embedding,
                lora_path=lora_path,
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
    ):
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF file {str(path)!r} not found; check `path:`.")
        if lora_path is not None and not lora_path.is_file():
            raise ModelUnavailableError(
                f"LoRA adapter {str(lora_path)!r} not found; check `lora_path:` (or re-export "
                "the tuned model with `mixstack tune export`)."
            )
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        # embedding mode: one mean-pooled vector per input, whatever the GGUF declares
        pooling: dict[str, Any] = (
            {"embedding": True, "pooling_type": LLAMA_POOLING_TYPE_MEAN} if embedding else {}
        )
        try:
            self.llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
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

    def _kwargs(
        self,
        tokens: list[int],
        job: Job,
        cancel: threading.Event,
        recorder: LogprobRecorder | None = None,
    ) -> dict[str, Any]:
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        params = job.params
        room = self.n_ctx - len(tokens)
        wanted = params.max_tokens or DEFAULT_MAX_TOKENS
        kwargs: dict[str, Any] = {
            "prompt": tokens,
            "max_tokens": max(1, min(wanted, room)),
            "stop": [*job.stop, *params.stop],
            "stopping_criteria": StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()]),
        }
        for name, value in (
            ("temperature", params.temperature),
            ("top_p", params.top_p),
            ("seed", params.seed),
            ("presence_penalty", params.presence_penalty),
            ("frequency_penalty", params.frequency_penalty),
            ("logit_bias", params.logit_bias),
        ):
            if value is not None:
                kwargs[name] = value
        for name, value in job.extra.items():
            if name in SAMPLER_FIELDS:
                kwargs[SAMPLER_FIELDS[name]] = value
        if recorder is not None:
            kwargs["logits_processor"] = LogitsProcessorList([recorder])
        grammar = _grammar(job.response_format)
        if grammar is not None:
            kwargs["grammar"] = grammar
        return kwargs

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


def close_all() -> None:
    """Free llama contexts before interpreter shutdown tears down the modules they need."""
    with _LOAD_LOCK:
        for model in _LOADED.values():
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


def _grammar(response_format: ResponseFormat) -> Any:
    if response_format.type == "text":
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if response_format.type == "json_schema" and response_format.json_schema:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        schema = response_format.json_schema.get("schema", response_format.json_schema)
        gbnf = json_schema_to_gbnf(json.dumps(schema))
        # the converter's string characters admit raw control characters, which no JSON
        # parser accepts inside a string: exclude them as the json_object grammar does
        gbnf = gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)
        return LlamaGrammar.from_string(gbnf, verbose=False)
    return LlamaGrammar.from_string(JSON_GBNF, verbose=False)


_LOOSE_CHAR = r'char ::= [^"\\] |'
_STRICT_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'
