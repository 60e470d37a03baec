"""Given names and family names from many cultures, for names the model does not know.

The small English model misses names it rarely saw ("Oluwaseun Adeyemi", "Min-jun Park")
and names in capitals or lower case. The name lists are the person-name data of the
`faker` package (MIT; given and family names for 80+ locales, compiled from public name
statistics); the English word list is the lemmatizer index shipped with the entity model
(WordNet-derived), used to keep words like "May", "Will" or "Paris" from counting as
names on their own. Both load on first use, from installed packages only.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from mixstack.guard._pii import PiiSpan

__all__ = ["NameLexicon", "lexicon_names"]

_WORD = re.compile(r"(?<![\w'’\-])[^\W\d_][\w'’\-]*")
_REC = "NameListRecognizer"
#: words never taken for a name however they are spelt
_NEVER = frozenset(
    (
        "the",
        "and",
        "for",
        "but",
        "not",
        "you",
        "your",
        "our",
        "their",
        "this",
        "that",
        "with",
        "from",
        "into",
        "onto",
        "can",
        "will",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "would",
        "could",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "his",
        "her",
        "him",
        "she",
        "they",
        "them",
        "dear",
        "hello",
        "thanks",
        "please",
        "patient",
        "customer",
        "client",
        "employee",
        "team",
        "all",
    )
)


@dataclass(frozen=True)
class NameLexicon:
    given: frozenset[str]
    family: frozenset[str]
    english: frozenset[str]

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _shared: ClassVar[NameLexicon | None] = None

    @classmethod
    def shared(cls) -> NameLexicon:
        if cls._shared is None:
            with cls._lock:
                if cls._shared is None:
                    cls._shared = _build()
        return cls._shared


def _names_of(provider: type, attrs: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for attr in attrs:
        value = provider.__dict__.get(attr)
        if isinstance(value, (dict, tuple, list, set, frozenset)):
            out |= {str(v).casefold() for v in value}
    return out


def _build() -> NameLexicon:
    import srsly  # type: ignore[import-untyped]
    from faker.providers import person

    from mixstack.guard._ner import model_dir

    given: set[str] = set()
    family: set[str] = set()
    for info in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{info.name}").Provider
        given |= _names_of(provider, ("first_names", "first_names_male", "first_names_female"))
        family |= _names_of(provider, ("last_names",))
    index = srsly.msgpack_loads((model_dir() / "lemmatizer/lookups/lookups.bin").read_bytes())
    english: set[str] = set()
    for words in index["lemma_index"].values():
        english |= {w for w in words if isinstance(w, str)}
    from mixstack.guard._libraries import load_guard_library

    load_guard_library("spacy")
    from spacy.lang.en.stop_words import STOP_WORDS

    # function words ("my", "an", "so") are given names somewhere; never take them for one
    never = _NEVER | {w.casefold() for w in STOP_WORDS}
    english |= never
    given = {g for g in given if len(g) > 1 and g not in never}
    family = {f for f in family if len(f) > 1 and f not in never}
    return NameLexicon(frozenset(given), frozenset(family), frozenset(english))


def _cased(word: str) -> bool:
    return word[0].isupper()


def lexicon_names(text: str, lexicon: NameLexicon, sentence_starts: set[int]) -> Iterator[PiiSpan]:
    """Names the lists recognise: a given name followed by a family name (in any case when
    both are listed, capitalised otherwise) or a capitalised given name that is no English
    word, away from the start of a sentence."""
    words = list(_WORD.finditer(text))
    lower_text = text == text.lower()
    i = 0
    while i < len(words):
        w = words[i]
        first = w.group(0).casefold()
        if first not in lexicon.given:
            i += 1
            continue
        nxt = words[i + 1] if i + 1 < len(words) else None
        adjacent = nxt is not None and text[w.end() : nxt.start()] in (" ", "\t")
        if nxt is not None and adjacent:
            second = nxt.group(0).casefold()
            both_listed = second in lexicon.family and second not in _NEVER
            plausible = (
                _cased(w.group(0)) and _cased(nxt.group(0)) and second not in lexicon.english
            )
            if (
                both_listed and (first not in lexicon.english or _cased(nxt.group(0)) or lower_text)
            ) or (plausible and first not in lexicon.english):
                yield PiiSpan("PERSON", w.start(), nxt.end(), 0.7, _REC)
                i += 2
                continue
        if (
            _cased(w.group(0))
            and not w.group(0).isupper()
            and first not in lexicon.english
            and w.start() not in sentence_starts
        ):
            yield PiiSpan("PERSON", w.start(), w.end(), 0.55, _REC)
        i += 1
