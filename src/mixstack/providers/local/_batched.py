"""Continuous batching: the requests to one in-process model decoded together, step by step.

One llama context holds `slots` sequences, each in its own KV-cache stream (llama.cpp's
non-unified cache), so a sequence's attention reads only its own cells and its numbers do
not depend on its neighbours: greedy output is the same alone or in a batch as long as the
model's matrix kernels compute a row alike whatever the number of rows in the step (SmolLM2,
Q4_1: bit for bit, tested). Gemma 3's Q4_K_M file does not: llama.cpp's CPU product of its
attention output projection (Q4_K) already rounds differently with 6 rows than with 12, so
its greedy answers can part after some tokens in a batch (measured). A scheduler
thread owns the context. Each step it admits waiting requests into free slots, puts one
token of every decoding sequence and a chunk of prompt (so a long prompt never stalls the
others for long) into one `llama_batch`, decodes, and samples every sequence that produced
logits with that sequence's own sampler chain. Finished and cancelled sequences leave at
once; a slot keeps its cache, so a later prompt sharing its prefix skips that part.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixstack._types import FinishReason
from mixstack.errors import ModelUnavailableError, ProviderError
from mixstack.providers.local._logprobs import LogprobRecorder
from mixstack.providers.local._sampling import SamplerChain
from mixstack.providers.local._stops import StopScanner

__all__ = ["BatchedEngine", "Sequence", "Update"]

log = logging.getLogger("mixstack.local")

#: tokens one step may decode (llama.cpp's logical and physical batch)
BATCH_TOKENS = 512
#: prompt tokens per step while other sequences are decoding: a long prompt is read in
#: chunks this size, so the others keep producing tokens meanwhile
PREFILL_CHUNK = 128


@dataclass(frozen=True, slots=True)
class Update:
    """What a sequence produced: text to show, then once a finish reason and totals."""

    text: str = ""
    finish: FinishReason | None = None
    completion_tokens: int = 0
    logprobs: list[dict[str, Any]] | None = None


@dataclass(eq=False, slots=True)
class Sequence:
    """One request in flight; `cancel()` (any thread) makes it leave at the next step."""

    tokens: list[int]
    chain: SamplerChain
    stops: list[str]
    max_new: int
    emit: Callable[[Update | BaseException], None]
    recorder: LogprobRecorder | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    slot: _Slot | None = None
    prefilled: int = 0
    pending: int | None = None
    generated: list[int] = field(default_factory=list)
    scanner: StopScanner = field(init=False)

    def __post_init__(self) -> None:
        self.scanner = StopScanner(self.stops)

    def cancel(self) -> None:
        self.cancelled.set()


@dataclass(eq=False, slots=True)
class _Slot:
    seq_id: int
    #: tokens whose keys and values sit in this slot's cache, position by position
    cached: list[int] = field(default_factory=list)
    busy: bool = False


class BatchedEngine:
    """The scheduler of one model's batched context."""

    def __init__(
        self,
        model: Any,
        *,
        slots: int,
        slot_context: int,
        n_threads: int,
        name: str,
        lora: Any = None,
    ):
        import llama_cpp as lc

        self._lc = lc
        params = lc.llama_context_default_params()
        params.n_ctx = slots * slot_context
        params.n_batch = BATCH_TOKENS
        params.n_ubatch = BATCH_TOKENS
        params.n_seq_max = slots
        # one cache stream per slot: what makes a sequence's numbers independent of the batch
        params.kv_unified = False
        # as the serial engine (llama-cpp-python's default), so both compute the same logits
        params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.no_perf = True
        from llama_cpp._utils import suppress_stdout_stderr

        # llama.cpp prints its context set-up unasked, as `Llama(verbose=False)` hides it
        with suppress_stdout_stderr(disable=False):
            self._ctx = lc.llama_init_from_model(model, params)
        if not self._ctx:
            raise ModelUnavailableError(
                f"{name}: llama.cpp could not create a context of {slots} slots x "
                f"{slot_context} tokens (out of memory?); lower `slots` or `slot_context`."
            )
        if lora is not None:
            adapters: Any = (lc.llama_adapter_lora_p_ctypes * 1)(lora)
            scales: Any = (ctypes.c_float * 1)(1.0)
            if lc.llama_set_adapters_lora(self._ctx, adapters, 1, scales):
                lc.llama_free(self._ctx)
                raise ModelUnavailableError(
                    f"{name}: llama.cpp could not apply the LoRA adapter to the batched "
                    "context; check `lora_path:` or set `slots: 1`."
                )
        self._mem = lc.llama_get_memory(self._ctx)
        self._vocab = lc.llama_model_get_vocab(model)
        self._n_vocab = lc.llama_vocab_n_tokens(self._vocab)
        self.slot_context = lc.llama_n_ctx_seq(self._ctx)
        self._batch = lc.llama_batch_init(BATCH_TOKENS, 0, 1)
        self._slots = [_Slot(i) for i in range(slots)]
        self._waiting: deque[Sequence] = deque()
        self._running: list[Sequence] = []
        self._cond = threading.Condition()
        self._closed = False
        self._failure: BaseException | None = None
        self._piece = ctypes.create_string_buffer(256)
        self._thread = threading.Thread(target=self._loop, name="mixstack-batch", daemon=True)
        self._thread.start()

    @property
    def slots(self) -> int:
        return len(self._slots)

    def submit(self, sequence: Sequence) -> None:
        """Queue a sequence; it joins the batch at the next step with a free slot."""
        with self._cond:
            if self._failure is not None or self._closed:
                sequence.chain.close()
                raise ProviderError(f"the batched engine stopped: {self._failure or 'closed'}")
            self._waiting.append(sequence)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)
        if self._thread.is_alive():  # a decode that never returns: leak rather than crash
            return
        self._lc.llama_batch_free(self._batch)
        self._lc.llama_free(self._ctx)

    # -- the scheduler thread -----------------------------------------------------------

    def _loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._closed and not self._waiting and not self._running:
                        self._cond.wait()
                    if self._closed:
                        break
                    self._admit()
                self._step()
        except BaseException as exc:  # a bug or a broken library: fail every request, loudly
            log.exception("batched engine stopped")
            with self._cond:
                self._failure = exc
                everyone = [*self._running, *self._waiting]
                self._running.clear()
                self._waiting.clear()
            for seq in everyone:
                self._send(seq, ProviderError(f"the local batched engine failed: {exc!r}"))
                seq.chain.close()
        finally:
            with self._cond:
                left = [*self._running, *self._waiting]
            for seq in left:
                self._send(seq, ProviderError("the local model was unloaded mid-generation"))

    def _admit(self) -> None:
        """Move waiting sequences into free slots (the one sharing the longest prefix)."""
        for seq in [s for s in self._waiting if s.cancelled.is_set()]:
            self._waiting.remove(seq)
            seq.chain.close()
        free = [s for s in self._slots if not s.busy]
        while self._waiting and free:
            seq = self._waiting.popleft()
            slot = max(free, key=lambda s: _common_prefix(s.cached, seq.tokens))
            free.remove(slot)
            # keep the shared prefix, but always decode the prompt's last token: its logits
            # are needed to sample the first answer token
            keep = min(_common_prefix(slot.cached, seq.tokens), len(seq.tokens) - 1)
            self._lc.llama_memory_seq_rm(self._mem, slot.seq_id, keep, -1)
            del slot.cached[keep:]
            slot.busy = True
            seq.slot = slot
            seq.prefilled = keep
            self._running.append(seq)

    def _step(self) -> None:
        for seq in [s for s in self._running if s.cancelled.is_set()]:
            self._leave(seq)
        outputs = self._fill()
        if not self._batch.n_tokens:  # everyone left
            return
        rc = self._lc.llama_decode(self._ctx, self._batch)
        if rc != 0:
            self._decode_failed(rc)
            return
        for seq, index in outputs:
            self._sample(seq, index)

    def _fill(self) -> list[tuple[Sequence, int]]:
        """This step's batch: each decoding sequence's next token, then prompt chunks."""
        batch = self._batch
        batch.n_tokens = 0
        outputs: list[tuple[Sequence, int]] = []
        decoding = [s for s in self._running if s.pending is not None]
        for seq in decoding:
            assert seq.slot is not None
            assert seq.pending is not None
            outputs.append((seq, self._add(seq.slot, seq.pending, logits=True)))
            seq.pending = None
        budget = BATCH_TOKENS - len(decoding)
        if decoding:
            budget = min(budget, PREFILL_CHUNK)
        for seq in self._running:
            if budget <= 0:
                break
            if seq.prefilled >= len(seq.tokens) or seq in decoding:
                continue
            assert seq.slot is not None
            take = seq.tokens[seq.prefilled : seq.prefilled + budget]
            seq.prefilled += len(take)
            budget -= len(take)
            done = seq.prefilled == len(seq.tokens)
            for i, token in enumerate(take):
                index = self._add(seq.slot, token, logits=done and i == len(take) - 1)
            if done:
                outputs.append((seq, index))
        return outputs

    def _add(self, slot: _Slot, token: int, *, logits: bool) -> int:
        batch = self._batch
        i: int = batch.n_tokens
        batch.token[i] = token
        batch.pos[i] = len(slot.cached)
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = slot.seq_id
        batch.logits[i] = logits
        batch.n_tokens = i + 1
        slot.cached.append(token)
        return i

    def _sample(self, seq: Sequence, index: int) -> None:
        if seq.cancelled.is_set():
            self._leave(seq)
            return
        lc = self._lc
        if seq.recorder is not None:
            row = np.ctypeslib.as_array(
                lc.llama_get_logits_ith(self._ctx, index), shape=(self._n_vocab,)
            )
            seq.recorder(np.asarray(seq.tokens + seq.generated, dtype=np.intc), row)
        token = seq.chain.sample(self._ctx, index)
        if lc.llama_vocab_is_eog(self._vocab, token):
            self._finish(seq, "stop")
            return
        seq.generated.append(token)
        assert seq.slot is not None
        text = seq.scanner.feed(self._token_bytes(token))
        if text:
            self._send(seq, Update(text=text))
        if seq.scanner.stopped:
            self._finish(seq, "stop")
        elif len(seq.generated) >= seq.max_new or len(seq.slot.cached) >= self.slot_context:
            self._finish(seq, "length")
        else:
            seq.pending = token

    def _token_bytes(self, token: int) -> bytes:
        n = self._lc.llama_token_to_piece(self._vocab, token, self._piece, 256, 0, False)
        if n < 0:  # a piece longer than the buffer: llama.cpp says how long
            buf = ctypes.create_string_buffer(-n)
            n = self._lc.llama_token_to_piece(self._vocab, token, buf, -n, 0, False)
            return buf.raw[:n]
        return self._piece.raw[:n]

    def _finish(self, seq: Sequence, reason: FinishReason) -> None:
        tail = seq.scanner.flush()
        logprobs = seq.recorder.entries(seq.scanner.text) if seq.recorder is not None else None
        self._send(
            seq,
            Update(
                text=tail,
                finish=reason,
                completion_tokens=len(seq.generated),
                logprobs=logprobs,
            ),
        )
        self._leave(seq)

    def _leave(self, seq: Sequence) -> None:
        """Free the slot (its cache stays for a later prompt sharing the prefix)."""
        if seq in self._running:
            self._running.remove(seq)
        if seq.slot is not None:
            seq.slot.busy = False
        seq.chain.close()

    def _decode_failed(self, rc: int) -> None:
        # every running sequence had tokens in the failed batch or depends on a cache it
        # may have half-written
        for seq in list(self._running):
            if seq.slot is not None:
                # the failed step may have left part of the batch in the cache: start clean
                self._lc.llama_memory_seq_rm(self._mem, seq.slot.seq_id, -1, -1)
                seq.slot.cached.clear()
            self._send(
                seq,
                ProviderError(f"llama_decode failed (code {rc}); retry the request."),
            )
            self._leave(seq)

    def _send(self, seq: Sequence, item: Update | BaseException) -> None:
        try:
            seq.emit(item)
        except RuntimeError:  # the caller's event loop is gone: nobody is listening
            seq.cancel()


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
