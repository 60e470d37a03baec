"""Facts a step asserts, for contradiction and grounding checks.

Two shapes are read: quantity facts (`Tom has 5 apples`, `Ana paid $12`) keyed by subject,
verb and noun, and attribute facts (`the capital of France is Paris`, `Tom's age is 12`)
keyed by attribute and entity. Sentences about change (`now`, `left`, `after`, …) are
updates, not contradictions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from mixstack.audit._numbers import NUMBER_RE, parse_number

__all__ = ["Fact", "facts"]

_VERBS = {
    "has": "have", "had": "have", "have": "have", "owns": "have", "owned": "have",
    "costs": "cost", "cost": "cost", "weighs": "weigh", "weighed": "weigh",
    "earns": "earn", "earned": "earn", "buys": "buy", "bought": "buy", "sells": "sell",
    "sold": "sell", "pays": "pay", "paid": "pay", "needs": "need", "needed": "need",
    "spends": "spend", "spent": "spend", "saves": "save", "saved": "save",
    "collects": "collect", "collected": "collect", "reads": "read", "read": "read",
    "runs": "run", "ran": "run", "walks": "walk", "walked": "walk", "eats": "eat", "ate": "eat",
    "scores": "score", "scored": "score", "is": "be", "was": "be",
}  # fmt: skip
_QUANTITY = re.compile(
    r"\b(?P<subj>[A-Z][a-z]+)\s+(?P<verb>" + "|".join(_VERBS) + r")\s+"
    r"(?:only\s+|exactly\s+|just\s+)?(?P<num>" + NUMBER_RE.pattern + r")"
    r"(?:\s+(?P<noun>[a-z]+))?"
)
_ATTRIBUTE = re.compile(
    r"\b(?:[Tt]he\s+(?P<attr>[a-z]+)\s+of\s+(?:the\s+)?(?P<ent>[A-Z][\w]*(?:\s+[A-Z]\w*)*)"
    r"|(?P<ent2>[A-Z][a-z]+)'s\s+(?P<attr2>[a-z]+))"
    r"\s+(?:is|was)\s+(?P<val>" + NUMBER_RE.pattern + r"|[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)"
)
_CHANGE = re.compile(
    r"\b(now|left|remain\w*|after|afterwards|more|fewer|less|total|totals|then|new|each|per|"
    r"every|altogether|in all|initially|originally|at first|before|still|ends? up|end|becomes?|"
    r"again|another|extra|additional)\b",
    re.IGNORECASE,
)
_NOT_NAMES = {
    "The", "This", "That", "Then", "So", "Thus", "Therefore", "Step", "First", "Second",
    "Next", "Finally", "Answer", "Total", "Each", "If", "We", "It", "He", "She", "They",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fact:
    key: tuple[str, ...]
    value: Fraction | str
    text: str
    subject: str
    changing: bool


def _noun(word: str | None) -> str:
    w = (word or "").lower()
    return w[:-1] if w.endswith("s") and len(w) > 3 else w


def facts(text: str) -> list[Fact]:
    found: list[Fact] = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n", text):
        changing = bool(_CHANGE.search(sentence))
        for m in _QUANTITY.finditer(sentence):
            if m.group("subj") in _NOT_NAMES:
                continue
            num = NUMBER_RE.match(m.group("num"))
            if num is None:
                continue
            key = ("q", m.group("subj").lower(), _VERBS[m.group("verb")], _noun(m.group("noun")))
            value = parse_number(num).plain
            found.append(Fact(key, value, m.group(0), m.group("subj"), changing))
        for m in _ATTRIBUTE.finditer(sentence):
            attr = m.group("attr") or m.group("attr2")
            ent = m.group("ent") or m.group("ent2")
            raw = m.group("val")
            num = NUMBER_RE.fullmatch(raw)
            val: Fraction | str = parse_number(num).plain if num else raw.lower()
            found.append(Fact(("a", attr, ent.lower()), val, m.group(0), ent, changing))
    return found
