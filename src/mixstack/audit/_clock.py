"""Clock times, calendar dates, weekdays and durations in reasoning steps.

`14:20 plus 1 hour is 15:20` is not the sum 20 + 1: times and dates are found first, kept
away from the plain-number arithmetic (`spans`), and their own relations are checked here:
a time plus or minus a duration, the duration between two times, the same for dates and
weekdays. A time without am/pm may be read on a 12-hour clock, so `2:30 + 1 hour = 3:30`
and `11:30 + 1 hour = 12:30` both hold.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "TimeRelation",
    "clock_value",
    "duration_value",
    "items",
    "same_clock",
    "spans",
    "time_relations",
]

_AMPM = r"(?:\s?(?P<ap>[ap])\.?\s?m\b\.?)"
_CLOCK = re.compile(
    r"\b(?P<h>[01]?\d|2[0-3])(?::(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?" + _AMPM + r"?"
    r"|\s?(?P<ap2>[ap])\.?\s?m\b\.?)|\b(?P<word>noon|midnight)\b",
    re.IGNORECASE,
)
_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
_DATES = (
    re.compile(r"\b(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})\b"),
    re.compile(r"\b" + _MONTH + r"\s+" + _DAY + r"\b" + _YEAR, re.IGNORECASE),
    re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"\b" + _YEAR, re.IGNORECASE),
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b", re.IGNORECASE)
_DURATION_UNITS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
    "day": 86400, "days": 86400, "week": 604800, "weeks": 604800,
}  # fmt: skip
_DUR_PART = (
    r"(?:(?P<n>\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|half an?)"
    r"\s*(?P<u>" + "|".join(sorted(_DURATION_UNITS, key=len, reverse=True)) + r")\b)"
)
_DURATION = re.compile(
    r"\b" + _DUR_PART.replace("?P<n>", "?:").replace("?P<u>", "?:")
    + r"(?:(?:\s*,\s*|\s+and\s+|\s+)" + _DUR_PART.replace("?P<n>", "?:").replace("?P<u>", "?:")
    + r")*",
    re.IGNORECASE,
)  # fmt: skip
_PART = re.compile(_DUR_PART, re.IGNORECASE)
_SMALL = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # "time", "date", "weekday", "duration"
    value: Fraction  # seconds since midnight / day ordinal / weekday index / seconds
    text: str
    start: int
    end: int
    twelve: bool = False  # a time that may be on a 12-hour clock
    compound: bool = False  # a duration in several units ("1 hour 35 minutes")


def clock_value(text: str) -> tuple[Fraction, bool] | None:
    """Seconds since midnight of a written time, and whether it may be a 12-hour reading."""
    m = _CLOCK.fullmatch(text.strip())
    return None if m is None else _clock(m)


def _clock(m: re.Match[str]) -> tuple[Fraction, bool] | None:
    word = m.group("word")
    if word:
        return Fraction(12 * 3600 if word.lower() == "noon" else 0), False
    ap = (m.group("ap") or m.group("ap2") or "").lower()
    if m.group("m") is None and not ap:
        return None
    hours = int(m.group("h"))
    if ap:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if ap == "p" else 0)
    seconds = hours * 3600 + int(m.group("m") or 0) * 60 + int(m.group("s") or 0)
    return Fraction(seconds), not ap and 1 <= hours <= 12


def same_clock(a: str, b: str) -> bool | None:
    """Whether two answers name the same clock time (None: not both clock times)."""
    va, vb = clock_value(a.rstrip(".")), clock_value(b.rstrip("."))
    if va is None or vb is None:
        return None
    return _clock_equal(va[0], vb[0], va[1] or vb[1])


def duration_value(text: str) -> Fraction | None:
    """Seconds of a text that is one duration ("2 hours 25 minutes"), else None."""
    m = _DURATION.fullmatch(text.strip().rstrip("."))
    return None if m is None else _duration(m.group(0))


def _clock_equal(a: Fraction, b: Fraction, twelve: bool) -> bool:
    period = 12 * 3600 if twelve else 24 * 3600
    return (a - b) % period == 0


def _date(m: re.Match[str], default_year: int) -> dt.date | None:
    mon = m.group("mon")
    month = int(mon) if mon.isdigit() else _MONTHS[mon.lower().rstrip(".")]
    year = int(m.group("year")) if m.group("year") else default_year
    try:
        return dt.date(year, month, int(m.group("day")))
    except ValueError:
        return None


def _duration(text: str) -> Fraction:
    total = Fraction(0)
    for part in _PART.finditer(text):
        raw = part.group("n").lower()
        if raw.startswith("half"):
            n = Fraction(1, 2)
        else:
            n = Fraction(_SMALL[raw]) if raw in _SMALL else Fraction(raw)
        total += n * _DURATION_UNITS[part.group("u").lower()]
    return total


def items(text: str, default_year: int = 2023) -> list[_Item]:
    """Times, dates, weekdays and durations of a text, in order, without overlaps."""
    found: list[_Item] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for pattern in _DATES:
        for m in pattern.finditer(text):
            day = _date(m, default_year)
            if day is not None and free(m.start(), m.end()):
                taken.append((m.start(), m.end()))
                found.append(_Item("date", Fraction(day.toordinal()), m.group(0), *m.span()))
    for m in _CLOCK.finditer(text):
        value = _clock(m)
        if value is not None and free(m.start(), m.end()):
            taken.append((m.start(), m.end()))
            found.append(_Item("time", value[0], m.group(0), *m.span(), twelve=value[1]))
    for m in _WEEKDAY.finditer(text):
        if free(m.start(), m.end()):
            taken.append((m.start(), m.end()))
            index = _WEEKDAYS.index(m.group(1).lower())
            found.append(_Item("weekday", Fraction(index), m.group(0), *m.span()))
    for m in _DURATION.finditer(text):
        if free(m.start(), m.end()):
            taken.append((m.start(), m.end()))
            compound = len(_PART.findall(m.group(0))) > 1
            found.append(
                _Item("duration", _duration(m.group(0)), m.group(0), *m.span(), compound=compound)
            )
    return sorted(found, key=lambda i: i.start)


def spans(text: str, *, compound: bool = False) -> list[tuple[int, int]]:
    """Where the clock times and calendar dates are (their digits are not quantities); with
    `compound`, also durations in several units (their sums are checked here, not as
    plain numbers: `8 hours 30 minutes - 30 minutes` is not 30 − 30)."""
    return [
        (i.start, i.end)
        for i in items(text)
        if i.kind in ("time", "date") or (compound and i.compound)
    ]


# -- relations --------------------------------------------------------------------------------

_LINK = (
    r"(?:=|→|->|=>|\bis\b|\bare\b|\bwas\b|\bequals\b|\bgives\b|\bmakes\b|\bbrings (?:us|it|him|her|"
    r"them) to\b|\bgets (?:us|you) to\b|\bwill be\b|\bwould be\b|\bcomes to\b|\blands? (?:at|on)\b|"
    r"\barrives? at\b|\bends? at\b|\bfinish(?:es)? at\b)"
)
_PLUS = r"(?:\+|\bplus\b|\band\b|\badding\b|\bafter adding\b)"
_MINUS = r"(?:-|−|–|\bminus\b|\bless\b)"


@dataclass(frozen=True, slots=True)
class TimeRelation:
    text: str
    ok: bool
    expected: str  # the right result, written like the stated one
    result: str = ""  # the stated result as written


def time_relations(text: str, default_year: int = 2023) -> list[TimeRelation]:
    """Every checkable time, date, weekday or duration relation in one step."""
    found = items(text, default_year)
    out: list[TimeRelation] = []
    i = 0
    while i < len(found):
        nxt = i + 1
        for j in range(i + 1, min(i + 3, len(found))):
            rel = _pair(text, found, i, j, text[found[i].end : found[j].start])
            if rel is not None:
                out.append(rel)
                # the result may start the next relation of a chain, never an operand
                nxt = next((k for k in range(j, len(found)) if found[k].text == rel.result), j)
                break
        i = nxt
    return out


def _pair(text: str, found: list[_Item], i: int, j: int, between: str) -> TimeRelation | None:
    a, b = found[i], found[j]
    # "TIME plus DURATION is TIME", "DATE + DURATION = DATE"
    if a.kind in ("time", "date", "weekday") and b.kind == "duration":
        op = re.fullmatch(r"\s*(" + _PLUS + "|" + _MINUS + r"|\blater\b)\s*", between, re.I)
        result = _result_after(text, found, j)
        if op is None or result is None or result.kind != a.kind:
            return None
        sign = -1 if re.fullmatch(r"\s*" + _MINUS + r"\s*", between, re.I) else 1
        return _check_shift(a, b.value * sign, result, text)
    # "DURATION after TIME is TIME", "3 days before March 5 is March 2"
    if a.kind == "duration" and b.kind in ("time", "date", "weekday"):
        op = re.fullmatch(
            r"\s*(after|from|past|later than|before|earlier than|to)\s*", between, re.I
        )
        result = _result_after(text, found, j)
        if op is None or result is None or result.kind != b.kind:
            return None
        sign = -1 if op.group(1).lower() in ("before", "earlier than", "to") else 1
        relation = _check_shift(b, a.value * sign, result, text)
        return TimeRelation(
            text[a.start : result.end], relation.ok, relation.expected, relation.result
        )
    # "8 hours 30 minutes - 30 minutes = 8 hours", "90 minutes = 1 hour 30 minutes"
    if a.kind == "duration" and b.kind == "duration":
        return _durations(text, found, i, j, between)
    # "from TIME to TIME is DURATION", "TIME - TIME = DURATION"
    if a.kind == b.kind and a.kind in ("time", "date", "weekday"):
        result = _result_after(text, found, j)
        if result is None or result.kind != "duration":
            return None
        before = text[max(0, a.start - 12) : a.start].lower()
        if re.fullmatch(r"\s*(to|until|till|through|and|-|–)\s*", between, re.I) and re.search(
            r"(from|between)\s*$", before
        ):
            return _check_span(a, b, result, text)
        if re.fullmatch(r"\s*" + _MINUS + r"\s*", between, re.I):
            relation = _check_span(b, a, result, text)
            return TimeRelation(
                text[a.start : result.end], relation.ok, relation.expected, relation.result
            )
    return None


def _durations(text: str, found: list[_Item], i: int, j: int, between: str) -> TimeRelation | None:
    a, b = found[i], found[j]
    if re.fullmatch(r"\s*,?\s*(?:which\s+)?" + _LINK + r"\s*", between, re.I):
        if not (a.compound or b.compound):
            return None  # single-unit conversions are checked with the plain arithmetic
        return TimeRelation(
            text[a.start : b.end], a.value == b.value, _fmt_duration(a.value), b.text
        )
    op = re.fullmatch(r"\s*(" + _PLUS + "|" + _MINUS + r")\s*", between, re.I)
    result = _result_after(text, found, j)
    if op is None or result is None or result.kind != "duration":
        return None
    if not (a.compound or b.compound or result.compound):
        return None
    minus = re.fullmatch(r"\s*" + _MINUS + r"\s*", between, re.I) is not None
    value = a.value - b.value if minus else a.value + b.value
    return TimeRelation(
        text[a.start : result.end], value == result.value, _fmt_duration(value), result.text
    )


def _result_after(text: str, found: list[_Item], j: int) -> _Item | None:
    if j + 1 >= len(found):
        return None
    nxt = found[j + 1]
    gap = text[found[j].end : nxt.start]
    if re.fullmatch(
        r"\s*,?\s*(?:which\s+|that\s+|so\s+(?:it\s+)?)?" + _LINK + r"\s*(?:at\s+|on\s+)?", gap, re.I
    ):
        return nxt
    return None


def _unit(kind: str) -> Fraction:
    return Fraction(86400) if kind == "date" else Fraction(1)


def _check_shift(start: _Item, shift: Fraction, result: _Item, text: str) -> TimeRelation:
    span = text[start.start : result.end]
    if start.kind == "time":
        value = start.value + shift
        ok = _clock_equal(value, result.value, start.twelve or result.twelve)
        return TimeRelation(span, ok, _fmt_clock(value % 86400, result), result.text)
    if start.kind == "weekday":
        if shift % 86400:
            # a weekday plus hours: not checked
            return TimeRelation(span, True, result.text, result.text)
        value = (start.value + shift / 86400) % 7
        weekday = _WEEKDAYS[int(value)].capitalize()
        return TimeRelation(span, value == result.value, weekday, result.text)
    if shift % 86400:
        return TimeRelation(span, True, result.text, result.text)
    value = start.value + shift / 86400
    ok = value == result.value
    return TimeRelation(span, ok, _fmt_date(value), result.text)


def _check_span(first: _Item, second: _Item, result: _Item, text: str) -> TimeRelation:
    span = text[first.start : result.end]
    if first.kind == "time":
        diff = (second.value - first.value) % 86400
        ok = diff == result.value or (
            (first.twelve or second.twelve) and (second.value - first.value) % 43200 == result.value
        )
        return TimeRelation(span, ok, _fmt_duration(diff), result.text)
    if first.kind == "weekday":
        days = (second.value - first.value) % 7
        return TimeRelation(span, days * 86400 == result.value, f"{days} days", result.text)
    days = second.value - first.value
    return TimeRelation(span, days * 86400 == result.value, f"{days} days", result.text)


def _fmt_clock(seconds: Fraction, like: _Item) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    if re.search(r"[ap]\.?\s?m", like.text, re.I):
        suffix = "am" if hours < 12 else "pm"
        return f"{(hours % 12) or 12}:{minutes:02d} {suffix}"
    if like.twelve and hours > 12:
        hours -= 12
    return f"{hours}:{minutes:02d}"


def _fmt_date(ordinal: Fraction) -> str:
    day = dt.date.fromordinal(int(ordinal))
    return f"{day:%B} {day.day}"


def _fmt_duration(seconds: Fraction) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts + [f"{secs} s"] * bool(secs)) or "0 min"
