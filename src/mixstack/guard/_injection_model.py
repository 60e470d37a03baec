"""A small injection classifier: logistic regression over hashed word and character n-grams.

Word unigrams and bigrams catch the vocabulary of instructions aimed at a model ("disregard",
"you must now", "system prompt"); the character 4-grams of each word catch inflection and
misspelling. Features
are hashed (CRC-32) into 2**17 slots, so there is no vocabulary to ship: the whole model is
one float16 array (`data/injection_model.npy`, 256 KB) trained by `corpus/injection/train.py`
on the corpus committed next to it. Scoring is plain Python with the n-grams of each word
cached (numpy's per-call overhead is larger than the work on a sentence).
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from io import BytesIO

__all__ = ["BITS", "WINDOW", "InjectionModel", "featurize", "fit", "load_model"]

BITS = 17
_SIZE = 1 << BITS
_MASK = _SIZE - 1
_WORD = re.compile(r"[a-z][a-z0-9']*")
#: character n-grams are hashed with another CRC start value than words
_GRAM_SALT = 0x5EED
#: texts are scored in windows of this many characters (the worst window counts)
WINDOW = 2048


def featurize(text: str) -> set[int]:
    """Hashed feature slots of an already normalised text: word 1-2-grams and the character
    4-grams of each word (`<word>` with its boundaries, as fastText's subwords)."""
    crc = zlib.crc32
    words = _WORD.findall(text)
    slots: set[int] = set()
    for w in words:
        slots.update(_word_slots(w))
    slots.update(crc(f"{a} {b}".encode()) & _MASK for a, b in itertools.pairwise(words))
    return slots


@lru_cache(maxsize=65536)
def _word_slots(word: str) -> tuple[int, ...]:
    """A word's own slot and its character 4-grams' (cached: vocabulary repeats)."""
    raw = f"<{word}>".encode()
    grams = {zlib.crc32(raw[i : i + 4], _GRAM_SALT) & _MASK for i in range(len(raw) - 3)}
    return (zlib.crc32(word.encode()) & _MASK, *grams)


class InjectionModel:
    """Weights, bias and threshold of the trained classifier."""

    def __init__(self, weights: Sequence[float], bias: float, threshold: float = 0.5):
        if len(weights) != _SIZE:
            raise ValueError(f"expected {_SIZE} weights, got {len(weights)}")
        self._table: list[float] = [float(w) for w in weights]
        self.bias = float(bias)
        #: probability from which a piece counts as an injection (chosen at training time)
        self.threshold = threshold

    def probability(self, text: str) -> float:
        """P(injection) of the most suspicious window of `text`."""
        table = self._table
        best = -math.inf
        for start in range(0, max(len(text), 1), WINDOW):
            slots = featurize(text[max(0, start - 64) : start + WINDOW])
            if not slots:
                continue
            margin = sum(table[i] for i in slots) / math.sqrt(len(slots)) + self.bias
            best = max(best, margin)
        if best == -math.inf:
            best = self.bias
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, best))))

    def dump(self) -> bytes:
        import numpy as np

        packed = np.asarray([*self._table, self.bias, self.threshold], np.float32)
        out = BytesIO()
        np.save(out, packed.astype(np.float16), allow_pickle=False)
        return out.getvalue()


@lru_cache(maxsize=1)
def load_model() -> InjectionModel:
    """The classifier shipped with the package (loaded once per process; numpy is imported
    here, not when the package is, so `import mixstack` stays light)."""
    import numpy as np

    raw = resources.files("mixstack.guard.data").joinpath("injection_model.npy").read_bytes()
    packed = np.load(BytesIO(raw), allow_pickle=False).astype(np.float32)
    return InjectionModel(packed[:-2].tolist(), float(packed[-2]), float(packed[-1]))


def fit(
    texts: list[str], labels: list[int], *, epochs: int = 300, l2: float = 1e-4, lr: float = 0.5
) -> InjectionModel:
    """Logistic regression by full-batch gradient descent (Adam) on hashed features."""
    import numpy as np

    feats = [sorted(featurize(t)) for t in texts]
    rows = np.concatenate([np.full(len(f), i, np.int64) for i, f in enumerate(feats)])
    cols = np.concatenate([np.asarray(f, np.int64) for f in feats])
    vals = np.concatenate([np.full(len(f), 1.0 / math.sqrt(max(1, len(f)))) for f in feats])
    y = np.asarray(labels, np.float64)
    n = len(texts)
    # balance the classes so the prior does not decide borderline texts
    pos = max(1.0, float(y.sum()))
    weight = np.where(y > 0, n / (2 * pos), n / (2 * max(1.0, n - pos)))
    w = np.zeros(_SIZE)
    b = 0.0
    m, v = np.zeros(_SIZE), np.zeros(_SIZE)
    mb = vb = 0.0
    for step in range(1, epochs + 1):
        margin = np.bincount(rows, weights=w[cols] * vals, minlength=n) + b
        p = 1.0 / (1.0 + np.exp(-margin))
        g_row = (p - y) * weight / n
        grad = np.bincount(cols, weights=g_row[rows] * vals, minlength=_SIZE) + l2 * w
        gb = float(g_row.sum())
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= lr * 0.01 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        mb = 0.9 * mb + 0.1 * gb
        vb = 0.999 * vb + 0.001 * gb * gb
        b -= lr * 0.01 * (mb / (1 - 0.9**step)) / (np.sqrt(vb / (1 - 0.999**step)) + 1e-8)
    return InjectionModel(w.tolist(), b)
