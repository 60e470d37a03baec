"""The haystack: a case's key context (the needle) placed at a depth inside filler padded to a
target length, optionally with distractors (near-miss variants of the key facts).

A case marks its key context with `needle:` (a string or a list of strings) or, failing
that, `context:`; it may list its own `distractors:`. Without them, distractors are made by
changing the needle's numbers (or its last name-like word) and framing the sentence as an
outdated claim, so the right answer stays determinate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mixstack.errors import SweepError

__all__ = ["Haystack", "KeyContext", "SweepError", "build_haystack", "key_context"]


@dataclass(frozen=True, slots=True)
class KeyContext:
    needle: tuple[str, ...]
    distractors: tuple[str, ...]
    #: the words or numbers that only a distractor contains (to spot answers taken from one)
    markers: tuple[str, ...]


_PREFIXES = (
    "An outdated memo, since withdrawn, claimed: ",
    "A rumour that later proved false said: ",
    "A draft that was never approved stated: ",
    "An old note, no longer valid, read: ",
)
_SWAP_WORDS = (
    "Lisbon", "Harwick", "Oslo", "Maren", "Quito", "Tallis", "Verona", "Edda", "Kestrel",
    "Orsay", "Brenna", "Calder",
)  # fmt: skip
_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]{2,}")


def _as_texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def key_context(
    case_id: str, origin: str, extra: dict[str, Any], count: int, expected: Any = None
) -> KeyContext:
    """The case's marked key context and `count` distractors; a clear error when unmarked.

    A made distractor changes the expected answer where the needle states it (else the
    needle's numbers, else its last name-like word) and is framed as an outdated claim."""
    needle = _as_texts(extra.get("needle")) or _as_texts(extra.get("context"))
    if not needle:
        raise SweepError(
            f"{origin or 'suite'}: case {case_id!r}: no key context to place; mark the facts "
            'the answer depends on with `needle: "…"` (or a list of sentences) or '
            '`context: "…"` in the case.'
        )
    given = _as_texts(extra.get("distractors"))
    if count == 0:
        return KeyContext(needle, (), ())
    if given:
        distractors = tuple(given[i % len(given)] for i in range(count))
        return KeyContext(needle, distractors, _markers(needle, distractors))
    text = " ".join(needle)
    answer = str(expected).strip() if expected is not None else ""
    made = tuple(_near_miss(text, i, case_id, answer) for i in range(count))
    return KeyContext(needle, made, _markers(needle, made))


def _near_miss(text: str, index: int, case_id: str, answer: str) -> str:
    prefix = _PREFIXES[index % len(_PREFIXES)]
    salt = int(hashlib.sha256(f"{case_id}:{index}".encode()).hexdigest()[:8], 16)
    if answer and answer in text and not _NUM.fullmatch(answer):
        changed = text.replace(answer, _other_words(answer, salt + index))
    elif _NUM.search(text):
        changed = _NUM.sub(lambda m: _other_number(m.group(0), index), text)
    else:
        names = _NAME.findall(" " + text)
        target = names[-1] if names else text.rsplit(maxsplit=1)[-1].strip(".")
        swap = _SWAP_WORDS[(salt + index) % len(_SWAP_WORDS)]
        if swap == target:
            swap = _SWAP_WORDS[(salt + index + 1) % len(_SWAP_WORDS)]
        changed = text.replace(target, swap)
    return prefix + changed


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LOWER_WORDS = ("apricot", "granite", "velvet", "cobalt", "saffron", "walnut", "pewter", "juniper")


def _other_words(answer: str, salt: int) -> str:
    """A different value of the same shape: another weekday, name or word(s)."""
    if answer in _DAYS:
        return _DAYS[(_DAYS.index(answer) + 1 + salt % 6) % 7]
    pool = _SWAP_WORDS if answer[:1].isupper() else _LOWER_WORDS
    words = [pool[(salt + k) % len(pool)] for k in range(len(answer.split()))]
    out = " ".join(words)
    return out if out != answer else pool[(salt + 1) % len(pool)]


def _other_number(raw: str, index: int) -> str:
    digits = raw.replace(",", "").replace(".", "")
    if len(digits) >= 2:
        # same length, different digits: a near miss a reader could confuse
        shift = index % (len(digits) - 1) + 1
        out = digits[shift:] + digits[:shift]
        if out == digits or out[0] == "0":
            out = str(int(digits) + 1 + index)
    else:
        out = str((int(digits) + 1 + index) % 10 or 9)
    return out if out != digits else str(int(digits) + 1)


def _markers(needle: Sequence[str], distractors: Sequence[str]) -> tuple[str, ...]:
    """Words and numbers found in distractors but not in the needle: an answer that holds
    one of them was taken from a distractor."""
    seen = {w.lower() for w in re.findall(r"\w+", " ".join(needle))}
    found: list[str] = []
    for text in distractors:
        body = text
        for prefix in _PREFIXES:
            body = body.removeprefix(prefix)
        for token in re.findall(r"\w+", body):
            if token.lower() not in seen and token not in found:
                found.append(token)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Haystack:
    text: str
    filler_sentences: int
    needle_at: int  # index of the sentence slot the needle went into


def build_haystack(
    sentences: Sequence[str],
    sentence_tokens: Sequence[int],
    budget: int,
    key: KeyContext,
    depth: float,
    count_tokens: Callable[[str], int],
) -> Haystack:
    """Pad with filler to `budget` tokens (needle and distractors included), then place the
    needle at `depth` (0 = first sentence, 1 = last) and spread the distractors evenly."""
    needle = " ".join(key.needle)
    fixed = count_tokens(needle) + sum(count_tokens(d) for d in key.distractors)
    room = budget - fixed
    chosen: list[str] = []
    used = 0
    i = 0
    while room > 0 and used + sentence_tokens[i % len(sentences)] <= room:
        chosen.append(sentences[i % len(sentences)])
        used += sentence_tokens[i % len(sentences)]
        i += 1
    slots: list[str] = list(chosen)
    needle_at = round(depth * len(slots))
    inserts: list[tuple[int, str]] = [(needle_at, needle)]
    for k, text in enumerate(key.distractors):
        pos = round((k + 0.5) / len(key.distractors) * len(slots))
        if abs(pos - needle_at) < 2 and len(slots) > 4:
            pos = (pos + max(2, len(slots) // 4)) % (len(slots) + 1)
        inserts.append((pos, text))
    # insert from the back so earlier positions stay valid; the needle wins ties
    for pos, text in sorted(inserts, key=lambda p: (p[0], p[1] != needle), reverse=True):
        slots.insert(pos, text)
    return Haystack(" ".join(slots), len(chosen), needle_at)
