"""One eval run from start to finish: check everything, run (or resume), summarize, record.

Everything that can be checked before a model is called is checked first: the models, every
case, every scorer (a judge's model too), every template and image; building every request
for that, the check also notes each one's cache key, so the run builds only those it sends.
A run interrupted by a crash or Ctrl-C resumes from its directory: answered cases are not
asked again. `started_at` is taken once the run is checked and announced, `finished_at` once
its summary is computed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mixstack._types import Completion
from mixstack.errors import ModelUnavailableError, UserError
from mixstack.evals._cache import PreparedKeys, ResponseCache
from mixstack.evals._results import ResultLine, ResultsFile
from mixstack.evals._runner import EvalRunner, RunOptions
from mixstack.evals._runs import (
    RunDir,
    default_runs_dir,
    latest_unfinished,
    new_run_id,
    record_run,
)
from mixstack.evals._suite import Case, EvalItem, Suite, SuiteError
from mixstack.evals._summary import Tally
from mixstack.evals.scorers import ScorerEnv, ScorerRegistry
from mixstack.pipeline import Pipeline

__all__ = ["EvalSettings", "Progress", "check_suite", "evaluate_suite"]


class Progress(Protocol):
    """What a front door shows while a run goes: one counter per model."""

    def start(self, model: str, total: int, done: int) -> None: ...

    def advance(self, model: str) -> None: ...

    def stop(self) -> None: ...


class _Silent:
    def start(self, model: str, total: int, done: int) -> None:
        return

    def advance(self, model: str) -> None:
        return

    def stop(self) -> None:
        return


@dataclass
class EvalSettings:
    """How to run a suite: which models, where results go, cache, retries and concurrency."""

    models: list[str] = field(default_factory=list)
    options: RunOptions = field(default_factory=RunOptions)
    out_dir: Path | None = None
    resume: bool = False
    audit_reasoning: bool = False


def _check_models(pipeline: Pipeline, models: list[str]) -> None:
    """Unknown models and workloads are refused before anything is called."""
    from mixstack.router._workloads import WorkloadChooser

    workloads = WorkloadChooser(pipeline.config)
    for model in models:
        if model.startswith("workload/"):
            workloads.get(model.partition("/")[2], source="model")
        else:
            pipeline.catalog.get(model)


def check_scorers(suite: Suite, case: Case, registry: ScorerRegistry) -> None:
    """The case has scorers, and each one can be built (errors name the case)."""
    specs = suite.scorers_for(case)
    if not specs:
        raise SuiteError(
            f"{case.origin}: case {case.id!r}: scorers: none; set `defaults.scorers` "
            "in the suite or `scorers` in the case."
        )
    for spec in specs:
        try:
            registry.build(spec)
        except SuiteError as exc:
            raise SuiteError(f"{case.origin}: case {case.id!r}: {exc.message}") from exc


def check_suite(suite: Suite, registry: ScorerRegistry, keys: PreparedKeys | None = None) -> int:
    """Validate every case, scorer, template and image; returns the number of cases.

    Every request is built here; with `keys`, each one's cache key is noted for the run.
    """
    count = 0
    for case in suite.iter_cases():
        check_scorers(suite, case, registry)
        for variant in suite.variants:
            request = suite.build_request(case, variant)
            if keys is not None:
                keys.add(case.id, variant.name, request)
        count += 1
    if count == 0:
        raise SuiteError(f"{suite.path}: the suite has no cases; add some.")
    return count


def _run_dir(suite: Suite, settings: EvalSettings, pipeline: Pipeline, fp: str) -> RunDir:
    if settings.out_dir is not None:
        run = RunDir(settings.out_dir)
        meta = run.meta()
        if meta is not None and meta.get("fingerprint") != fp:
            raise UserError(
                f"{settings.out_dir} holds a run of another version of the suite; "
                "pick another --out directory or delete that one."
            )
        return run
    if settings.resume:
        found = latest_unfinished(pipeline.store, str(suite.path), fp)
        if found is None:
            raise UserError(
                f"no unfinished run of {suite.path.name} (this version) to resume; "
                "run it without --resume."
            )
        return found
    return RunDir(default_runs_dir() / new_run_id(suite.name))


class _Auditor:
    """Audits each answer's reasoning with `mixstack.audit` and keeps the per-run summary."""

    def __init__(self) -> None:
        try:
            from mixstack.audit import audit_trace, summarize
        except ImportError as exc:
            raise ModelUnavailableError(
                "the reasoning audit is not part of this installation; drop --audit-reasoning."
            ) from exc
        self._audit_trace, self._summarize = audit_trace, summarize
        self._found: dict[tuple[str, str], list[Any]] = {}

    def __call__(self, item: EvalItem, completion: Completion, line: ResultLine) -> None:
        case: Case = item.case
        extra = case.extra
        context = extra.get("context")
        reference = extra.get("reference")
        result = self._audit_trace(
            question=item.request.messages[-1].text,
            output=completion.text,
            reference=str(reference) if reference is not None else None,
            context=str(context) if context is not None else None,
            expected=None if case.expected is None else str(case.expected),
            reasoning=completion.reasoning,
            trace_id=case.id,
        )
        line.extra["audit"] = result.to_json()
        self._found.setdefault((line.model, line.variant), []).append(result)

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"model": m, "variant": v, **self._summarize(found)}
            for (m, v), found in self._found.items()
        ]


async def evaluate_suite(
    suite: Suite,
    pipeline: Pipeline,
    settings: EvalSettings,
    *,
    progress: Progress | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the suite and return the summary (also written to `summary.json`)."""
    models = settings.models or suite.models or [pipeline.config.default_model]
    _check_models(pipeline, models)
    registry = ScorerRegistry(ScorerEnv(base_dir=suite.base_dir, catalog=pipeline.catalog))
    keys = PreparedKeys(models) if settings.options.use_cache else None
    total = check_suite(suite, registry, keys)
    auditor = _Auditor() if settings.audit_reasoning else None
    store = pipeline.store  # opened (on first use) before the run, like the config
    fingerprint = suite.fingerprint()
    run = _run_dir(suite, settings, pipeline, fingerprint)
    old = run.meta()
    variants = [v.name for v in suite.variants]
    meta: dict[str, Any] = {
        "run_id": old["run_id"] if old else run.path.name,
        "suite": suite.name,
        "suite_path": str(suite.path),
        "fingerprint": fingerprint,
        "workload": suite.workload,
        "models": list(dict.fromkeys([*(old or {}).get("models", []), *models])),
        "variants": variants,
        "out_dir": str(run.path.resolve()),
        "started_at": None,
        "cases": total,
    }
    results = ResultsFile(run.path)
    tally = Tally.of_file(run.results)  # what an interrupted run already answered
    done = tally.done_keys()
    if on_start is not None:
        on_start({k: v for k, v in meta.items() if k != "started_at"} | {"resumed": len(done)})
    show: Progress = progress or _Silent()
    for model in models:
        finished = sum(1 for k in done if k[2] == model)
        show.start(model, total * len(variants), finished)
    # the run starts here, once checked and announced (the front door's printing is not the
    # run); a resumed run keeps its first start
    meta["started_at"] = old["started_at"] if old else time.time()
    run.write_meta(meta)
    # committed in the background (the writer keeps order, and the final record waits): the
    # row only matters to find an unfinished run again
    record_run(store, meta, "running", wait=False)

    def record(line: ResultLine) -> None:
        results.write(line)
        tally.add(line)

    def record_many(lines: list[ResultLine]) -> None:
        results.write_many(lines)
        for line in lines:
            tally.add(line)

    runner = EvalRunner(
        pipeline,
        registry,
        scorer_specs=suite.scorers_for,
        on_result=record,
        on_results=record_many,
        options=settings.options,
        cache=ResponseCache(store),
        on_progress=show.advance,
        after_score=auditor,
        prepared_keys=keys,
    )
    status = "interrupted"
    try:
        await runner.run(suite.items(defer=True), models, skip=done)
        status = "finished"
    finally:
        show.stop()
        results.close()
        summary = _summary(run, tally, meta, models, variants, status, runner)
        if auditor is not None:
            summary["audit"] = auditor.summary()
        run.write_summary(summary)
        # waits until committed, and the store writes in order: the calls' log rows and the
        # answers put in the cache are committed by then too
        record_run(store, meta, status, summary if status == "finished" else None)
    return summary


def _summary(
    run: RunDir,
    tally: Tally,
    meta: dict[str, Any],
    models: list[str],
    variants: list[str],
    status: str,
    runner: EvalRunner,
) -> dict[str, Any]:
    stats = tally.summary(models, variants)
    return {
        "run_id": meta["run_id"],
        "suite": meta["suite"],
        "workload": meta["workload"],
        "status": status,
        "out_dir": meta["out_dir"],
        "results": str(run.results.resolve()),
        "models": meta["models"],
        "variants": variants,
        "started_at": meta["started_at"],
        "finished_at": time.time(),
        "rate_limit_backoffs": {m: lim.backoffs for m, lim in runner.limiters.items()},
        **stats,
    }
