"""Personal-data detection on the labelled evaluation set, mixstack's guard vs stock Presidio.

The set is `bench/data/privacy_eval.jsonl` (built by `bench/privacy_corpus.py`): prompts
labelled with the categories of personal data they hold, and clean prompts (health and law
questions naming no one among them). Stock Presidio runs its default recognizers on a spaCy
NLP engine loaded with the same model the guard uses (the full pipeline, as Presidio loads
it). A prompt counts as flagged when any finding of a counted type is made.

    python bench/privacy_eval.py          # the evaluation alone (bench/router.py runs it too)
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mixstack.guard._categories import category_of
from mixstack.guard._ner import MODEL_PACKAGE
from mixstack.guard._pii import PiiScanner

DATA = Path(__file__).parent / "data" / "privacy_eval.jsonl"
MIN_SCORE = 0.4
#: stock Presidio's entity types mapped to the set's categories (DATE_TIME: any date, the
#: nearest it has to a date of birth; NRP: nationality, religious or political group)
_PRESIDIO_CATEGORY = {
    "PERSON": "name",
    "LOCATION": "address",
    "DATE_TIME": "date_of_birth",
    "NRP": "religion",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "financial",
    "IBAN_CODE": "financial",
    "US_BANK_NUMBER": "financial",
    "CRYPTO": "financial",
    "US_SSN": "national_id",
    "US_ITIN": "national_id",
    "US_PASSPORT": "national_id",
    "US_DRIVER_LICENSE": "national_id",
    "UK_NHS": "national_id",
    "UK_NINO": "national_id",
    "ES_NIF": "national_id",
    "IT_FISCAL_CODE": "national_id",
    "IP_ADDRESS": "network",
}

Scan = Callable[[str], set[str]]


@dataclass
class Row:
    text: str
    categories: frozenset[str]
    domain: str


@dataclass
class Result:
    recall: float
    per_category: dict[str, float]
    false_flags: float
    p50_ms: float
    p99_ms: float


def load_rows(path: Path = DATA) -> list[Row]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        rows.append(Row(raw["text"], frozenset(raw["categories"]), raw["domain"]))
    return rows


def ours(scanner: PiiScanner) -> Scan:
    def scan(text: str) -> set[str]:
        return {category_of(s.type) or s.type for s in scanner.scan(text)}

    return scan


def decision(scanner: PiiScanner) -> Scan:
    """The scan a routing decision under `auto` makes: patterns and name lists first, the
    entity model only when they find nothing (the categories then are not all listed)."""

    def scan(text: str) -> set[str]:
        found = scanner.scan(text, model=False) or scanner.scan(text)
        return {category_of(s.type) or s.type for s in found}

    return scan


def prefilter_misses(texts: list[str]) -> tuple[int, int]:
    """What the model finds reading whole texts that it does not find reading only the
    sentences the pre-filter gives it: (missed, found on whole texts). Only what the guard
    uses counts: names, places, and dates after a birth cue."""
    from mixstack.guard._entities import is_date_of_birth_context
    from mixstack.guard._ner import NerModel
    from mixstack.guard._people import model_windows, window_entities

    model = NerModel.shared()
    missed = total = 0
    for text in texts:
        whole = {
            (e.label, e.start, e.end)
            for e in model.entities(text)
            if e.label != "DATE" or is_date_of_birth_context(text, e.start)
        }
        whole = {w for w in whole if w[0] != "NORP"}
        seen = {
            (e.label, e.start, e.end) for e in window_entities(model, text, model_windows(text))
        }
        total += len(whole)
        missed += len(whole - seen)
    return missed, total


def model_path() -> str:
    import importlib

    module = importlib.import_module(MODEL_PACKAGE)
    root = Path(module.__file__ or "").parent
    return str(next(p for p in root.iterdir() if (p / "config.cfg").exists()))


def stock_presidio_with_model() -> Scan:
    """Presidio's `AnalyzerEngine` with its default recognizers on a spaCy engine that loads
    the guard's model from its package directory (no download)."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    email_recognizer.tldextract.extract = offline  # type: ignore[attr-defined]
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model_path()}],
        }
    )
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])

    def scan(text: str) -> set[str]:
        results = engine.analyze(text=text, language="en", score_threshold=MIN_SCORE)
        return {_PRESIDIO_CATEGORY.get(r.entity_type, r.entity_type) for r in results}

    return scan


def evaluate(scan: Scan, rows: list[Row], clock: Callable[[], int]) -> Result:
    times: list[float] = []
    hits = flagged_clean = labelled = clean = 0
    per: dict[str, list[int]] = {}
    for row in rows:
        start = clock()
        found = scan(row.text)
        times.append((clock() - start) / 1e6)
        if row.categories:
            labelled += 1
            hits += bool(found)
            for category in row.categories:
                per.setdefault(category, [0, 0])
                per[category][0] += category in found
                per[category][1] += 1
        else:
            clean += 1
            flagged_clean += bool(found)
    times.sort()
    return Result(
        recall=hits / labelled,
        per_category={c: h / n for c, (h, n) in sorted(per.items())},
        false_flags=flagged_clean / clean,
        p50_ms=statistics.median(times),
        p99_ms=times[min(len(times) - 1, int(len(times) * 0.99))],
    )


def report(name: str, result: Result) -> None:
    cats = " ".join(f"{c} {r:.2f}" for c, r in result.per_category.items())
    print(
        f"{name}: recall {result.recall:.3f}, false flags on clean {result.false_flags:.3f}, "
        f"per prompt p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms"
    )
    print(f"  per category: {cats}")


def misses(scan: Scan, rows: list[Row], limit: int = 40) -> None:
    """The prompts a scanner gets wrong (for looking at, never for tuning to)."""
    shown = 0
    for row in rows:
        found = scan(row.text)
        missing = row.categories - found
        wrong = not row.categories and found
        if (missing or wrong) and shown < limit:
            shown += 1
            print(
                f"  {'MISS' if missing else 'FLAG'} "
                f"{','.join(sorted(missing or found))}: {row.text[:150]}"
            )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--no-presidio", action="store_true")
    args = parser.parse_args()
    rows = load_rows()
    clock = time.thread_time_ns
    scanner = PiiScanner(min_score=MIN_SCORE)
    scanner.warm_up()
    mine = ours(scanner)
    mine(rows[0].text)
    result = evaluate(mine, rows, clock)
    report("mixstack guard", result)
    if args.misses:
        misses(mine, rows)
    missed, total = prefilter_misses([r.text for r in rows])
    print(f"pre-filter: {missed} of {total} model findings lie outside the text it reads")
    if not args.no_presidio:
        stock = stock_presidio_with_model()
        stock(rows[0].text)
        report("stock Presidio + same spaCy model", evaluate(stock, rows, clock))


if __name__ == "__main__":
    main()
