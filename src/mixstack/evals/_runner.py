"""Run items (a case prompted one way) against models: bounded, retried, cached, scored.

    items, a chunk at a time ─► cache lookup (one query per chunk and model)
        hit  ─► scored right there ─────────────────────────────► on_results([ResultLine, …])
        miss ─► a bounded queue ─► `concurrency` workers ─► pipeline ─► scorers ─► on_result

The producer walks the items once, a chunk at a time, so memory stays flat in the number of
cases. A cached answer needs no call, so it skips the queue, the workers and the limiter (a
hit whose scorer is async, e.g. a judge that calls a model, still goes to a worker). Calls go
through `Pipeline.complete(front_door="eval")`, so they are routed and logged like any other
call; `workload/<name>` is a valid model.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from mixstack._resilience import CallPolicy
from mixstack._types import Completion, Request
from mixstack.errors import MixstackError, ProviderError, RateLimited, UserError
from mixstack.evals._cache import PreparedKeys, RequestKeys, ResponseCache
from mixstack.evals._limiter import AdaptiveLimiter
from mixstack.evals._results import ResultKey, ResultLine, Status
from mixstack.evals._suite import Case, EvalItem, ScorerSpec
from mixstack.evals.scorers import ScoreContext, Scorer, ScorerError, ScorerRegistry
from mixstack.pipeline import Pipeline

__all__ = ["EvalRunner", "RunOptions", "as_item"]

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
#: items looked up in the cache at once
_CHUNK = 128


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 4
    retries: int = 3
    use_cache: bool = True
    timeout_s: float | None = 600.0
    backoff_s: float = 0.5


def as_item(item: EvalItem | tuple[Case, Request]) -> EvalItem:
    return item if isinstance(item, EvalItem) else EvalItem(item[0], item[1])


class _Job(NamedTuple):
    """One item for one model's workers: its cache key, and the stored answer if any."""

    item: EvalItem
    key: str
    stored: str | None


def _chunks(items: Iterable[EvalItem | tuple[Case, Request]]) -> Iterator[list[EvalItem]]:
    it = iter(items)
    while chunk := [as_item(raw) for raw in itertools.islice(it, _CHUNK)]:
        yield chunk


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
        on_results: Callable[[list[ResultLine]], None] | None = None,
        prepared_keys: PreparedKeys | None = None,
    ):
        """`on_result` takes each answer from a worker; `on_results` (default: `on_result`
        line by line) takes the cached answers of a chunk at once, to write them together.
        `prepared_keys` are cache keys already computed (by `check_suite`)."""
        self.pipeline = pipeline
        self.scorers = scorers
        self.scorer_specs = scorer_specs
        self.on_result = on_result
        self.on_results = on_results
        self.options = options
        self.cache = cache if options.use_cache else None
        self.on_progress = on_progress
        self.after_score = after_score
        self.limiters: dict[str, AdaptiveLimiter] = {}
        self._keys = RequestKeys()
        self._prepared = prepared_keys
        self._inline: tuple[list[ScorerSpec] | None, bool] = (None, False)
        # an async hook may wait on I/O: answers it sees go through the workers
        self._after_is_async = after_score is not None and (
            inspect.iscoroutinefunction(after_score)
            or inspect.iscoroutinefunction(type(after_score).__call__)
        )

    async def run(
        self,
        items: Iterable[EvalItem | tuple[Case, Request]],
        models: list[str],
        skip: set[ResultKey] | frozenset[ResultKey] = frozenset(),
    ) -> None:
        """Send every item to every model (except keys in `skip`), as results stream out."""
        sizes = {m: self._concurrency(m) for m in models}
        queues: dict[str, asyncio.Queue[_Job | None]] = {
            m: asyncio.Queue(maxsize=sizes[m] * 2) for m in models
        }
        for model in models:
            if model not in self.limiters:
                self.limiters[model] = AdaptiveLimiter(sizes[model])
        workers: dict[str, list[asyncio.Task[None]]] = {}  # started on a model's first miss
        try:
            for chunk in _chunks(items):
                later: list[list[_Job]] = []
                for model in models:
                    todo = (
                        [i for i in chunk if (i.case.id, i.variant, model) not in skip]
                        if skip
                        else chunk
                    )
                    later.append(await self._answer_cached(todo, model))
                # what needs a call goes out item by item to every model, so that all the
                # models' workers keep busy together
                for jobs in itertools.zip_longest(*later):
                    for model, job in zip(models, jobs, strict=True):
                        if job is None:
                            continue
                        if model not in workers:
                            workers[model] = [
                                asyncio.create_task(self._worker(model, queues[model]))
                                for _ in range(sizes[model])
                            ]
                        await queues[model].put(job)
            for model, tasks in workers.items():
                for _ in tasks:
                    await queues[model].put(None)
            await asyncio.gather(*itertools.chain(*workers.values()))
        finally:
            for task in itertools.chain(*workers.values()):
                task.cancel()
            await asyncio.gather(*itertools.chain(*workers.values()), return_exceptions=True)

    async def _answer_cached(self, items: list[EvalItem], model: str) -> list[_Job]:
        """Score a chunk's cached answers here and now; what is left needs the workers."""
        if self.cache is None:
            return [_Job(item, "", None) for item in items]
        keys = [self._key(item, model) for item in items]
        stored = await self.cache.get_many(keys) if keys else {}
        lines: list[ResultLine] = []
        later: list[_Job] = []
        for item, key in zip(items, keys, strict=True):
            found = stored.get(key)
            if found is not None and self._scores_inline(item.case):
                completion = ResponseCache.load(found)
                lines.append(await self._finish(item, model, completion, cached=True, attempts=0))
            else:
                later.append(_Job(item, key, found))
        if lines:
            self._emit(lines, model)
        return later

    def _key(self, item: EvalItem, model: str) -> str:
        if self._prepared is not None:
            key = self._prepared.get(item.case.id, item.variant, model)
            if key is not None:
                return key
        return self._keys(item.request, model)

    def _scores_inline(self, case: Case) -> bool:
        """Whether scoring this case's answer never waits (no async scorer or hook)."""
        if self._after_is_async:
            return False
        specs = self.scorer_specs(case)
        if specs is self._inline[0]:  # cases mostly share the suite's default scorers
            return self._inline[1]
        try:
            scorers = [self.scorers.build(spec) for spec in specs]
        except Exception:  # a scorer that cannot be built is an error `_score` records
            return False
        inline = all(type(scorer).score is Scorer.score for scorer in scorers)
        self._inline = (specs, inline)
        return inline

    def _emit(self, lines: list[ResultLine], model: str) -> None:
        if self.on_results is not None:
            self.on_results(lines)
        else:
            for line in lines:
                self.on_result(line)
        if self.on_progress is not None:
            for _ in lines:
                self.on_progress(model)

    def _concurrency(self, model: str) -> int:
        """In-process llama.cpp models answer one call at a time: more in flight would only
        queue inside the provider and count the wait as the model's latency."""
        if model in self.pipeline.catalog and self.pipeline.catalog.get(model).provider == "local":
            return 1
        return self.options.concurrency

    async def _worker(self, model: str, queue: asyncio.Queue[_Job | None]) -> None:
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():  # a cancellation something below swallowed
                raise asyncio.CancelledError
            job = await queue.get()
            if job is None:
                return
            if job.stored is not None:
                completion = ResponseCache.load(job.stored)
                line = await self._finish(job.item, model, completion, cached=True, attempts=0)
            else:
                request = job.item.request.with_changes(model=model)
                line = await self._ask(job.item, model, request, job.key)
            self.on_result(line)
            if self.on_progress is not None:
                self.on_progress(model)

    # -- one item, one model ----------------------------------------------------------------

    async def evaluate(self, item: EvalItem, model: str) -> ResultLine:
        """One item sent to one model (the cache first), scored."""
        request = item.request.with_changes(model=model)
        key = self._keys(request) if self.cache is not None else ""
        hit = await self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            return await self._finish(item, model, hit, cached=True, attempts=0)
        return await self._ask(item, model, request, key)

    async def _ask(self, item: EvalItem, model: str, request: Request, key: str) -> ResultLine:
        try:
            completion, attempts = await self._call(request, model, key)
        except _Failed as failed:
            exc = failed.error
            line = self._line(item, model)
            line.attempts = failed.attempts
            line.error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            line.error_type = getattr(exc, "error_type", type(exc).__name__)
            return line
        return await self._finish(item, model, completion, cached=False, attempts=attempts)

    @staticmethod
    def _line(item: EvalItem, model: str) -> ResultLine:
        case = item.case
        return ResultLine(
            case=case.id, variant=item.variant, model=model, status="error", expected=case.expected
        )

    async def _finish(
        self, item: EvalItem, model: str, completion: Completion, *, cached: bool, attempts: int
    ) -> ResultLine:
        case = item.case
        usage = completion.usage
        line = ResultLine(
            case=case.id,
            variant=item.variant,
            model=model,
            status="error",
            output=completion.text,
            tool_calls=[c.model_dump() for c in completion.tool_calls],
            expected=case.expected,
            answered_by=completion.model,
            request_id=completion.request_id,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=usage.cost_usd,
            latency_ms=round(usage.latency_ms, 3),
            cached=cached,
            attempts=attempts,
        )
        await self._score(case, completion, line)
        if self.after_score is not None:
            extra = self.after_score(item, completion, line)
            if asyncio.iscoroutine(extra):
                await extra
        return line

    async def _score(self, case: Case, completion: Completion, line: ResultLine) -> None:
        ctx = ScoreContext(case=case, completion=completion, call=self.call)
        values: list[float] = []
        entries = line.scores
        status: Status = "pass"
        for spec in self.scorer_specs(case):
            try:
                score = await self.scorers.build(spec).score(ctx)
            except (ScorerError, UserError) as exc:
                entries.append({"scorer": spec.type, "error": exc.message})
                status = "error"
                continue
            except Exception as exc:
                entries.append({"scorer": spec.type, "error": f"{type(exc).__name__}: {exc}"})
                status = "error"
                continue
            entries.append(
                {
                    "scorer": spec.type,
                    "value": score.value,
                    "passed": score.passed,
                    "detail": score.detail,
                }
            )
            values.append(score.value)
            if not score.passed and status == "pass":
                status = "fail"
        line.status = status
        if status == "error":
            line.error = "; ".join(f"{s['scorer']}: {s['error']}" for s in entries if "error" in s)
            line.error_type = "scorer_error"
        line.score = sum(values) / len(values) if values and status != "error" else None

    async def call(self, request: Request) -> Completion:
        """A call as scorers make it (judges): cached and retried like the model calls."""
        model = request.model or self.pipeline.config.default_model
        if model not in self.limiters:
            self.limiters[model] = AdaptiveLimiter(self.options.concurrency)
        key = self._keys(request) if self.cache is not None else ""
        hit = await self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            return hit
        try:
            completion, _ = await self._call(request, model, key)
        except _Failed as failed:
            raise ScorerError(f"the judge call failed: {failed.error}") from failed.error
        return completion

    async def _call(self, request: Request, model: str, key: str) -> tuple[Completion, int]:
        """Ask through the pipeline with retries and back-off; the answer goes to the cache.

        This loop is the eval's one retry layer: the call stage's own retries are off for
        eval calls (one request per attempt, not attempts x model retries), and a named
        model gets no fallback (an eval compares models; a `workload/<name>` is evaluated
        as the workload behaves, fallbacks included). The loop stays here, not in the call
        stage, because a rate-limited retry waits in the model's adaptive limiter."""
        limiter = self.limiters[model]
        policy = CallPolicy(retries=0, fallbacks=model.startswith("workload/"))
        attempt = 0
        while True:
            attempt += 1
            try:
                # `timeout` rather than `wait_for`, which on 3.11 can swallow a cancellation (an
                # answer arriving as Ctrl-C cancels the run) and leave a worker waiting forever
                async with limiter, asyncio.timeout(self.options.timeout_s):
                    completion = await self.pipeline.complete(
                        request, front_door="eval", policy=policy
                    )
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
            return completion, attempt


def _rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, RateLimited) or (isinstance(exc, ProviderError) and exc.status == 429)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, RateLimited | TimeoutError):
        return True
    if isinstance(exc, ProviderError):
        return exc.retryable or exc.status in _RETRY_STATUS
    return False
