"""Arithmetic written in prose, recomputed exactly.

A step is tokenized into numbers, operators, parentheses, links (`=`, `is`, `equals`, `≈`,
`rounded to`, …) and words. Around each link the longest expression on either side is
taken (unit words after a number, like `5 apples + 3 apples`, are skipped), evaluated with
exact fractions and compared with the stated result, allowing the rounding the writer shows.
Unit conversions (`2.5 hours = 150 minutes`) are checked when both units are unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from mixstack.audit._clock import spans
from mixstack.audit._numbers import NUMBER_RE, Quantity, matches_stated, parse_number, unit_factor

__all__ = ["Equation", "equations"]

TokenKind = Literal["num", "op", "lp", "rp", "link", "word", "punct"]


@dataclass(slots=True)
class Token:
    kind: TokenKind
    text: str
    qty: Quantity | None = None
    tight: bool = False  # an operator written without spaces (`5-10` may be a range)
    symbol: bool = False  # a link written as a symbol (`=`) rather than a word (`is`)
    approx: bool = False  # a link that announces an approximate result


@dataclass(frozen=True, slots=True)
class Equation:
    """One checked relation: `left` (an expression) should equal `right` as stated."""

    text: str
    value: Fraction
    stated: Quantity
    ok: bool
    kind: Literal["arithmetic", "conversion"]
    operands: tuple[Fraction, ...]


_LATEX = (
    (re.compile(r"\\frac\{([^{}]+)\}\{([^{}]+)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\(?:times|cdot)"), " × "),
    (re.compile(r"\\div"), " ÷ "),
    (re.compile(r"\\(?:approx|simeq)"), " ≈ "),
    (re.compile(r"\\\$"), "$"),
    (re.compile(r"\\[()\[\]]|\$\$|\\(?:left|right|text|mathrm)\b|[{}]"), " "),
    (re.compile(r"<<[^<>]*>>"), ""),  # GSM8K calculator annotations repeat the text
    (re.compile(r"\*\*|__|`"), ""),
    (re.compile(r"\s[–—]\s"), " - "),
)
_TRANSLATE = str.maketrans(
    {"−": "-", "·": "×", "⋅": "×", "∗": "×", "✕": "×", "⁄": "/", "²": "^2", "³": "^3"}
)
_N = r"([$€£]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?)"
#: operations stated as verbs or nouns: "multiply 12 by 4", "the sum of 3 and 5"
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), repl)
    for pattern, repl in (
        (rf"\bmultipl(?:y|ying|ied)\s+{_N}\s+by\s+{_N}", r"\1 × \2"),
        (rf"\bdivid(?:e|ing|ed)\s+{_N}\s+by\s+{_N}", r"\1 ÷ \2"),
        (rf"\badd(?:ing|ed)?\s+{_N}\s+(?:and|to)\s+{_N}", r"\1 + \2"),
        (rf"\bsubtract(?:ing|ed)?\s+{_N}\s+from\s+{_N}", r"\2 - \1"),
        (rf"\b(?:sum|total)\s+of\s+{_N}\s+and\s+{_N}", r"\1 + \2"),
        (rf"\bproduct\s+of\s+{_N}\s+and\s+{_N}", r"\1 × \2"),
        (rf"\bquotient\s+of\s+{_N}\s+and\s+{_N}", r"\1 ÷ \2"),
    )
)
_DIFFERENCE = re.compile(rf"\bdifference\s+(?:between|of)\s+{_N}\s+and\s+{_N}", re.IGNORECASE)
_WORD_VALUES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip

_SCAN = re.compile(
    r"(?P<num>" + NUMBER_RE.pattern + r")"
    r"|(?P<link>==?|≈|≃|~=|=>|->|→)"
    r"|(?P<op>[+\-×*÷/^])"
    r"|(?P<lp>[(\[])|(?P<rp>[)\]])"
    r"|(?P<word>[A-Za-z]+(?:[-'][A-Za-z]+)*)"
    r"|(?P<punct>[^\s\w])",
)
_OP_WORDS = {"plus": "+", "minus": "-", "times": "×", "over": "/"}
_LINK_WORDS = {
    "is", "are", "was", "were", "equals", "equal", "gives", "give", "makes", "make",
    "yields", "get", "gets", "got", "totals", "comes", "giving", "making", "leaving", "leaves",
    "yielding", "results", "resulting", "that's", "which's",
}  # fmt: skip
_LINK_TAIL = {"to", "equal", "us", "a", "total", "of", "exactly", "in"}
#: "12 × 4, which is 48": the pronoun before a link word belongs to the link
_LINK_PRONOUNS = {"which", "that", "this", "it"}
_APPROX = {"approximately", "approx", "about", "around", "roughly", "nearly", "almost", "rounded"}
#: words that end an expression even right after a number (they start a new clause)
_STOP = {
    "and", "or", "so", "then", "thus", "hence", "therefore", "because", "since", "but", "if",
    "when", "which", "that", "we", "he", "she", "they", "it", "i", "you", "for", "in", "on",
    "at", "by", "is", "are", "was", "left", "remaining", "total", "altogether",
}  # fmt: skip


def _normalize(text: str) -> str:
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    for pattern, repl in _PHRASES:
        text = pattern.sub(repl, text)
    text = _DIFFERENCE.sub(_difference, text)
    return text.translate(_TRANSLATE)


def _difference(m: re.Match[str]) -> str:
    """`the difference between 8 and 20` is 12 whichever comes first."""
    a, b = m.group(1), m.group(2)
    qa, qb = NUMBER_RE.search(a), NUMBER_RE.search(b)
    if qa and qb and parse_number(qa).value < parse_number(qb).value:
        a, b = b, a
    return f"{a} - {b}"


def _mask_times(text: str) -> str:
    """Clock times and dates become one word: `14:20 plus 1 hour` is not 20 + 1 (their own
    relations are checked by `_clock`)."""
    found = spans(text, compound=True)
    for start, end in reversed(found):
        text = f"{text[:start]} clocktime {text[end:]}"
    return text


def tokenize(text: str) -> list[Token]:
    text = _normalize(_mask_times(text))
    tokens: list[Token] = []
    for m in _SCAN.finditer(text):
        kind = m.lastgroup
        raw = m.group(0)
        if kind == "num":
            qty = parse_number(NUMBER_RE.fullmatch(raw) or NUMBER_RE.match(raw))  # type: ignore[arg-type]
            tokens.append(Token("num", raw, qty=qty))
        elif kind == "op":
            before = text[m.start() - 1 : m.start()]
            after = text[m.end() : m.end() + 1]
            tight = not before.isspace() and not after.isspace()
            tokens.append(Token("op", "×" if raw == "*" else raw, tight=tight))
        elif kind == "link":
            tokens.append(Token("link", raw, symbol=True, approx=raw in ("≈", "≃", "~=")))
        elif kind in ("lp", "rp", "punct"):
            tokens.append(Token(kind, raw))  # type: ignore[arg-type]
        elif raw.lower() in _WORD_VALUES:
            value = Fraction(_WORD_VALUES[raw.lower()])
            tokens.append(Token("num", raw, qty=Quantity(value, 0, False, "", 1, raw, 0, 0)))
        else:
            tokens.append(Token("word", raw))
    return _words_to_symbols(tokens)


def _words_to_symbols(tokens: list[Token]) -> list[Token]:
    """Operator and link words become symbols; unit slashes (`km/h`) stay words."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        i += _convert(tokens, i, out)
    return out


_TRAILING_LINKS = {"giving", "leaving", "making", "yielding", "resulting", "that's", "which's"}


def _convert(tokens: list[Token], i: int, out: list[Token]) -> int:
    """Append the symbol(s) for tokens[i:], return how many tokens were used."""
    tok = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    after = tokens[i + 2] if i + 2 < len(tokens) else None
    if tok.kind == "word":
        return _convert_word(tok, nxt, after, out)
    if tok.kind == "op" and tok.text == "/" and nxt is not None and nxt.kind == "word":
        out.append(Token("word", "/" + nxt.text))  # "$5/hour", "km/h"
        return 2
    if tok.kind == "punct" and tok.text == "~" and nxt is not None and nxt.kind == "num":
        if out and out[-1].kind == "link":
            out[-1].approx = True
        return 1
    if tok.kind == "punct" and tok.text == "," and nxt is not None and nxt.kind == "word":
        low = nxt.text.lower()
        if low in _TRAILING_LINKS or (
            low in _LINK_PRONOUNS and after is not None and after.text.lower() in _LINK_WORDS
        ):
            return 1  # "12 × 4, which is 48"
    out.append(tok)
    return 1


def _convert_word(tok: Token, nxt: Token | None, after: Token | None, out: list[Token]) -> int:
    low = tok.text.lower()
    prev = out[-1] if out else None
    prev_is_value = prev is not None and prev.kind in ("num", "rp")
    nxt_low = nxt.text.lower() if nxt is not None else ""
    if low in ("multiplied", "divided") and nxt_low == "by":
        out.append(Token("op", "×" if low == "multiplied" else "÷"))
        return 2
    if low in _OP_WORDS and prev_is_value:
        out.append(Token("op", _OP_WORDS[low]))
        return 1
    if low == "x" and prev_is_value and nxt is not None and nxt.kind in ("num", "lp"):
        out.append(Token("op", "×"))
        return 1
    if low == "of" and prev is not None and _is_fraction_end(out):
        out.append(Token("op", "×"))
        return 2 if nxt_low == "the" else 1
    if low == "half" and nxt_low == "of":
        half = Quantity(Fraction(1, 2), 6, False, "", 1, "half", 0, 0)
        out.extend([Token("num", "half", qty=half), Token("op", "×")])
        return 2
    if low in ("twice", "double") and nxt is not None and nxt.kind == "num":
        two = Quantity(Fraction(2), 6, False, "", 1, low, 0, 0)
        out.extend([Token("num", low, qty=two), Token("op", "×")])
        return 1
    if low in _LINK_PRONOUNS and nxt_low in _LINK_WORDS:
        return 1  # "which is", "that gives": the link word follows
    return _convert_link_word(tok, low, nxt_low, out)


def _convert_link_word(tok: Token, low: str, nxt_low: str, out: list[Token]) -> int:
    if low in _LINK_WORDS or low in ("rounds", "round"):
        if low == "comes" and nxt_low != "to":
            out.append(tok)
        else:
            out.append(Token("link", tok.text, approx=low in ("rounds", "round")))
        return 1
    if out and out[-1].kind == "link" and low in _LINK_TAIL:
        return 1  # "is equal to", "comes to", "gives us"
    if out and out[-1].kind == "link" and low in _APPROX:
        out[-1].approx = True
        return 2 if nxt_low == "to" else 1  # "rounded to"
    out.append(tok)
    return 1


def _is_fraction_end(out: list[Token]) -> bool:
    """`25% of`, `3/4 of`, `(1/3) of`: `of` multiplies."""
    last = out[-1]
    if last.kind == "num" and last.qty is not None and last.qty.percent:
        return True
    if last.kind == "rp":
        return True
    return len(out) >= 3 and last.kind == "num" and out[-2].text in ("/", "÷")


# -- segments around a link -----------------------------------------------------------------


def _unit_words_ahead(tokens: list[Token], i: int) -> int:
    """How many unit-like words start at i and are followed by an operator (≤ 3), else 0."""
    n = 0
    while i + n < len(tokens) and tokens[i + n].kind == "word" and n < 3:
        if tokens[i + n].text.lower() in _STOP:
            return 0
        n += 1
    nxt = tokens[i + n] if i + n < len(tokens) else None
    if n and nxt is not None and (nxt.kind in ("op", "rp") or nxt.kind == "link"):
        return n
    return 0


def _right_segment(tokens: list[Token], start: int) -> list[Token]:
    seg: list[Token] = []
    depth = 0
    i = start
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "word":
            skip = _unit_words_ahead(tokens, i) if seg and seg[-1].kind in ("num", "rp") else 0
            if not skip or (i + skip < len(tokens) and tokens[i + skip].kind == "link"):
                break
            i += skip
            continue
        if tok.kind in ("link", "punct"):
            break
        if tok.kind == "num" and seg and seg[-1].kind in ("num", "rp"):
            break
        if tok.kind == "rp":
            if depth == 0:
                break
            depth -= 1
        if tok.kind == "lp":
            depth += 1
        seg.append(tok)
        i += 1
    while seg and seg[-1].kind == "op":
        seg.pop()
    return seg


def _left_segment(tokens: list[Token], end: int) -> list[Token]:
    seg: list[Token] = []
    depth = 0
    i = end
    while i >= 0:
        tok = tokens[i]
        if tok.kind == "word":
            j = i
            while j >= 0 and tokens[j].kind == "word" and i - j < 3:
                if tokens[j].text.lower() in _STOP:
                    break
                j -= 1
            if j >= 0 and tokens[j].kind == "num" and i - j <= 3:
                i = j
                continue
            break
        if tok.kind in ("link", "punct"):
            break
        if tok.kind == "num" and seg and seg[0].kind in ("num", "lp"):
            break
        if tok.kind == "lp":
            if depth == 0:
                break
            depth -= 1
        if tok.kind == "rp":
            depth += 1
        seg.insert(0, tok)
        i -= 1
    if seg and seg[0].kind == "op" and seg[0].text != "-":
        return []  # "side^2 = …", "+ 5 = …": the expression starts before what we can read
    return seg


# -- evaluation -------------------------------------------------------------------------------


class _Unparsable(Exception):
    pass


@dataclass(slots=True)
class _Val:
    value: Fraction
    percent_literal: bool = False


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0
        self.operands: list[Fraction] = []

    def parse(self) -> Fraction:
        val = self.expr()
        if self.i != len(self.tokens):
            raise _Unparsable
        return val.value

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expr(self) -> _Val:
        left = self.term()
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text in "+-":
            self.i += 1
            right = self.term()
            if right.percent_literal and not left.percent_literal:
                # "$50 + 10%" means 50 increased by 10%
                factor = 1 + right.value if tok.text == "+" else 1 - right.value
                left = _Val(left.value * factor)
            else:
                value = left.value + right.value if tok.text == "+" else left.value - right.value
                left = _Val(value, left.percent_literal and right.percent_literal)
        return left

    def term(self) -> _Val:
        left = self.power()
        while True:
            tok = self.peek()
            if tok is not None and tok.kind == "op" and tok.text in "×÷/":
                self.i += 1
                right = self.power()
                if tok.text == "×":
                    left = _Val(left.value * right.value)
                else:
                    if right.value == 0:
                        raise _Unparsable
                    left = _Val(left.value / right.value)
            elif tok is not None and tok.kind == "lp":  # implicit product: 2(3 + 4)
                right = self.power()
                left = _Val(left.value * right.value)
            else:
                return left

    def power(self) -> _Val:
        base = self.unary()
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.text == "^":
            self.i += 1
            exp = self.unary()
            if exp.value.denominator != 1 or abs(exp.value) > 12:
                raise _Unparsable
            return _Val(base.value ** int(exp.value))
        return base

    def unary(self) -> _Val:
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.text in "+-":
            self.i += 1
            inner = self.unary()
            return _Val(-inner.value if tok.text == "-" else inner.value, inner.percent_literal)
        return self.atom()

    def atom(self) -> _Val:
        tok = self.peek()
        if tok is None:
            raise _Unparsable
        self.i += 1
        if tok.kind == "num" and tok.qty is not None:
            self.operands.append(tok.qty.plain)
            return _Val(tok.qty.plain, tok.qty.percent)
        if tok.kind == "lp":
            inner = self.expr()
            close = self.peek()
            if close is None or close.kind != "rp":
                raise _Unparsable
            self.i += 1
            return _Val(inner.value)
        raise _Unparsable


def _evaluate(seg: list[Token]) -> tuple[Fraction, tuple[Fraction, ...]] | None:
    parser = _Parser(seg)
    try:
        value = parser.parse()
    except _Unparsable:
        return None
    return value, tuple(parser.operands)


def _has_operator(seg: list[Token]) -> bool:
    return any(t.kind == "op" for t in seg[1:]) or (len(seg) > 1 and seg[0].kind == "lp")


def _stated(seg: list[Token]) -> Quantity | None:
    """A right-hand side that is one written number (possibly negative)."""
    nums = [t for t in seg if t.kind == "num"]
    if len(nums) != 1 or nums[0].qty is None:
        return None
    others = [t for t in seg if t.kind != "num"]
    q = nums[0].qty
    if not others:
        return q
    if [t.text for t in others] == ["-"] and seg[0].text == "-":
        return Quantity(-q.value, q.decimals, q.percent, q.currency, q.scale, "-" + q.raw, 0, 0)
    return None


def _unit_after(tokens: list[Token], index: int) -> tuple[str, Fraction] | None:
    if index + 1 < len(tokens) and tokens[index + 1].kind == "word":
        return unit_factor(tokens[index + 1].text)
    return None


def equations(text: str) -> list[Equation]:
    """Every checkable relation in one step, in order."""
    tokens = tokenize(text)
    found: list[Equation] = []
    for i, link in enumerate(tokens):
        if link.kind != "link":
            continue
        left = _left_segment(tokens, i - 1)
        right = _right_segment(tokens, i + 1)
        if not left or not right:
            continue
        if not link.symbol and any(t.tight and t.text == "-" for t in left + right):
            continue  # "ages 5-10 are …": a range, not a subtraction
        eq = _relation(tokens, i, left, right, link)
        if eq is not None:
            found.append(eq)
    return found


def _relation(
    tokens: list[Token], i: int, left: list[Token], right: list[Token], link: Token
) -> Equation | None:
    lv = _evaluate(left)
    if lv is None:
        return None
    value, operands = lv
    text = " ".join(t.text for t in left) + f" {link.text} " + " ".join(t.text for t in right)
    stated = _stated(right)
    if _has_operator(left) and stated is not None:
        ok = matches_stated(value, stated, approx=link.approx)
        return Equation(text, value, stated, ok, "arithmetic", operands)
    labelled = len(left) == 1 and _preceded_by_word(tokens, i - 1)
    if _has_operator(left) or (link.symbol and _has_operator(right) and not labelled):
        rv = _evaluate(right)
        if rv is None:
            return None
        first = next((t.qty for t in right if t.kind == "num" and t.qty is not None), None)
        if first is None:
            return None
        whole = Quantity(rv[0], 12, False, "", 1, "", 0, 0)
        # "3 × 4 = 12 + 2 = 14": a run-on chain continues from the previous result
        ok = matches_stated(value, whole, approx=link.approx) or matches_stated(value, first)
        return Equation(text, value, first if not ok else whole, ok, "arithmetic", operands)
    if stated is not None and len(left) == 1 and left[0].qty is not None:
        return _conversion(tokens, i, left[0].qty, stated, link, text)
    return None


def _preceded_by_word(tokens: list[Token], index: int) -> bool:
    """`Day 2 = 20 + 5`: a lone number after a word is a label, not a value."""
    return index >= 1 and tokens[index].kind == "num" and tokens[index - 1].kind == "word"


def _compound(tokens: list[Token], index: int) -> tuple[str, Fraction, int] | None:
    """`1 hour 30 minutes` from the number at `index`: (dimension, base value, end index)."""
    total = Fraction(0)
    dimension = None
    i = index
    while i + 1 < len(tokens) and tokens[i].kind == "num" and tokens[i].qty is not None:
        unit = unit_factor(tokens[i + 1].text) if tokens[i + 1].kind == "word" else None
        if unit is None or (dimension is not None and unit[0] != dimension):
            break
        dimension = unit[0]
        total += tokens[i].qty.value * unit[1]  # type: ignore[union-attr]
        i += 2
        if i < len(tokens) and tokens[i].kind == "word" and tokens[i].text.lower() == "and":
            i += 1
    if dimension is None:
        return None
    return dimension, total, i


def _conversion(
    tokens: list[Token], i: int, a: Quantity, b: Quantity, link: Token, text: str
) -> Equation | None:
    left_index = i - 1
    while left_index >= 0 and tokens[left_index].kind != "num":
        left_index -= 1
    # walk back over a compound amount ("2 kg 300 g = …")
    while left_index >= 2 and tokens[left_index - 2].kind == "num":
        if (
            tokens[left_index - 1].kind != "word"
            or unit_factor(tokens[left_index - 1].text) is None
        ):
            break
        left_index -= 2
    right_index = i + 1
    while right_index < len(tokens) and tokens[right_index].kind != "num":
        right_index += 1
    ua = _compound(tokens, left_index)
    ub = _compound(tokens, right_index)
    if link.approx and ua is None and ub is None:
        ok = matches_stated(a.plain, b, approx=True)
        return Equation(text, a.plain, b, ok, "arithmetic", (a.plain,))
    if ua is None or ub is None or ua[0] != ub[0] or ua[2] != i:
        return None
    single_b = ub[2] == right_index + 2
    unit_b = unit_factor(tokens[right_index + 1].text)
    if ua[1] == 0 or unit_b is None:
        return None
    if single_b and ua[2] == left_index + 2 and unit_factor(tokens[left_index + 1].text) == unit_b:
        return None  # same unit on both sides: a restatement, not a conversion
    value = ua[1] / unit_b[1]
    # a compound right side ("1 hour 30 minutes") is compared as a whole amount
    stated = b if single_b else Quantity(ub[1] / unit_b[1], 12, False, "", 1, b.raw, 0, 0)
    approx = link.approx or (ua[0] == "length" and unit_b[1] > 1000)
    ok = matches_stated(value, stated, approx=approx)
    span = " ".join(t.text for t in tokens[left_index : ub[2]])
    return Equation(span, value, b, ok, "conversion", (a.value,))
