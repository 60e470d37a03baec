"""Token log-probabilities for in-process models, read off the logits as they are sampled.

llama-cpp-python computes logprobs only for contexts built with `logits_all` (a logits row
for every position of the context: gigabytes at 8k tokens). Instead a logits processor sees
each step's logits before sampling, keeps that step's log-softmax, and learns which token
was chosen from the next step's input (the last step's token from the answer's tail). The
values are those of the model's distribution, before penalties and grammar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from mixstack.providers.local._engine import LoadedModel

__all__ = ["LogprobRecorder"]

_Array = npt.NDArray[np.float32]


class LogprobRecorder:
    """A llama.cpp logits processor that records OpenAI-shaped logprob entries."""

    def __init__(self, model: LoadedModel, top: int):
        self._model = model
        self._top = top
        self._pending: _Array | None = None
        self._pending_at = -1
        self._tokens: list[int] = []
        self._steps: list[tuple[_Array, int]] = []

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: _Array) -> _Array:
        if self._pending is not None and len(input_ids) > self._pending_at:
            self._steps.append((self._pending, int(input_ids[self._pending_at])))
        logits = np.asarray(scores, dtype=np.float32)
        peak = float(logits.max())
        lse = peak + float(np.log(np.exp(logits - peak).sum()))
        self._pending = logits - lse
        self._pending_at = len(input_ids)
        return scores

    def entries(self, text: str) -> list[dict[str, Any]]:
        """The entries of the answer `text` (its last token found from the text's tail)."""
        steps = list(self._steps)
        if self._pending is not None:
            seen = "".join(self._piece(t).decode("utf-8", "replace") for _, t in steps)
            tail = text[len(seen) :] if text.startswith(seen) else ""
            if tail:
                tokens = self._model.llama.tokenize(
                    tail.encode("utf-8"), add_bos=False, special=False
                )
                if tokens:
                    steps.append((self._pending, int(tokens[0])))
        return [self._entry(row, token) for row, token in steps]

    def _piece(self, token: int) -> bytes:
        piece: bytes = self._model.llama.detokenize([token])
        return piece

    def _entry(self, row: _Array, token: int) -> dict[str, Any]:
        piece = self._piece(token)
        entry: dict[str, Any] = {
            "token": piece.decode("utf-8", "replace"),
            "logprob": float(row[token]),
            "bytes": list(piece),
            "top_logprobs": [],
        }
        if self._top:
            best = np.argpartition(row, -self._top)[-self._top :]
            best = best[np.argsort(row[best])[::-1]]
            for alt in best:
                alt_piece = self._piece(int(alt))
                entry["top_logprobs"].append(
                    {
                        "token": alt_piece.decode("utf-8", "replace"),
                        "logprob": float(row[alt]),
                        "bytes": list(alt_piece),
                    }
                )
        return entry
