"""Finding people in free text: the trained NER model, the pattern recognizers and context.

The model finds names and places in any phrasing; the patterns find what has a shape
(streets, dates after a birth cue, cards, obfuscated e-mails) and the names a cue or a title
introduces even in lower case; the special-category recognizer ties health, medication,
pregnancy, orientation and religion terms to the people found. Places the model finds
count only when an address cue precedes them ("lives in Leeds"): a city in a question about
the weather is not personal data.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import OrderedDict
from threading import Lock

from mixstack.guard._entities import (
    address_cue_before,
    is_date_of_birth_context,
    pattern_findings,
)
from mixstack.guard._names import NameLexicon, lexicon_names
from mixstack.guard._ner import NerEntity, NerModel
from mixstack.guard._pii import PiiSpan
from mixstack.guard._special import is_special_term, special_findings

__all__ = ["PeopleDetector", "model_windows", "window_entities"]

_NER = "SpacyNerRecognizer"
#: the model's PERSON spans that are really drug or disease names, or a lone lower-case word
_NOT_A_NAME = re.compile(r"^[a-z][a-z'’\-]*$")
_LETTER = re.compile(r"[^\W\d_]")
_CACHE = 64
#: what joins the windows the model reads in one call (a paragraph break)
_GAP = "\n\n"
#: a sentence (or line) of the text
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
#: what the model needs to find a name, place or date: a capitalised word (not "I", not a
#: common word opening a sentence), letters of another script, or, in an all-lower-case
#: sentence, a word that introduces a person or a birth
_CAPITAL_WORD = re.compile(r"(?<![\w'’])[^\W\d_a-z][\w'’\-]*")
_OTHER_SCRIPT = re.compile(
    r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0900-\u0dff\u0e00-\u0e7f"
    r"\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]"
)
_LOWER_CUE = re.compile(
    r"\b(?:name|named|called|mr|mrs|ms|miss|dr|dear|hi|hello|patient|pt|born|birth|dob|"
    r"lives?|living|address|contact|signed|regards|client|customer|employee|tenant|i'm|"
    r"spoke|met|meet|email|call|thanks|colleague|wife|husband|son|daughter|mother|father)\b"
)
_FIRST_PERSON_I = frozenset({"I", "I'm", "I've", "I'll", "I'd", "I’m", "I’ve", "I’ll", "I’d"})
#: words that open sentences and requests; capitalised there, they name nobody
_OPENERS = frozenset(
    (
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "what",
        "how",
        "why",
        "when",
        "where",
        "who",
        "which",
        "whose",
        "if",
        "then",
        "so",
        "and",
        "but",
        "or",
        "also",
        "however",
        "please",
        "write",
        "explain",
        "summarize",
        "summarise",
        "draft",
        "list",
        "give",
        "create",
        "make",
        "tell",
        "show",
        "help",
        "translate",
        "generate",
        "describe",
        "compare",
        "find",
        "check",
        "review",
        "update",
        "send",
        "add",
        "fix",
        "convert",
        "use",
        "run",
        "set",
        "let",
        "get",
        "put",
        "keep",
        "start",
        "stop",
        "note",
        "thanks",
        "thank",
        "hello",
        "hi",
        "hey",
        "dear",
        "yes",
        "no",
        "ok",
        "okay",
        "sure",
        "our",
        "my",
        "your",
        "their",
        "his",
        "her",
        "we",
        "you",
        "they",
        "he",
        "she",
        "there",
        "here",
        "today",
        "yesterday",
        "tomorrow",
        "after",
        "before",
        "during",
        "all",
        "some",
        "many",
        "most",
        "each",
        "every",
        "any",
        "one",
        "two",
        "three",
        "first",
        "next",
        "finally",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "to",
        "of",
        "as",
        "about",
        "regarding",
        "re",
        "subject",
        "order",
        "invoice",
        "ticket",
        "customer",
        "client",
        "patient",
        "employee",
        "please",
        "see",
        "attached",
    )
)
#: findings with a shape the model's guesses never override (a street named after a person)
_STRUCTURED = frozenset({"STREET_ADDRESS", "EMAIL_ADDRESS", "DATE_OF_BIRTH"})
_WORDS = re.compile(r"[^\W\d_][\w'’\-]*")
_LEAD = " \t\n\"'“‘(*-#>"
#: types whose overlapping findings are joined, and whether touching ones join too
_JOINED = {"STREET_ADDRESS": True, "PERSON": False}
_TRIM = " \t\n,;:"


class PeopleDetector:
    """Names, addresses, dates of birth, identifiers and special-category facts in text.

    Each text is analysed once: the router's scan and the redaction that follows it ask
    about the same text, so the last results are kept (in memory only, never logged).
    """

    def __init__(self, *, model: NerModel | None = None, use_model: bool = True) -> None:
        self.model = (model or NerModel.shared()) if use_model else None
        self._cache: OrderedDict[tuple[str, bool], tuple[PiiSpan, ...]] = OrderedDict()
        self._lock = Lock()

    def find(self, text: str, *, model: bool = True) -> tuple[PiiSpan, ...]:
        """Findings in `text`; `model=False` leaves the entity model out (patterns and name
        lists only: what a routing decision needs when they already find something)."""
        key = (text, model)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        spans = tuple(self._find(text, model))
        with self._lock:
            self._cache[key] = spans
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return spans

    def _find(self, text: str, model: bool) -> list[PiiSpan]:
        spans = pattern_findings(text)
        if self.model is not None:
            starts = {
                m.start() + len(m.group(0)) - len(m.group(0).lstrip(_LEAD))
                for m in _SENTENCE.finditer(text)
            }
            spans.extend(lexicon_names(text, NameLexicon.shared(), starts))
        # the pre-filter: a text with no letter holds no name, place or date in words, so
        # the model cannot find anything in it (digits-only dates are the patterns' job)
        if model and self.model is not None and _LETTER.search(text) is not None:
            windows = model_windows(text)
            if windows:
                structured = [s for s in spans if s.type in _STRUCTURED]
                spans.extend(
                    s
                    for s in self._model_findings(text, windows)
                    if not _overlaps_any(s, structured)
                    and not is_special_term(text[s.start : s.end])
                )
        people = [s for s in spans if s.type == "PERSON" and s.score >= 0.5]
        spans.extend(special_findings(text, people))
        return _join_addresses(text, spans)

    def _person(self, text: str, start: int, end: int) -> PiiSpan | None:
        """The model's PERSON span, without an opening imperative ("Explain Kubernetes"),
        scored by what backs it: a listed given or family name (0.85), several words
        (0.6), or one unknown word (0.35, below the default threshold: the small model calls
        many product names people)."""
        words = list(_WORDS.finditer(text, start, end))
        lead = _sentence_start(text, start)
        if words and words[0].start() == lead and words[0].group(0).lower() in _OPENERS:
            words = words[1:]
        if not words or _NOT_A_NAME.match(text[words[0].start() : words[-1].end()]):
            return None
        lexicon = NameLexicon.shared()
        listed = any(
            w.group(0).casefold() in lexicon.given or w.group(0).casefold() in lexicon.family
            for w in words
        )
        score = 0.85 if listed else 0.6 if len(words) > 1 else 0.35
        return PiiSpan("PERSON", words[0].start(), words[-1].end(), score, _NER)

    def _model_findings(self, text: str, windows: list[tuple[int, int]]) -> list[PiiSpan]:
        """The model's findings in the windows of `text`, as spans of the whole text."""
        assert self.model is not None
        out: list[PiiSpan] = []
        for e in window_entities(self.model, text, windows):
            if e.label == "PERSON":
                person = self._person(text, e.start, e.end)
                if person is not None:
                    out.append(person)
            elif e.label in ("GPE", "LOC", "FAC"):
                tied = address_cue_before(text, e.start)
                out.append(PiiSpan("LOCATION", e.start, e.end, 0.6 if tied else 0.3, _NER))
            elif e.label == "DATE" and is_date_of_birth_context(text, e.start):
                out.append(PiiSpan("DATE_OF_BIRTH", e.start, e.end, 0.8, _NER))
        return out


def model_windows(text: str) -> list[tuple[int, int]]:
    """The parts of `text` the model reads: runs of sentences that could hold a name, a
    place or a date in words (see `_CAPITAL`, `_OTHER_SCRIPT`, `_LOWER_CUE`).

    A sentence with none of these is skipped: ordinary lower-case prose, code, numbers.
    `bench/privacy_eval.py` measures how many of the model's findings on the evaluation set
    lie in skipped sentences (last measured: 2 of 361, a date of birth the birth-date
    pattern finds anyway and a "place" inside an e-mail address; the skip is measured, not
    proven safe).
    """
    windows: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        if not (
            _needs_model(sentence)
            or _OTHER_SCRIPT.search(sentence)
            or (sentence == sentence.lower() and _LOWER_CUE.search(sentence))
        ):
            continue
        if windows and windows[-1][1] >= m.start() - 1:
            windows[-1] = (windows[-1][0], m.end())
        else:
            windows.append(m.span())
    return windows


def window_entities(model: NerModel, text: str, windows: list[tuple[int, int]]) -> list[NerEntity]:
    """The model's entities in the `windows` of `text`, as spans of `text`.

    The windows are read in one call, joined by blank lines (each is whole sentences, so no
    context is cut): the model's cost grows with every token it reads, so the skipped
    sentences between windows are left out rather than read along."""
    joined: list[str] = []
    starts: list[tuple[int, int, int]] = []  # (offset in the joined text, in `text`, length)
    at = 0
    for start, end in windows:
        starts.append((at, start, end - start))
        joined.append(text[start:end])
        at += end - start + len(_GAP)
    out = []
    for e in model.entities(_GAP.join(joined)):
        at, start, length = starts[bisect_right(starts, (e.start, len(text), 0)) - 1]
        if e.end - at <= length:  # an entity running into the gap is not one of `text`
            out.append(NerEntity(e.label, e.start - at + start, e.end - at + start))
    return out


def _needs_model(sentence: str) -> bool:
    """A capitalised word other than "I" and other than a common word opening the sentence."""
    lead = len(sentence) - len(sentence.lstrip(_LEAD))
    for m in _CAPITAL_WORD.finditer(sentence):
        word = m.group(0)
        if word in _FIRST_PERSON_I:
            continue
        if m.start() == lead and word.lower() in _OPENERS:
            continue
        return True
    return False


def _join_addresses(text: str, spans: list[PiiSpan]) -> list[PiiSpan]:
    """Pieces of one finding become one: an address found in parts (a street, then its
    postcode), a name two recognizers cut differently ("Okonkwo" and "Okonkwo-Adeyemi").
    Redaction then never leaves half of it behind; edges lose stray commas and spaces."""
    out = [s for s in spans if s.type not in _JOINED]
    for kind, touching in _JOINED.items():
        pieces = sorted((s for s in spans if s.type == kind), key=lambda s: s.start)
        joined: list[PiiSpan] = []
        for span in pieces:
            last = joined[-1] if joined else None
            if last is not None and (
                span.start < last.end or (touching and not text[last.end : span.start].strip(_TRIM))
            ):
                best = last if last.score >= span.score else span
                end = max(last.end, span.end)
                joined[-1] = PiiSpan(kind, last.start, end, best.score, best.recognizer)
            else:
                joined.append(span)
        for span in joined:
            end = span.end
            while end > span.start and text[end - 1] in _TRIM:
                end -= 1
            out.append(PiiSpan(span.type, span.start, end, span.score, span.recognizer))
    return out


def _overlaps_any(span: PiiSpan, others: list[PiiSpan]) -> bool:
    return any(o.start < span.end and span.start < o.end for o in others)


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence holding `pos` starts (its first non-blank character)."""
    cut = max(text.rfind(c, 0, pos) for c in ".!?\n")
    i = cut + 1
    while i < pos and text[i] in _LEAD:
        i += 1
    return i
