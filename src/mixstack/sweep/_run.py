"""Run a suite's cases through the pipeline at every length × depth, per model.

Lengths are prompt sizes in tokens, counted with the target model's own tokenizer when it
has one (in-process models), with the provider's count when it gives one, else approximated
at four characters per token (the report says which). A length whose prompt plus answer
would not fit the model's context window is skipped and reported, never failed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mixstack._tokens import CHARS_PER_TOKEN, estimate_tokens
from mixstack._types import Completion, ContentPart, Message, Request, TextPart
from mixstack.catalog import ModelEntry
from mixstack.errors import MixstackError
from mixstack.evals._evaluate import check_scorers
from mixstack.evals._suite import Case, Suite, SuiteError, Variant
from mixstack.evals.scorers import ScoreContext, ScorerEnv, ScorerError, ScorerRegistry
from mixstack.pipeline import Pipeline
from mixstack.sweep._filler import filler_sentences
from mixstack.sweep._haystack import KeyContext, SweepError, build_haystack, key_context

__all__ = [
    "ErrorKind",
    "SweepCall",
    "SweepOutcome",
    "SweepProgress",
    "SweepSettings",
    "SweepSkip",
    "TokenCounter",
    "run_sweep",
]

ErrorKind = Literal["wrong", "distractor", "refusal", "format", "error"]

#: answer length when the suite sets none (the sweep measures reading, not writing)
DEFAULT_ANSWER_TOKENS = 64

_REFUSAL = re.compile(
    r"\b(?:i (?:cannot|can't|can not|could not|couldn't|do not|don't) (?:find|know|say|determine|"
    r"answer|see)|i am unable|i'm unable|i'm not sure|not (?:mentioned|stated|provided|given|"
    r"specified|found|available) in|no (?:information|mention) (?:about|of|on)|"
    r"does not (?:say|mention|specify|state)|doesn't (?:say|mention|specify|state)|unknown)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SweepSettings:
    models: list[str]
    lengths: list[int]
    depths: list[float]
    distractors: int = 0
    filler: Path | None = None
    concurrency: int = 1
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class SweepCall:
    """One case at one length and depth on one model."""

    model: str
    case: str
    length: int
    depth: float
    passed: bool
    kind: ErrorKind | None
    prompt_tokens: int
    output: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "case": self.case,
            "length": self.length,
            "depth": self.depth,
            "passed": self.passed,
            "error_kind": self.kind,
            "prompt_tokens": self.prompt_tokens,
            "output": self.output[:300],
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class SweepSkip:
    model: str
    length: int
    reason: str
    case: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "length": self.length,
            "case": self.case,
            "reason": self.reason,
        }


@dataclass(slots=True)
class SweepOutcome:
    calls: list[SweepCall] = field(default_factory=list)
    skipped: list[SweepSkip] = field(default_factory=list)
    tokenizers: dict[str, str] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)
    cases: int = 0


class TokenCounter:
    """Counts tokens the way the target model does, or says that it approximates."""

    def __init__(self, pipeline: Pipeline, entry: ModelEntry):
        self.entry = entry
        self.provider = pipeline.catalog.provider_for(entry)
        self._text: Callable[[str], int]
        if self.provider.count_text_tokens(entry, "probe") is not None:
            self._text = self._exact
            self.kind = "exact (the model's tokenizer)"
        elif self.provider.count_prompt_tokens(entry, Request.from_prompt("probe")) is not None:
            base = self._provider_count(Request.from_prompt("x")) - 1
            self._text = lambda text: max(0, self._provider_count(Request.from_prompt(text)) - base)
            self.kind = "the provider's count"
        else:
            self._text = lambda text: max(1, estimate_tokens(text))
            self.kind = f"approximate ({CHARS_PER_TOKEN} characters per token)"

    def _exact(self, text: str) -> int:
        return self.provider.count_text_tokens(self.entry, text) or 0

    def _provider_count(self, request: Request) -> int:
        return self.provider.count_prompt_tokens(self.entry, request) or 0

    def text(self, text: str) -> int:
        return self._text(text)

    def prompt(self, request: Request) -> int:
        counted = self.provider.count_prompt_tokens(self.entry, request)
        if counted is not None:
            return counted
        return sum(self._text(m.text) + 4 for m in request.messages)


def _with_document(suite: Suite, case: Case, variant: Variant, document: str) -> Request:
    """The case's request with the haystack as its `context` (or before the question)."""
    placed = case.model_copy(update={"vars": {**case.vars, "context": document}})
    request = suite.build_request(placed, variant)
    if not document or any(document in m.text for m in request.messages):
        return request
    messages = list(request.messages)
    last = max(i for i, m in enumerate(messages) if m.role == "user")
    user = messages[last]
    parts: tuple[ContentPart, ...] = (TextPart(text=f"{document}\n\n{user.text}"), *user.images)
    messages[last] = Message(role="user", content=parts)
    return request.with_changes(messages=tuple(messages))


def classify(
    passed: bool, output: str, expected: Any, key: KeyContext, scorer_error: bool
) -> ErrorKind | None:
    """Why an answer failed: a distractor's value, a refusal, a format problem, or wrong."""
    if passed:
        return None
    if scorer_error:
        return "format"
    text = output.strip()
    if any(re.search(rf"(?<![\w]){re.escape(m)}(?![\w])", text) for m in key.markers):
        return "distractor"
    if not text or _REFUSAL.search(text):
        return "refusal"
    if _numeric(expected) and not re.search(r"\d", text):
        return "format"
    return "wrong"


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(re.fullmatch(r"\s*-?[\d,]+(?:\.\d+)?\s*", value))


def _checked_cases(suite: Suite, registry: ScorerRegistry, limit: int | None) -> list[Case]:
    """Every case (the first `limit`), with its scorers and template checked up front."""
    cases: list[Case] = []
    for case in suite.iter_cases():
        if limit is not None and len(cases) >= limit:
            break
        check_scorers(suite, case, registry)
        _with_document(suite, case, suite.variants[0], "")
        cases.append(case)
    if not cases:
        raise SuiteError(f"{suite.path}: the suite has no cases; add some.")
    return cases


class SweepProgress(Protocol):
    """Where a sweep reports its calls (the CLI's progress bar or lines)."""

    def add_total(self, model: str, more: int) -> None: ...

    def advance(self, model: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Job:
    case: Case
    depth: float
    request: Request
    prompt_tokens: int


async def run_sweep(
    suite: Suite,
    pipeline: Pipeline,
    settings: SweepSettings,
    *,
    on_progress: Callable[[str], None] | None = None,
    progress: SweepProgress | None = None,
) -> SweepOutcome:
    """Run every planned call. `on_progress` gets a line per model and length; `progress`
    gets the calls as they are planned (`add_total`) and done (`advance`)."""
    registry = ScorerRegistry(ScorerEnv(base_dir=suite.base_dir, catalog=pipeline.catalog))
    cases = _checked_cases(suite, registry, settings.limit)
    keys = {
        c.id: key_context(
            c.id, c.origin, {**c.extra, **c.vars}, settings.distractors, expected=c.expected
        )
        for c in cases
    }
    sentences = filler_sentences(settings.filler)
    outcome = SweepOutcome(cases=len(cases))
    for model in settings.models:
        entry = pipeline.catalog.get(model)
        counter = TokenCounter(pipeline, entry)
        outcome.tokenizers[model] = counter.kind
        outcome.windows[model] = entry.context_window
        plan = _Planner(suite, sentences, counter, keys, outcome)
        for length in settings.lengths:
            # deepest needle first, cases inner: consecutive prompts share the longest prefix,
            # which in-process models keep in their KV cache
            per_case = [plan.jobs(case, length, settings.depths) for case in cases]
            jobs = [
                job
                for depth in sorted(settings.depths, reverse=True)
                for case_jobs in per_case
                for job in case_jobs
                if job.depth == depth
            ]
            if on_progress is not None and jobs:
                on_progress(f"{model}: {length} tokens, {len(jobs)} calls")
            if progress is not None and jobs:
                progress.add_total(model, len(jobs))
            calls = await _run_jobs(
                pipeline, registry, suite, model, length, jobs, keys, settings, progress
            )
            outcome.calls.extend(calls)
    return outcome


class _Planner:
    """Builds the requests of one model: sizes the haystack with that model's tokenizer."""

    def __init__(
        self,
        suite: Suite,
        sentences: tuple[str, ...],
        counter: TokenCounter,
        keys: dict[str, KeyContext],
        outcome: SweepOutcome,
    ):
        self.suite = suite
        self.variant = suite.variants[0]
        self.sentences = sentences
        self.sentence_tokens = [counter.text(s) for s in sentences]
        self.counter = counter
        self.keys = keys
        self.outcome = outcome

    def _skip(self, length: int, reason: str, case: str | None = None) -> None:
        model = self.counter.entry.name
        if case is None and any(
            s.model == model and s.length == length for s in self.outcome.skipped
        ):
            return
        self.outcome.skipped.append(SweepSkip(model, length, reason, case))

    def _request(self, case: Case, document: str, answer_tokens: int) -> Request:
        request = _with_document(self.suite, case, self.variant, document)
        params = request.params.model_copy(update={"max_tokens": answer_tokens})
        return request.with_changes(params=params)

    def jobs(self, case: Case, length: int, depths: list[float]) -> list[_Job]:
        window = self.counter.entry.context_window
        empty = _with_document(self.suite, case, self.variant, "")
        answer = empty.params.max_tokens or DEFAULT_ANSWER_TOKENS
        if length + answer > window:
            self._skip(length, f"beyond the context window ({length} + {answer} > {window})")
            return []
        overhead = self.counter.prompt(self._request(case, "", answer)) + 2
        key = self.keys[case.id]
        needed = overhead + self.counter.text(" ".join(key.needle))
        needed += sum(self.counter.text(d) for d in key.distractors)
        if needed > length:
            self._skip(length, f"too short: question and key context need {needed}", case.id)
            return []
        return [self._fit(case, key, length, length - overhead, depth, answer) for depth in depths]

    def _fit(
        self, case: Case, key: KeyContext, length: int, budget: int, depth: float, answer: int
    ) -> _Job:
        """Build the prompt, count it whole and correct the filler budget until it lands
        just under `length` (the sum of sentence counts only estimates the whole)."""
        best: _Job | None = None
        for _ in range(5):
            hay = build_haystack(
                self.sentences, self.sentence_tokens, budget, key, depth, self.counter.text
            )
            request = self._request(case, hay.text, answer)
            tokens = self.counter.prompt(request)
            if tokens <= length:
                best = _Job(case, depth, request, tokens)
                if length - tokens <= max(8, length // 100):
                    break
                budget += length - tokens
            else:
                budget -= tokens - length
        if best is None:
            raise SweepError(
                f"{case.origin}: case {case.id!r}: no prompt of at most {length} tokens could "
                "be built; use longer --lengths."
            )
        return best


async def _run_jobs(
    pipeline: Pipeline,
    registry: ScorerRegistry,
    suite: Suite,
    model: str,
    length: int,
    jobs: list[_Job],
    keys: dict[str, KeyContext],
    settings: SweepSettings,
    progress: SweepProgress | None = None,
) -> list[SweepCall]:
    gate = asyncio.Semaphore(max(1, settings.concurrency))

    async def one(case: Case, depth: float, request: Request, tokens: int) -> SweepCall:
        try:
            return await scored(case, depth, request, tokens)
        finally:
            if progress is not None:
                progress.advance(model)

    async def scored(case: Case, depth: float, request: Request, tokens: int) -> SweepCall:
        async with gate:
            try:
                completion = await pipeline.complete(
                    request.with_changes(model=model), front_door="sweep"
                )
            except MixstackError as exc:
                return SweepCall(model, case.id, length, depth, False, "error", tokens, "",
                                 exc.message)  # fmt: skip
        passed, scorer_error, detail = await _score(registry, suite, case, completion)
        kind = classify(passed, completion.text, case.expected, keys[case.id], scorer_error)
        return SweepCall(
            model, case.id, length, depth, passed, kind,
            completion.usage.prompt_tokens or tokens, completion.text, detail,
        )  # fmt: skip

    return list(
        await asyncio.gather(*(one(j.case, j.depth, j.request, j.prompt_tokens) for j in jobs))
    )


async def _score(
    registry: ScorerRegistry, suite: Suite, case: Case, completion: Completion
) -> tuple[bool, bool, str]:
    ctx = ScoreContext(case=case, completion=completion)
    passed = True
    details: list[str] = []
    for spec in suite.scorers_for(case):
        try:
            score = await registry.build(spec).score(ctx)
        except (ScorerError, SweepError) as exc:
            return False, True, exc.message
        if not score.passed:
            passed = False
            if score.detail:
                details.append(score.detail)
    return passed, False, "; ".join(details)
