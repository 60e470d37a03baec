"""Run items (a case prompted one way) against models: bounded, retried, cached, scored.

    for each model: a bounded queue ─► `concurrency` workers ─► cache? ─► pipeline ─► scorers
                                                                                      │
                                           on_result(ResultLine) ◄───────────────────┘

The producer walks the items once and feeds every model's queue, so memory stays flat in the
number of cases. Calls go through `Pipeline.complete(front_door="eval")`, so they are routed
and logged like any other call; `workload/<name>` is a valid model.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mixstack.errors import MixstackError, ProviderError, RateLimited, UserError
from mixstack.evals.cache import ResponseCache, request_key
from mixstack.evals.limiter import AdaptiveLimiter
from mixstack.evals.results import ResultKey, ResultLine, Status
from mixstack.evals.scorers import ScoreContext, ScorerError, ScorerRegistry
from mixstack.evals.suite import Case, EvalItem, ScorerSpec
from mixstack.pipeline import Pipeline
from mixstack.types import Completion, Request

__all__ = ["EvalRunner", "RunOptions", "as_item"]

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 4
    retries: int = 3
    use_cache: bool = True
    timeout_s: float | None = 600.0
    backoff_s: float = 0.5


def as_item(item: EvalItem | tuple[Case, Request]) -> EvalItem:
    return item if isinstance(item, EvalItem) else EvalItem(item[0], item[1])


class _Failed(Exception):
    def __init__(self, error: BaseException, attempts: int):
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


class EvalRunner:
    def __init__(
        self,
        pipeline: Pipeline,
        scorers: ScorerRegistry,
        *,
        scorer_specs: Callable[[Case], list[ScorerSpec]],
        on_result: Callable[[ResultLine], None],
        options: RunOptions = RunOptions(),
        cache: ResponseCache | None = None,
        on_progress: Callable[[str], None] | None = None,
        after_score: Callable[[EvalItem, Completion, ResultLine], Any] | None = None,
    ):
        self.pipeline = pipeline
        self.scorers = scorers
        self.scorer_specs = scorer_specs
        self.on_result = on_result
        self.options = options
        self.cache = cache if options.use_cache else None
        self.on_progress = on_progress
        self.after_score = after_score
        self.limiters: dict[str, AdaptiveLimiter] = {}

    async def run(
        self,
        items: Iterable[EvalItem | tuple[Case, Request]],
        models: list[str],
        skip: set[ResultKey] | frozenset[ResultKey] = frozenset(),
    ) -> None:
        """Send every item to every model (except keys in `skip`), as results stream out."""
        sizes = {m: self._concurrency(m) for m in models}
        queues: dict[str, asyncio.Queue[EvalItem | None]] = {
            m: asyncio.Queue(maxsize=sizes[m] * 2) for m in models
        }
        for model in models:
            if model not in self.limiters:
                self.limiters[model] = AdaptiveLimiter(sizes[model])
        workers = [
            asyncio.create_task(self._worker(model, queues[model]))
            for model in models
            for _ in range(sizes[model])
        ]
        try:
            for raw in items:
                item = as_item(raw)
                for model in models:
                    if (item.case.id, item.variant, model) in skip:
                        continue
                    await queues[model].put(item)
            for model in models:
                for _ in range(sizes[model]):
                    await queues[model].put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _concurrency(self, model: str) -> int:
        """In-process llama.cpp models answer one call at a time: more in flight would only
        queue inside the provider and count the wait as the model's latency."""
        if model in self.pipeline.catalog and self.pipeline.catalog.get(model).provider == "local":
            return 1
        return self.options.concurrency

    async def _worker(self, model: str, queue: asyncio.Queue[EvalItem | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            line = await self.evaluate(item, model)
            self.on_result(line)
            if self.on_progress is not None:
                self.on_progress(model)

    # -- one item, one model ----------------------------------------------------------------

    async def evaluate(self, item: EvalItem, model: str) -> ResultLine:
        case = item.case
        line = ResultLine(
            case=case.id, variant=item.variant, model=model, status="error", expected=case.expected
        )
        request = item.request.with_changes(model=model)
        try:
            completion, cached, attempts = await self._answer(request, model)
        except _Failed as failed:
            exc = failed.error
            line.attempts = failed.attempts
            line.error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            line.error_type = getattr(exc, "error_type", type(exc).__name__)
            return line
        line.attempts = attempts
        line.cached = cached
        line.output = completion.text
        line.tool_calls = [c.model_dump() for c in completion.tool_calls]
        line.answered_by = completion.model
        line.request_id = completion.request_id
        line.prompt_tokens = completion.usage.prompt_tokens
        line.completion_tokens = completion.usage.completion_tokens
        line.cost_usd = completion.usage.cost_usd
        line.latency_ms = round(completion.usage.latency_ms, 3)
        await self._score(case, completion, line)
        if self.after_score is not None:
            extra = self.after_score(item, completion, line)
            if asyncio.iscoroutine(extra):
                await extra
        return line

    async def _score(self, case: Case, completion: Completion, line: ResultLine) -> None:
        ctx = ScoreContext(case=case, completion=completion, call=self.call)
        values: list[float] = []
        status: Status = "pass"
        for spec in self.scorer_specs(case):
            entry: dict[str, Any] = {"scorer": spec.type}
            try:
                score = await self.scorers.build(spec).score(ctx)
            except (ScorerError, UserError) as exc:
                entry["error"] = exc.message
                status = "error"
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
                status = "error"
            else:
                entry.update(value=score.value, passed=score.passed, detail=score.detail)
                values.append(score.value)
                if not score.passed and status == "pass":
                    status = "fail"
            line.scores.append(entry)
        line.status = status
        if status == "error":
            line.error = "; ".join(
                f"{s['scorer']}: {s['error']}" for s in line.scores if "error" in s
            )
            line.error_type = "scorer_error"
        line.score = sum(values) / len(values) if values and status != "error" else None

    async def call(self, request: Request) -> Completion:
        """A call as scorers make it (judges): cached and retried like the model calls."""
        model = request.model or self.pipeline.config.default_model
        if model not in self.limiters:
            self.limiters[model] = AdaptiveLimiter(self.options.concurrency)
        try:
            completion, _, _ = await self._answer(request, model)
        except _Failed as failed:
            raise ScorerError(f"the judge call failed: {failed.error}") from failed.error
        return completion

    async def _answer(self, request: Request, model: str) -> tuple[Completion, bool, int]:
        key = request_key(request) if self.cache is not None else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit, True, 0
        limiter = self.limiters[model]
        attempt = 0
        while True:
            attempt += 1
            try:
                async with limiter:
                    completion = await asyncio.wait_for(
                        self.pipeline.complete(request, front_door="eval"), self.options.timeout_s
                    )
                _check_answered_by(request, model, completion)
            except (RateLimited, ProviderError, TimeoutError) as exc:
                if attempt > self.options.retries or not _retryable(exc):
                    raise _Failed(exc, attempt) from exc
                if _rate_limited(exc):
                    await limiter.rate_limited(getattr(exc, "retry_after_s", None))
                else:
                    delay = self.options.backoff_s * 2 ** (attempt - 1)
                    await asyncio.sleep(delay * (0.5 + random.random()))
                continue
            except MixstackError as exc:
                raise _Failed(exc, attempt) from exc
            limiter.success()
            if self.cache is not None:
                self.cache.put(key, completion)
            return completion, False, attempt


def _check_answered_by(request: Request, model: str, completion: Completion) -> None:
    """A fallback answering for a named model is that model failing: an eval compares models.

    A `workload/<name>` is evaluated as the workload behaves, fallbacks included.
    """
    if model.startswith("workload/") or completion.model == model:
        return
    why = str((completion.route or {}).get("reason", "")).removeprefix("fallback: ")
    limited = "429" in why or "rate limit" in why.lower()
    # the pipeline already retried before falling back: only a rate limit is worth another go
    raise ProviderError(
        f"{model} did not answer ({why or 'failed'}) and {completion.model} answered as its "
        "fallback, which the eval does not count; retry later or check the model.",
        model=model,
        status=429 if limited else None,
        retryable=limited,
    )


def _rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, RateLimited) or (isinstance(exc, ProviderError) and exc.status == 429)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, RateLimited | TimeoutError):
        return True
    if isinstance(exc, ProviderError):
        return exc.retryable or exc.status in _RETRY_STATUS
    return False
