"""One sequence's sampling in the batched engine: a llama.cpp sampler chain of its own.

The chain is built in the order llama-cpp-python's `Llama` builds it for the serial engine
(logit bias, penalties, grammar, then greedy / mirostat / top-k, typical, top-p, min-p,
temperature and a seeded draw), with the same defaults, so a request samples alike on both
engines. Each chain keeps its own grammar state, penalty window and random generator, so
sequences decoded in one batch never share sampling state.
"""

from __future__ import annotations

import ctypes
import random
from typing import Any

from mixstack._types import ResponseFormat, SamplingParams
from mixstack.providers.local._grammar import grammar_for

__all__ = ["SAMPLER_FIELDS", "SamplerChain", "sampler_settings"]

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

#: llama-cpp-python's `create_completion` defaults, which the serial engine inherits
_DEFAULTS: dict[str, Any] = {
    "temperature": 0.8,
    "top_p": 0.95,
    "min_p": 0.05,
    "typical_p": 1.0,
    "top_k": 40,
    "repeat_penalty": 1.0,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
    "mirostat_mode": 0,
    "mirostat_tau": 5.0,
    "mirostat_eta": 0.1,
}

#: tokens the repetition penalties look back over (`Llama(last_n_tokens_size=64)`)
_PENALTY_LAST_N = 64


def sampler_settings(params: SamplingParams, extra: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling fields in llama.cpp's names (only those it sets)."""
    settings: dict[str, Any] = {}
    for name, value in (
        ("temperature", params.temperature),
        ("top_p", params.top_p),
        ("seed", params.seed),
        ("presence_penalty", params.presence_penalty),
        ("frequency_penalty", params.frequency_penalty),
        ("logit_bias", params.logit_bias),
    ):
        if value is not None:
            settings[name] = value
    for name, value in extra.items():
        if name in SAMPLER_FIELDS:
            settings[SAMPLER_FIELDS[name]] = value
    return settings


class SamplerChain:
    """A llama.cpp sampler chain for one sequence; `close()` frees it."""

    def __init__(
        self,
        model: Any,
        vocab: Any,
        settings: dict[str, Any],
        response_format: ResponseFormat,
    ):
        import llama_cpp as lc

        self._lc = lc
        self._chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        s = {**_DEFAULTS, **settings}
        n_vocab = lc.llama_vocab_n_tokens(vocab)
        # an unseeded request gets a fresh draw each time, as `create_completion` does
        seed = s["seed"] if s.get("seed") is not None else random.getrandbits(32)
        bias = s.get("logit_bias") or {}
        if bias:
            entries: Any = (lc.llama_logit_bias * len(bias))()
            for i, (token, value) in enumerate(bias.items()):
                entries[i].token = int(token)
                entries[i].bias = float(value)
            self._add(lc.llama_sampler_init_logit_bias(n_vocab, len(bias), entries))
        self._add(
            lc.llama_sampler_init_penalties(
                n_vocab,
                _PENALTY_LAST_N,
                float(s["repeat_penalty"]),
                float(s["frequency_penalty"]),
                float(s["presence_penalty"]),
            )
        )
        grammar = grammar_for(response_format)
        if grammar is not None:
            self._add(
                lc.llama_sampler_init_grammar(
                    vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
                )
            )
        self._add_choice(lc, s, seed, n_vocab)

    def _add(self, sampler: Any) -> None:
        self._lc.llama_sampler_chain_add(self._chain, sampler)

    def _add_choice(self, lc: Any, s: dict[str, Any], seed: int, n_vocab: int) -> None:
        temp = float(s["temperature"])
        mirostat = int(s["mirostat_mode"])
        if temp < 0.0:
            self._add(lc.llama_sampler_init_dist(seed))
        elif temp == 0.0:
            self._add(lc.llama_sampler_init_greedy())
        elif mirostat == 1:
            tau, eta = float(s["mirostat_tau"]), float(s["mirostat_eta"])
            self._add(lc.llama_sampler_init_mirostat(n_vocab, seed, tau, eta, 100))
        elif mirostat == 2:
            tau, eta = float(s["mirostat_tau"]), float(s["mirostat_eta"])
            self._add(lc.llama_sampler_init_mirostat_v2(seed, tau, eta))
        else:
            self._add(lc.llama_sampler_init_top_k(int(s["top_k"])))
            self._add(lc.llama_sampler_init_typical(float(s["typical_p"]), 1))
            self._add(lc.llama_sampler_init_top_p(float(s["top_p"]), 1))
            self._add(lc.llama_sampler_init_min_p(float(s["min_p"]), 1))
            self._add(lc.llama_sampler_init_temp(temp))
            self._add(lc.llama_sampler_init_dist(seed))

    def sample(self, ctx: Any, index: int) -> int:
        """The next token from row `index` of the last decode's logits (accepted into the
        chain's grammar and penalty state)."""
        token: int = self._lc.llama_sampler_sample(self._chain, ctx, ctypes.c_int32(index))
        return token

    def close(self) -> None:
        if self._chain is not None:
            self._lc.llama_sampler_free(self._chain)
            self._chain = None
