"""Quoted facts checked against the given question and context.

A step that restates a given fact with another value is a misquote even when everything it
computes from it is right ("A pen costs $4" when the context says $3, then 3 × $4 = $12).
A number, date or time in a step is read with what it describes (the content words around
it and its unit, currency or percent sign); when the given text describes the same thing
with another value, and the step did not compute the new value (no equation, no single
operation on numbers at hand), the step is flagged. Names are compared too: a name in a
step that is a near-spelling of a given one (Chan for Chen) is a misquote. The same value
with another unit of the same kind (5 km quoted as 5 miles) is one as well.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from fractions import Fraction

from mixstack.audit._arith import Equation
from mixstack.audit._clock import items
from mixstack.audit._numbers import Quantity, quantities, unit_factor

__all__ = ["Misquote", "check_quotes"]

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_STOP = frozenset(
    """a an the of per each every and or but so then thus hence therefore is are was were be
    been it its this that these those there their they them he she his her we our you your i
    my me to in on at by for from with as into onto than which who what when where how much
    many total altogether first second next finally step now also only just about around
    roughly approximately some all any more less new same other another one two three four
    five six seven eight nine ten has have had do does did will would can could should may
    might must let lets us if since because not no yes equals equal gives makes give make
    get gets got comes answer final result results hours hour minutes minute seconds second
    days day weeks week""".split()  # noqa: SIM905
)
_NOT_NAMES = frozenset(
    """The This That Then So Thus Therefore Step First Second Third Next Finally Answer Total
    Each If We It He She They Now Also But And Or In On At By For From With As To Let Since
    Because After Before When While Our Their His Her Its Yes No Note Check Final Given""".split()  # noqa: SIM905
)


#: a count in a sentence about change or news is not a quotation of the given count
_NEWS = re.compile(
    r"\b(also|finds?|found|gets?|got|receives?|received|more|another|extra|additional|now|"
    r"left|remain\w*|after|then|new|altogether|in all|total|gives? away|lost|loses)\b",
    re.IGNORECASE,
)

#: a clock time is not a duration (whose unit dimension is "time")
_KIND = {"date": "date", "time": "clock"}

#: numbers anyone may bring into one operation (halves, dozens, minutes, percent)
_CONSTANTS = frozenset(Fraction(n) for n in (*range(1, 11), 12, 24, 60, 100, 1000))


@dataclass(frozen=True, slots=True)
class Misquote:
    step: int
    detail: str


@dataclass(frozen=True, slots=True)
class _Given:
    value: Fraction
    raw: str
    kind: str  # "$", "%", a unit dimension, "date", "time" or "" (a plain count)
    unit: str
    words: frozenset[str]


def _stem(word: str) -> str:
    w = word.lower().strip("'")
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "zes", "ches", "shes")):
        return w[:-2]
    if w.endswith("s") and len(w) > 3 and not w.endswith("ss"):
        return w[:-1]
    return w


def _describe(sentence: str, start: int, end: int) -> frozenset[str]:
    """Content words near a value: up to six before it and three after, within its clause."""
    before = re.split(r"[,;:()]|\band\b", sentence[:start])[-1]
    after = re.split(r"[,;:()]|\band\b|\bso\b|[=+×÷*/]", sentence[end:])[0]
    words = list(_WORD.findall(before))[-6:] + list(_WORD.findall(after))[:3]
    return frozenset(_stem(w) for w in words if w.lower() not in _STOP and len(w) > 1)


def _unit_of(sentence: str, q: Quantity) -> tuple[str, str]:
    """(kind, unit) of a written value: its currency, percent, or the unit word after it."""
    if q.currency:
        return "$", q.currency
    if q.percent:
        return "%", "%"
    m = re.match(r"\s*(square|sq\.?|cubic)?\s*([A-Za-z]+)", sentence[q.end :], re.IGNORECASE)
    if m:
        unit = unit_factor(m.group(2))
        if unit is not None and unit[0] not in ("count", "money"):
            power = (m.group(1) or "").lower().rstrip(".")
            kind = f"{unit[0]}^{3 if power == 'cubic' else 2}" if power else unit[0]
            return kind, m.group(2).lower()
    return "", ""


def _same_unit(a: str, b: str) -> bool:
    ua, ub = unit_factor(a), unit_factor(b)
    return ua is not None and ub is not None and ua == ub


def _counted(sentence: str, q: Quantity) -> frozenset[str]:
    """What a plain count counts: the noun right after it (`3 pens`), nothing otherwise."""
    m = re.match(r"\s*([A-Za-z][A-Za-z'-]*)", sentence[q.end :])
    if m is None or m.group(1).lower() in _STOP:
        return frozenset()
    return frozenset({_stem(m.group(1))})


def _words(sentence: str, q: Quantity, kind: str, *, given: bool = False) -> frozenset[str]:
    """What a value describes. A plain number with no noun after it ("Raj is 11") is read
    by the words before it; a given one by its whole sentence ("her brother Raj, who is 9")."""
    if kind:
        return _describe(sentence, q.start, q.end)
    counted = _counted(sentence, q)
    if counted or not re.match(r"\s*(?:[.,;!?]|$)", sentence[q.end :]):
        return counted
    if given:
        return frozenset(_stem(w) for w in _WORD.findall(sentence) if w.lower() not in _STOP)
    return _describe(sentence, q.start, q.end)


_ABBREVIATIONS = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Prof|St|Mt|No|vs|etc|approx|Inc|Ltd|Jr|Sr)\.$")


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for piece in re.split(r"(?<=[.!?;])\s+|\n", text):
        if out and _ABBREVIATIONS.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"  # "Dr. Chen" does not end a sentence
        elif piece.strip():
            out.append(piece)
    return out


def _given(text: str) -> list[_Given]:
    out: list[_Given] = []
    for sentence in _sentences(text):
        for q in quantities(sentence):
            kind, unit = _unit_of(sentence, q)
            words = _words(sentence, q, kind, given=True)
            out.append(_Given(q.plain, q.raw, kind, unit, words))
        for item in items(sentence):
            if item.kind in ("date", "time"):
                words = _describe(sentence, item.start, item.end)
                out.append(_Given(item.value, item.text, _KIND[item.kind], "", words))
    return out


def check_quotes(
    given: str, steps: tuple[str, ...], equations: list[list[Equation]]
) -> list[Misquote]:
    if not given.strip():
        return []
    facts = _given(given)
    known = {g.value for g in facts}
    for m in re.finditer(r"\b(\d+)\s*/\s*(\d+)\b", given):
        if int(m.group(2)):
            known.add(Fraction(int(m.group(1)), int(m.group(2))))  # 3/4 cup is 0.75
    names = _names(given)
    found: list[Misquote] = []
    computed: set[Fraction] = set()
    results: set[Fraction] = set()
    for index, step in enumerate(steps, start=1):
        eqs = equations[index - 1] if index - 1 < len(equations) else []
        here = {v for eq in eqs for v in (eq.value, eq.stated.value, eq.stated.plain)}
        detail = _step_misquote(step, facts, known, computed, results, here, eqs)
        detail = detail or _misnamed(step, names, given)
        if detail is not None:
            found.append(Misquote(index, detail))
        computed |= here
        results |= here
        computed |= {q.plain for q in quantities(step)} | {q.value for q in quantities(step)}
    return found


def _step_misquote(
    step: str,
    facts: list[_Given],
    known: set[Fraction],
    computed: set[Fraction],
    results: set[Fraction],
    here: set[Fraction],
    eqs: list[Equation],
) -> str | None:
    for sentence in _sentences(step):
        numbers = quantities(sentence)
        for q in numbers:
            if q.plain in known or q.value in known or q.plain in computed or q.plain in here:
                continue
            kind, _unit = _unit_of(sentence, q)
            words = _words(sentence, q, kind)
            others = {o.plain for o in numbers if o.plain != q.plain} - here
            if _derived(q.plain, others | computed, known | others | computed) or _scaled(
                q.plain, results
            ):
                continue
            if any(abs(q.plain - c) < 1 for c in computed | here):
                continue  # a result rounded to a whole number ("about 47", "5 buses")
            if not kind and _NEWS.search(sentence):
                continue  # "Tom also finds 37 apples": new, not quoted (grounding's case)
            for g in facts:
                if g.kind == kind and g.kind not in ("date", "clock") and words & g.words:
                    if g.value in {o.plain for o in numbers}:
                        continue  # the given value is in the same sentence: another thing
                    shared = ", ".join(sorted(words & g.words))
                    return (
                        f"{q.raw} misquotes the given {g.raw} ({shared}): "
                        "a value the question and context do not give, and no step computed"
                    )
            substituted = _substituted(q, kind, facts, eqs, sentence)
            if substituted is not None:
                return substituted
        unit_swap = _unit_swap(sentence, numbers, facts)
        if unit_swap is not None:
            return unit_swap
        when = _misdated(sentence, facts, here)
        if when is not None:
            return when
    return None


def _derived(value: Fraction, near: set[Fraction], pool: set[Fraction]) -> bool:
    """One operation on a number at hand (this sentence, earlier results) and any known one."""
    for a in near:
        for b in pool:
            if (
                value in (a + b, a - b, b - a, a * b)
                or (b and value == a / b)
                or (a and value == b / a)
            ):
                return True
    return False


def _scaled(value: Fraction, results: set[Fraction]) -> bool:
    """A result shifted or scaled by a common constant (2.25 hours → 0.25 hours, × 60)."""
    return any(value in (r + c, r - c, r * c, r / c) for r in results for c in _CONSTANTS)


def _substituted(
    q: Quantity, kind: str, facts: list[_Given], eqs: list[Equation], sentence: str
) -> str | None:
    """`3 × $4 = $12` when the context's only price is $3: an operand of a kind the context
    gives exactly one value of, but not that value. Percentages and measures are read the
    same way when stated rather than computed ("the discount is 15%" for a given 10%)."""
    if not kind:
        return None
    if kind == "$" and not any(q.plain in eq.operands for eq in eqs):
        return None
    same = [g for g in facts if g.kind == kind]
    values = {g.value for g in same}
    if len(values) != 1 or q.plain in values:
        return None
    g = same[0]
    if g.raw in sentence:
        return None
    return f"{q.raw} is used where the question or context gives {g.raw}"


def _unit_swap(sentence: str, numbers: list[Quantity], facts: list[_Given]) -> str | None:
    for q in numbers:
        kind, unit = _unit_of(sentence, q)
        if not unit or kind in ("$", "%"):
            continue
        words = _words(sentence, q, kind)
        for g in facts:
            same_kind = g.kind == kind and g.unit and not _same_unit(g.unit, unit)
            if (
                g.value == q.plain
                and same_kind
                and (words & g.words or len([f for f in facts if f.kind == kind]) == 1)
            ):
                return f"{q.raw} {unit} misquotes the given {g.raw} {g.unit} (another unit)"
    return None


def _misdated(sentence: str, facts: list[_Given], here: set[Fraction]) -> str | None:
    """A date or time the given text does not have, describing what a given one describes."""
    for item in items(sentence):
        if item.kind not in ("date", "time"):
            continue
        givens = [g for g in facts if g.kind == _KIND[item.kind]]
        if not givens or any(g.value == item.value for g in givens):
            continue
        clause = _clause(sentence, item.start, item.end)
        if re.search(r"\b(plus|minus|after|before|later|earlier|add|adding|from|until|to)\b"
                     r"|[+−=→]|\s-\s", clause, re.IGNORECASE):  # fmt: skip
            continue  # a computed date or time (checked by the clock rules)
        words = _describe(sentence, item.start, item.end)
        for g in givens:
            if words & g.words:
                shared = ", ".join(sorted(words & g.words))
                return f"{item.text} misquotes the given {g.raw} ({shared})"
    return None


def _clause(sentence: str, start: int, end: int) -> str:
    """The clause around a span: up to the nearest comma, semicolon or `and` either side."""
    before = re.split(r"[,;]|\band\b", sentence[:start])[-1]
    after = re.split(r"[,;]|\band\b", sentence[end:])[0]
    return before + sentence[start:end] + after


def _names(text: str) -> set[str]:
    return {w for w in re.findall(r"\b[A-Z][a-z]{2,}\b", text) if w not in _NOT_NAMES}


def _misnamed(step: str, names: set[str], given: str) -> str | None:
    """A near-spelling of a given name that the given text does not have."""
    if not names:
        return None
    lower = given.lower()
    for word in re.findall(r"\b[A-Z][a-z]{2,}\b", step):
        if word in names or word in _NOT_NAMES or _stem(word) in lower:
            continue  # "Coffees" for a given "Coffee" is the same word
        for name in names:
            similar = difflib.SequenceMatcher(None, word, name).ratio() >= 0.75
            if len(name) >= 4 and len(word) >= 4 and word[0] == name[0] and similar:
                return f"the name {word!r} misquotes the given {name!r}"
    return None
