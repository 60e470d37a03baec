"""Text scorers: `exact`, `contains`, `not_contains`, `regex`."""

from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator

from mixstack.evals._suite import SuiteError
from mixstack.evals.scorers.base import Options, Score, ScoreContext, Scorer, expected_text

__all__ = ["ContainsScorer", "ExactScorer", "NotContainsScorer", "RegexScorer"]

_SPACES = re.compile(r"\s+")


def _norm(text: str, ignore_case: bool) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text.casefold() if ignore_case else text


class ExactOptions(Options):
    value: Any = None
    ignore_case: bool = False
    #: trailing punctuation such as a final period does not count
    strip_punctuation: bool = True


class ExactScorer(Scorer[ExactOptions]):
    """The whole answer equals the expected value (whitespace normalized)."""

    name = "exact"
    options_model = ExactOptions

    def check(self, ctx: ScoreContext) -> Score:
        o = self.options
        want = _norm(expected_text(o.value, ctx, self.name), o.ignore_case)
        got = _norm(ctx.output, o.ignore_case)
        if o.strip_punctuation:
            want, got = want.rstrip(".!;:,"), got.rstrip(".!;:,")
        return Score.of(got == want, "" if got == want else f"got {got[:80]!r}")


class ContainsOptions(Options):
    value: str | list[str] | None = None
    ignore_case: bool = True
    #: with a list: pass when any (instead of all) of the values occurs
    any: bool = False


def _needles(value: Any, ctx: ScoreContext, name: str) -> list[str]:
    chosen = value if value is not None else ctx.expected
    if isinstance(chosen, list):
        return [str(v) for v in chosen]
    return [expected_text(chosen, ctx, name)]


class ContainsScorer(Scorer[ContainsOptions]):
    """Every expected string (or any, with `any: true`) occurs in the answer."""

    name = "contains"
    options_model = ContainsOptions

    def check(self, ctx: ScoreContext) -> Score:
        o = self.options
        needles = _needles(o.value, ctx, self.name)
        hay = _norm(ctx.output, o.ignore_case)
        found = [n for n in needles if _norm(n, o.ignore_case) in hay]
        missing = [n for n in needles if n not in found]
        passed = bool(found) if o.any else not missing
        return Score(len(found) / len(needles), passed, f"missing {missing}" if missing else "")


class NotContainsScorer(Scorer[ContainsOptions]):
    """None of the given strings occurs in the answer."""

    name = "not_contains"
    options_model = ContainsOptions

    def check(self, ctx: ScoreContext) -> Score:
        o = self.options
        needles = _needles(o.value, ctx, self.name)
        hay = _norm(ctx.output, o.ignore_case)
        found = [n for n in needles if _norm(n, o.ignore_case) in hay]
        return Score.of(not found, f"found {found}" if found else "")


class RegexOptions(Options):
    pattern: str | None = None
    ignore_case: bool = False
    #: the whole answer must match, not just a part of it
    full: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value


class RegexScorer(Scorer[RegexOptions]):
    """The answer matches `pattern` (or the case's expected value used as a pattern)."""

    name = "regex"
    options_model = RegexOptions

    def check(self, ctx: ScoreContext) -> Score:
        o = self.options
        pattern = o.pattern if o.pattern is not None else expected_text(None, ctx, self.name)
        try:
            rx = re.compile(pattern, re.IGNORECASE if o.ignore_case else 0)
        except re.error as exc:
            raise SuiteError(
                f"case {ctx.case.id!r}: regex: bad pattern {pattern!r} ({exc}); fix it."
            ) from exc
        text = ctx.output.strip()
        match = rx.fullmatch(text) if o.full else rx.search(text)
        return Score.of(match is not None)
