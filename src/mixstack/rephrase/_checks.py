"""Quality checks that need no data: slot coverage, kept facts, contradictions, length.

Each check returns a `Check` with a one-line detail; the model mode adds two more (no
invented requirements, template intact) in `mixstack.rephrase._model_mode`.
"""

from __future__ import annotations

import re

from mixstack._tokens import estimate_tokens
from mixstack.rephrase._facts import Fact, cut_out, missing_facts
from mixstack.rephrase._render import Family
from mixstack.rephrase._result import Check
from mixstack.rephrase._spec import PromptSpec

__all__ = [
    "LENGTH_BUDGET",
    "Check",
    "check_contradictions",
    "check_facts",
    "check_length",
    "check_slots",
    "contradictions",
    "run_checks",
]

#: words a rewrite may add to the user's prompt, per family
LENGTH_BUDGET: dict[str, int] = {
    "small": 200,
    "openai": 320,
    "gemini": 320,
    "generic": 320,
    "anthropic": 340,
}
_REQUIRED = ("role", "task", "output_format", "uncertainty")


def _words(text: str) -> int:
    return len(text.split())


def check_slots(spec: PromptSpec) -> Check:
    required = (*_REQUIRED, "steps") if spec.use_case == "agent" else _REQUIRED
    filled = spec.filled()
    empty = [s for s in required if not filled[s]]
    if empty:
        return Check("slots", False, f"required slots empty: {', '.join(empty)}")
    optional = [s for s, src in filled.items() if src and s not in required]
    extra = f"; also {', '.join(optional)}" if optional else ""
    return Check("slots", True, f"{len(required)}/{len(required)} required slots filled{extra}")


def _shown(facts: list[Fact]) -> str:
    return ", ".join(repr(f.text[:40]) for f in facts[:5]) + (" …" if len(facts) > 5 else "")


def check_facts(
    original: str | list[Fact], rewrite: str, *, verbatim: tuple[str, ...] = ()
) -> Check:
    """Every fact kept; `verbatim` pieces (the pasted material) must occur whole."""
    lost = cut_out(rewrite, verbatim)[1]
    if lost:
        return Check("facts", False, f"{lost} pasted block(s) changed or dropped")
    missing = missing_facts(original, rewrite, verbatim=verbatim)
    if missing:
        return Check("facts", False, f"dropped or changed: {_shown(missing)}")
    return Check("facts", True, "every number, name, quote and code span kept verbatim")


# -- contradictions ----------------------------------------------------------------------

_NUM = r"(\d[\d,]{0,12})"
_UNIT = r"([a-z]{2,20})"
_UPPER = re.compile(
    rf"\b(?:at most|no more than|up to|under|fewer than|less than|max(?:imum)?|within)\s+"
    rf"{_NUM}\s+{_UNIT}",
)
_LOWER = re.compile(
    rf"\b(?:at least|no fewer than|no less than|more than|over|min(?:imum)?)\s+{_NUM}\s+{_UNIT}",
)
_EXACT = re.compile(rf"\b(?:exactly|in)\s+{_NUM}\s+{_UNIT}")
_NEGATION = re.compile(r"\b(?:do not|don't|never|avoid|without|must not|mustn't|no)\b")
_NEGATED = re.compile(
    r"\b(?:do not|don't|never|avoid|without|must not|mustn't|no)\s+"
    r"(?:use\s+|using\s+|include\s+|including\s+|add\s+|mention\s+|any\s+)?([a-z][\w+#-]{2,40})",
)
_AFFIRMED = re.compile(
    r"\b(?:use|using|include|including|add|mention|with|in)\s+(?:a\s+|an\s+|the\s+)?"
    r"([a-z][\w+#-]{2,40})",
)
_LANGUAGE = re.compile(
    r"\b(?:in|into)\s+(english|french|german|spanish|italian|portuguese|dutch|chinese|"
    r"japanese|korean|russian|arabic|hindi|polish|swedish|turkish)\b"
)
_IGNORED_OBJECTS = frozenset({"the", "this", "that", "more", "other", "one", "order", "any"})


def _unit(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") else word


def _bounds(texts: list[str]) -> list[str]:
    upper: dict[str, int] = {}
    lower: dict[str, int] = {}
    exact: dict[str, set[int]] = {}
    for text in texts:
        for m in _UPPER.finditer(text):
            u = _unit(m.group(2))
            upper[u] = min(upper.get(u, 10**12), int(m.group(1).replace(",", "")))
        for m in _LOWER.finditer(text):
            u = _unit(m.group(2))
            lower[u] = max(lower.get(u, 0), int(m.group(1).replace(",", "")))
        for m in _EXACT.finditer(text):
            exact.setdefault(_unit(m.group(2)), set()).add(int(m.group(1).replace(",", "")))
    found: list[str] = []
    for u in sorted(set(upper) & set(lower)):
        if lower[u] > upper[u]:
            found.append(f"at least {lower[u]} {u}s but at most {upper[u]} {u}s")
    for u, values in sorted(exact.items()):
        if len(values) > 1:
            found.append(f"{' and '.join(str(v) for v in sorted(values))} {u}s at once")
        elif u in upper and min(values) > upper[u]:
            found.append(f"{min(values)} {u}s but at most {upper[u]}")
        elif u in lower and min(values) < lower[u]:
            found.append(f"{min(values)} {u}s but at least {lower[u]}")
    return found


def _polarity(texts: list[str]) -> list[str]:
    negated: set[str] = set()
    affirmed: set[str] = set()
    for text in texts:
        if _NEGATION.search(text):
            negated.update(m.group(1).lower() for m in _NEGATED.finditer(text))
        else:
            affirmed.update(m.group(1).lower() for m in _AFFIRMED.finditer(text))
    both = sorted((negated & affirmed) - _IGNORED_OBJECTS)
    return [f"both asks for and forbids {w!r}" for w in both]


def contradictions(texts: list[str]) -> list[str]:
    """Pairs of instructions that cannot both hold, described in a few words each."""
    # case-sensitive patterns on lower-cased text: `re.I` would disable the fast scan
    texts = [t.lower() for t in texts]
    found = _bounds(texts) + _polarity(texts)
    languages = sorted({m.group(1).title() for t in texts for m in _LANGUAGE.finditer(t)})
    if len(languages) > 1:
        found.append(f"answer in {' and '.join(languages)} at once")
    return found


def check_contradictions(spec: PromptSpec) -> Check:
    texts = [spec.task, *spec.constraints, spec.output_format, *spec.answer_parts]
    found = contradictions([t for t in texts if t])
    if found:
        return Check("contradictions", False, "; ".join(found))
    return Check("contradictions", True, f"{len(spec.constraints)} constraints, none conflict")


def check_length(
    original: str, rewrite: str, family: Family, context_window: int | None = None
) -> Check:
    added = _words(rewrite) - _words(original)
    budget = LENGTH_BUDGET.get(family, LENGTH_BUDGET["generic"])
    if added > budget:
        return Check("length", False, f"adds {added} words; the {family} budget is {budget}")
    if context_window is not None:
        # the tokenizer is not known here: estimate; leave a quarter of the window for the answer
        tokens = estimate_tokens(rewrite)
        if tokens > context_window * 3 // 4:
            return Check(
                "length",
                False,
                f"about {tokens} tokens; the target's context window is {context_window}",
            )
    return Check("length", True, f"adds {added} words (budget {budget} for {family})")


def run_checks(
    spec: PromptSpec,
    original: str,
    rewrite: str,
    family: Family,
    *,
    context_window: int | None = None,
    facts: list[Fact] | None = None,
) -> list[Check]:
    """The four checks; with `facts` (of the instructions alone) the context is verbatim."""
    verbatim = spec.context if facts is not None else ()
    return [
        check_slots(spec),
        check_facts(facts if facts is not None else original, rewrite, verbatim=verbatim),
        check_contradictions(spec),
        check_length(original, rewrite, family, context_window),
    ]
