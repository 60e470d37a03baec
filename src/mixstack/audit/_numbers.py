"""Numbers as people write them in reasoning: thousands separators, money, percentages,
scale words, units; and the tolerance with which a stated result may round an exact one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from mixstack.audit._clock import spans

__all__ = [
    "NUMBER_RE",
    "Quantity",
    "approx_equal",
    "matches_stated",
    "parse_number",
    "quantities",
    "unit_factor",
]

_SCALES = {
    "thousand": 1_000,
    "k": 1_000,
    "million": 1_000_000,
    "m": 1_000_000,
    "mn": 1_000_000,
    "billion": 1_000_000_000,
    "bn": 1_000_000_000,
    "b": 1_000_000_000,
}

#: a written number (signs are left to the expression parser): optional currency, thousands
#: groups or plain digits, decimals, an optional percent sign or scale word. Thousands groups
#: need exactly three digits each.
NUMBER_RE = re.compile(
    r"(?P<cur>[$€£¥₹]\s?)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?(?![\d,]\d)"
    r"(?P<pct>\s?%|\s?percent\b)?"
    r"(?P<scale>\s?(?:thousand|million|billion|bn|mn)\b|[kKMB]\b)?"
)

_WORD_NUMBERS: dict[str, int | Fraction] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
    "half": Fraction(1, 2),
    "twice": 2,
    "double": 2,
    "triple": 3,
    "quarter": Fraction(1, 4),
}
WORD_NUMBER_RE = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Quantity:
    """One number as written: exact value, decimals shown, percent and currency marks."""

    value: Fraction
    decimals: int
    percent: bool
    currency: str
    scale: int
    raw: str
    start: int
    end: int

    @property
    def plain(self) -> Fraction:
        """The value with a percent read as a fraction (25% → 1/4)."""
        return self.value / 100 if self.percent else self.value

    @property
    def resolution(self) -> Fraction:
        """Half a unit of the last digit written (1.25 → 0.005; 1.2 million → 50,000)."""
        return Fraction(1, 2 * 10**self.decimals) * self.scale


def parse_number(match: re.Match[str]) -> Quantity:
    digits = match.group("int").replace(",", "")
    dec = match.group("dec") or ""
    value = Fraction(int(digits)) + (Fraction(int(dec), 10 ** len(dec)) if dec else 0)
    scale_word = (match.group("scale") or "").strip().lower()
    scale = _SCALES.get(scale_word, 1)
    value *= scale
    return Quantity(
        value=value,
        decimals=len(dec),
        percent=bool(match.group("pct")),
        currency=(match.group("cur") or "").strip(),
        scale=scale,
        raw=match.group(0).strip(),
        start=match.start(),
        end=match.end(),
    )


def quantities(text: str, *, words: bool = False) -> list[Quantity]:
    """Every number in `text` (digits; with `words`, also number words like `three`); the
    digits of clock times and dates (14:20, March 3, 2024-03-05) are not quantities."""
    masked = spans(text)

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in masked)

    found = [parse_number(m) for m in NUMBER_RE.finditer(text) if free(m.start(), m.end())]
    if words:
        for m in WORD_NUMBER_RE.finditer(text):
            value = Fraction(_WORD_NUMBERS[m.group(1).lower()])
            found.append(Quantity(value, 0, False, "", 1, m.group(0), m.start(), m.end()))
        found.sort(key=lambda q: q.start)
    return found


def matches_stated(exact: Fraction, stated: Quantity, *, approx: bool = False) -> bool:
    """Whether a stated result is a faithful writing of an exact value.

    Rounding and truncation to the digits shown are fine; an integer written for a
    non-integer value may be its floor or ceiling ("17 / 5 = 4 boxes"); a result marked as
    approximate may be off by 5%. A percent result may be the fraction or its hundredfold.
    """
    targets = [stated.plain, stated.value] if stated.percent else [stated.value]
    return any(_close(exact, t, stated, approx) for t in targets)


def _close(exact: Fraction, target: Fraction, stated: Quantity, approx: bool) -> bool:
    if exact == target:
        return True
    if approx and abs(exact - target) <= abs(exact) * Fraction(5, 100):
        return True
    if stated.decimals == 0 and stated.scale == 1 and not stated.percent:
        if exact.denominator == 1:
            return False
        return target in (math.floor(exact), math.ceil(exact))
    # rounding (any rule) or truncation to the digits shown: within one unit of the last digit
    step = stated.resolution * 2
    if stated.percent and target == stated.plain:
        step /= 100
    return abs(exact - target) <= step


def approx_equal(a: Fraction, b: Quantity) -> bool:
    """Loose equality for matching a number against known ones (restatements, rounding)."""
    return matches_stated(a, b) or (b.percent and a in (b.value, b.plain))


# -- units ---------------------------------------------------------------------------------

_UNITS: dict[str, tuple[str, Fraction]] = {}


def _unit(dimension: str, factor: Fraction | int, *names: str) -> None:
    for name in names:
        _UNITS[name] = (dimension, Fraction(factor))


_unit("time", 1, "s", "sec", "secs", "second", "seconds")
_unit("time", 60, "min", "mins", "minute", "minutes")
_unit("time", 3600, "h", "hr", "hrs", "hour", "hours")
_unit("time", 86400, "day", "days")
_unit("time", 604800, "week", "weeks", "wk", "wks")
_unit("length", Fraction(1, 1000), "mm", "millimeter", "millimeters", "millimetre", "millimetres")
_unit("length", Fraction(1, 100), "cm", "centimeter", "centimeters", "centimetre", "centimetres")
_unit("length", 1, "m", "meter", "meters", "metre", "metres")
_unit("length", 1000, "km", "kilometer", "kilometers", "kilometre", "kilometres")
_unit("length", Fraction(254, 10000), "in", "inch", "inches")
_unit("length", Fraction(3048, 10000), "ft", "foot", "feet")
_unit("length", Fraction(9144, 10000), "yd", "yard", "yards")
_unit("length", Fraction(1609344, 1000), "mile", "miles", "mi")
_unit("mass", Fraction(1, 1000), "mg", "milligram", "milligrams")
_unit("mass", 1, "g", "gram", "grams")
_unit("mass", 1000, "kg", "kilogram", "kilograms", "kilo", "kilos")
_unit("mass", 1_000_000, "tonne", "tonnes")
_unit("mass", Fraction(45359237, 100000), "lb", "lbs", "pound", "pounds")
_unit("mass", Fraction(45359237, 1600000), "oz", "ounce", "ounces")
_unit("volume", Fraction(1, 1000), "ml", "milliliter", "milliliters", "millilitre", "millilitres")
_unit("volume", 1, "l", "liter", "liters", "litre", "litres")
_unit("money", Fraction(1, 100), "cent", "cents")
_unit("money", 1, "dollar", "dollars")
_unit("count", 1, "item", "items", "unit", "units")
_unit("count", 12, "dozen", "dozens")


def unit_factor(word: str) -> tuple[str, Fraction] | None:
    """(dimension, size in the dimension's base unit) for an unambiguous unit word."""
    return _UNITS.get(word.lower().rstrip("."))
