"""PII and secret detection on every piece of text that could leave the machine.

The fast path: a few cheap regular expressions find the places where any recognizer could
match (an `@`, a run of digits, a dotted quad, a key prefix, …). Only the text around
those places, snapped to whitespace so no token is cut, goes to the Presidio recognizers
that such a trigger can start, with their validators (Luhn, IBAN checksum, …). Clean text
costs one regex pass and never imports Presidio. Every trigger is a necessary condition of
its recognizers' patterns, so the fast path finds whatever the same recognizers find inside
Presidio's `AnalyzerEngine` (a test checks this).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mixstack._types import ImagePart, Request

if TYPE_CHECKING:
    from mixstack.config.workloads import PiiSettings

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer

    from mixstack.guard._people import PeopleDetector

__all__ = [
    "PiiCount",
    "PiiScanner",
    "PiiSpan",
    "RequestScan",
    "count_types",
    "format_counts",
    "scanner_for",
]


@dataclass(frozen=True, slots=True)
class _Trigger:
    """A cheap necessary condition of some recognizers' matches.

    `gate` is checked first with plain substring tests (C speed); only then does the regex
    run. `margin` is the context kept on each side of a hit: enough for the longest
    multi-token match (an IBAN with spaces) and the context words our recognizers look for.
    """

    name: str
    regex: re.Pattern[str]
    margin: int
    recognizers: tuple[str, ...]
    #: any of these substrings must occur (in the lower-cased text when `lower`)
    needles: tuple[str, ...] = ()
    lower: bool = False
    digits: bool = False


_TRIGGERS: tuple[_Trigger, ...] = (
    _Trigger("at", re.compile(r"@"), 0, ("OfflineEmailRecognizer",), needles=("@",)),
    _Trigger(
        "num",
        re.compile(r"\d(?:[\s().\-/+]{0,3}\d){4,}"),
        48,
        (
            "CreditCardRecognizer",
            "IbanRecognizer",
            "UsSsnRecognizer",
            "UsItinRecognizer",
            "UkNinoRecognizer",
            "EsNifRecognizer",
            "EsNieRecognizer",
            "PlPeselRecognizer",
            "FiPersonalIdentityCodeRecognizer",
            "SePersonnummerRecognizer",
            "FrNirRecognizer",
            "NlBsnRecognizer",
        ),
        digits=True,
    ),
    _Trigger(
        "ip",
        re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d|:[0-9A-Fa-f]{0,4}:"),
        48,
        ("IpRecognizer",),
        needles=(".", ":"),
    ),
    _Trigger(
        "fiscal",
        re.compile(r"[A-Za-z]{6}\d{2}[A-Za-z]"),
        16,
        ("ItFiscalCodeRecognizer",),
        digits=True,
    ),
    _Trigger(
        "crypto",
        re.compile(r"[13][a-zA-HJ-NP-Z0-9]{25}|bc1[a-zA-HJ-NP-Z0-9]{25}"),
        0,
        ("CryptoRecognizer",),
        digits=True,
    ),
    _Trigger(
        "key",
        re.compile(
            r"sk-|gh[pousr]_|github_pat_|AKIA|ASIA|xox[abprs]-|AIza|[rs]k_(?:live|test)_|hf_|eyJ"
        ),
        0,
        ("ApiKeyRecognizer",),
        needles=("sk-", "gh", "AKIA", "ASIA", "xox", "AIza", "k_live_", "k_test_", "hf_", "eyJ"),
    ),
    _Trigger(
        "cred",
        re.compile(r"(?i:api[_\-]?key|secret|token|password|passwd|pwd)"),
        48,
        ("CredentialRecognizer",),
        needles=("key", "secret", "token", "passw", "pwd"),
        lower=True,
    ),
    _Trigger(
        "pem", re.compile(r"-----BEGIN"), 8192, ("PrivateKeyRecognizer",), needles=("-----BEGIN",)
    ),
)
_DIGIT = re.compile(r"\d")
#: pattern recognizers need no NLP artifacts (tokens, lemmas): no model is ever loaded
_NO_NLP: Any = None
#: a phone number may start a few characters before its first digit: `+`, `(`
_PHONE_LEAD = 4
_PHONE_SCORE = 0.4


@dataclass(frozen=True, slots=True)
class PiiSpan:
    type: str
    start: int
    end: int
    score: float
    #: which recognizer made the finding (shown by `mixstack route --explain`)
    recognizer: str = ""


@dataclass(frozen=True, slots=True)
class PiiCount:
    type: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "count": self.count}


def count_types(types: Iterable[str]) -> tuple[PiiCount, ...]:
    counts = Counter(types)
    return tuple(PiiCount(t, n) for t, n in sorted(counts.items()))


def format_counts(counts: Sequence[PiiCount]) -> str:
    return ",".join(f"{c.type}:{c.count}" for c in counts) or "none"


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whitespace on both sides so that no token is cut."""
    n = len(text)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < n and not text[end].isspace():
        end += 1
    return start, end


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    windows.sort()
    out: list[tuple[int, int]] = []
    for start, end in windows:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


_WARM_UP = "Maria Garcia, 12 Baker Street, London, maria@example.org, +44 20 7946 0958."


def _resolve(spans: list[PiiSpan]) -> list[PiiSpan]:
    """Keep the best of overlapping findings: higher score first, then the longer one."""
    chosen: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    chosen.sort(key=lambda s: s.start)
    return chosen


#: `PiiScanner(min_score=…, ignore=…, allow=…, people=…)`'s arguments, hashable
ScannerSettings = tuple[float, tuple[str, ...], tuple[str, ...], bool]


class PiiScanner:
    """Finds PII and secrets in text. Thread-safe; Presidio loads on the first candidate,
    the entity model (names, places, dates) on the first text with a letter in it.

    `ignore` lists entity types that do not count, `allow` terms that are never findings
    (a company's own name, its staff list; compared case-insensitively with the whole
    finding), `people=False` turns the entity model and the people recognizers off (patterns
    only: for callers that must not load the model).
    """

    def __init__(
        self,
        *,
        min_score: float = 0.4,
        ignore: Sequence[str] = (),
        allow: Sequence[str] = (),
        people: bool = True,
    ):
        from mixstack.guard._regions import PHONE_REGIONS

        self.phone_regions = PHONE_REGIONS
        self.min_score = min_score
        self.ignore = frozenset(ignore)
        self.allow = frozenset(" ".join(t.split()).casefold() for t in allow)
        self.people = people
        self._groups: dict[str, list[EntityRecognizer]] | None = None
        self._detector: PeopleDetector | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> ScannerSettings:
        """What this scanner was built with: (min_score, ignore, allow, people)."""
        return (self.min_score, tuple(sorted(self.ignore)), tuple(sorted(self.allow)), self.people)

    def _people(self) -> PeopleDetector:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from mixstack.guard._people import PeopleDetector

                    self._detector = PeopleDetector()
        return self._detector

    def _recognizers(self) -> dict[str, list[EntityRecognizer]]:
        if self._groups is None:
            with self._lock:
                if self._groups is None:
                    from mixstack.guard._libraries import load_guard_library

                    load_guard_library("presidio_analyzer")
                    from mixstack.guard._recognizers import build_recognizers

                    by_name = {type(r).__name__: r for r in build_recognizers()}
                    self._groups = {t.name: [by_name[n] for n in t.recognizers] for t in _TRIGGERS}
        return self._groups

    def warm_up(self) -> None:
        """Load the recognizers (and the entity model) now, not on the first text."""
        self._recognizers()
        if self.people:
            detector = self._people()
            if detector.model is not None:
                detector.model.load()
        # the first scan builds lazy tables (name lists, the public suffix list): do it now,
        # not while a request waits and the event loop with it
        self.scan(_WARM_UP)

    def scan(self, text: str, *, model: bool = True) -> list[PiiSpan]:
        """Non-overlapping findings in `text`, in order, scored at least `min_score`.

        `model=False` skips the entity model: its findings only add to the others, so when
        the rest already finds something, a found/not-found decision cannot change.
        """
        found = self._pattern_spans(text)
        if self.people:
            found.extend(self._people().find(text, model=model))
        kept = [s for s in found if self._counts(s, text)]
        return _resolve(kept) if kept else []

    def _counts(self, span: PiiSpan, text: str) -> bool:
        if span.score < self.min_score or span.type in self.ignore:
            return False
        return (
            not self.allow
            or " ".join(text[span.start : span.end].split()).casefold() not in self.allow
        )

    def _pattern_spans(self, text: str) -> list[PiiSpan]:
        """The Presidio pattern recognizers' findings, through the trigger fast path."""
        windows: dict[str, list[tuple[int, int]]] = {}
        numbers: list[tuple[int, int]] = []
        n = len(text)
        digits: bool | None = None
        lowered: str | None = None
        # one pass per trigger: in a single alternation a digit run would hide the dotted
        # quad inside it (an alternation reports one group per position)
        for trigger in _TRIGGERS:
            if trigger.digits:
                if digits is None:
                    digits = _DIGIT.search(text) is not None
                if not digits:
                    continue
            if trigger.needles:
                if trigger.lower and lowered is None:
                    lowered = text.lower()
                haystack = lowered if trigger.lower and lowered is not None else text
                if not any(needle in haystack for needle in trigger.needles):
                    continue
            margin = trigger.margin
            for match in trigger.regex.finditer(text):
                start, end = match.span()
                windows.setdefault(trigger.name, []).append(
                    _snap(text, max(0, start - margin), min(n, end + margin))
                )
                if trigger.name == "num":
                    numbers.append((start, end))
        if not windows:
            return []
        groups = self._recognizers()
        found: dict[tuple[str, int, int], PiiSpan] = {}
        for group, spans in windows.items():
            for start, end in _merge(spans):
                piece = text[start:end]
                for recognizer in groups[group]:
                    results = recognizer.analyze(piece, recognizer.supported_entities, _NO_NLP)
                    for r in results:
                        if r.score < self.min_score or r.entity_type in self.ignore:
                            continue
                        key = (r.entity_type, start + r.start, start + r.end)
                        if key not in found or found[key].score < r.score:
                            found[key] = PiiSpan(*key, float(r.score), type(recognizer).__name__)
        if numbers and self.min_score <= _PHONE_SCORE and "PHONE_NUMBER" not in self.ignore:
            self._phones(text, numbers, list(found.values()), found)
        return list(found.values())

    def _phones(
        self,
        text: str,
        numbers: list[tuple[int, int]],
        stronger: list[PiiSpan],
        found: dict[tuple[str, int, int], PiiSpan],
    ) -> None:
        """Phone numbers, digit run by digit run, skipping runs a stronger finding covers.

        A phone finding inside a validated card, IBAN or address would lose to it anyway;
        parsing each run for each region is what makes stock phone detection slow.
        """
        import phonenumbers

        for run_start, run_end in numbers:
            if any(s.start <= run_start and run_end <= s.end for s in stronger):
                continue
            start, end = _snap(text, max(0, run_start - _PHONE_LEAD), run_end)
            piece = text[start:end]
            for region in self.phone_regions:
                hits = list(phonenumbers.PhoneNumberMatcher(piece, region, leniency=1))
                for hit in hits:
                    key = ("PHONE_NUMBER", start + hit.start, start + hit.end)
                    found.setdefault(key, PiiSpan(*key, _PHONE_SCORE, "PhoneRecognizer"))
                if any(start + h.start <= run_start and run_end <= start + h.end for h in hits):
                    break

    def analyzer_engine(self) -> AnalyzerEngine:
        """Presidio's own engine over the same recognizers, on its no-op NLP engine."""
        from mixstack.guard._libraries import load_guard_library

        load_guard_library("presidio_analyzer")
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        from mixstack.guard._recognizers import build_recognizers

        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        nlp.load()
        registry = RecognizerRegistry(recognizers=list(build_recognizers()))
        return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


@dataclass(frozen=True, slots=True)
class RequestScan:
    """What the guard found in a request: types and counts, never the values."""

    counts: tuple[PiiCount, ...] = ()
    #: findings in places redaction cannot reach (text inside images, tool definitions)
    unredactable: tuple[PiiCount, ...] = ()
    scanned_chars: int = 0

    @property
    def found(self) -> bool:
        return bool(self.counts)

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.counts]


def request_texts(request: Request) -> Iterator[str]:
    """Every redactable text of a request (see `guard.fields` for what leaves, and how)."""
    from mixstack.guard._fields import redactable_texts

    return redactable_texts(request)


def _fixed_texts(request: Request) -> Iterator[str]:
    """Text that leaves with the request but is not rewritten (see `guard.fields`)."""
    from mixstack.guard._fields import fixed_texts

    return fixed_texts(request)


def _split_types(scanner: PiiScanner, request: Request, model: bool = True) -> list[str]:
    """Findings that only exist across two messages (`john.doe` + `@example.com`)."""
    from mixstack.guard._fields import message_seams

    types: list[str] = []
    for joined, seam in message_seams(request):
        for span in scanner.scan(joined, model=model):
            if span.start < seam < span.end:
                types.append(span.type)
    return types


def request_images(request: Request) -> list[ImagePart]:
    return [image for message in request.messages for image in message.images]


def scan_request(
    scanner: PiiScanner, request: Request, *, read_images: bool, model: bool = True
) -> RequestScan:
    """Scan all text that could leave the machine; with `read_images`, the OCR text too;
    without `model`, the entity model is left out (see `PiiScanner.scan`)."""
    types: list[str] = []
    fixed: list[str] = []
    chars = 0
    for text in request_texts(request):
        chars += len(text)
        types.extend(s.type for s in scanner.scan(text, model=model))
    for text in _fixed_texts(request):
        chars += len(text)
        fixed.extend(s.type for s in scanner.scan(text, model=model))
    # redaction works text by text, so a value split across messages cannot be redacted
    fixed.extend(_split_types(scanner, request, model))
    if read_images:
        images = request_images(request)
        if images:
            from mixstack.vision import image_to_text

            for image in images:
                if image.data is None:
                    continue  # a URL reference: the model fetches it, mixstack never does
                text = image_to_text(image)
                chars += len(text)
                fixed.extend(s.type for s in scanner.scan(text, model=model))
    return RequestScan(
        counts=count_types([*types, *fixed]),
        unredactable=count_types(fixed),
        scanned_chars=chars,
    )


def scanner_for(settings: PiiSettings, *, label: str = "routing.pii") -> PiiScanner:
    """The guard's scanner for config settings: categories left out become ignored types."""
    from mixstack.errors import ConfigError
    from mixstack.guard._categories import CATEGORIES, types_in

    ignore = set(settings.ignore)
    if settings.categories is not None:
        try:
            counted = types_in(settings.categories)
        except ConfigError as exc:
            raise ConfigError(f"{label}: pii.categories: {exc}") from None
        ignore |= {t for types in CATEGORIES.values() for t in types} - counted
    # the scanner that also reads decoded views (URL, HTML, base64, …) and finds secrets
    from mixstack.guard._normalize import GuardScanner

    return GuardScanner(min_score=settings.min_score, ignore=sorted(ignore), allow=settings.allow)
