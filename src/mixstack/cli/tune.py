"""`mixstack tune`: dataset → train → export → gate (→ promote) → rollback, one sub-command each.

mixstack tune dataset DIR -w tickets --suite cases.yaml --teacher openai/gpt-4.1-mini
mixstack tune train DIR RUN --base local/smollm2-135m-instruct
mixstack tune export RUN --name tickets-smollm2
mixstack tune gate local/tickets-smollm2 --teacher openai/gpt-4.1-mini
mixstack tune rollback tickets
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mixstack.cli.common import ConfigOption, JsonOption, err_console, load, print_json
from mixstack.cli.common import stdout_console as out
from mixstack.cli.progress import CountProgress, format_eta
from mixstack.errors import UserError

__all__ = ["tune_app"]

tune_app = typer.Typer(
    help="Distil a workload into a tuned local model, gate it on held-out cases, route to it.",
    rich_markup_mode=None,
    no_args_is_help=True,
)

CheckOption = Annotated[
    list[str] | None,
    typer.Option(
        "--check",
        help="A check good answers pass: a scorer name or YAML (`{regex: {pattern: ...}}`); "
        "repeatable. Default with --suite: the suite's scorers.",
    ),
]


def _checks(raw: list[str] | None) -> list[Any]:
    from mixstack.evals._suite import ScorerSpec

    specs = []
    for text in raw or []:
        try:
            specs.append(ScorerSpec.parse(yaml.safe_load(text)))
        except (yaml.YAMLError, ValueError) as exc:
            raise UserError(f"--check {text!r}: {exc}; give a scorer name or YAML.") from exc
    return specs


@tune_app.command("dataset")
def dataset_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the dataset into.")],
    workload: Annotated[str, typer.Option("--workload", "-w", help="The workload to distil.")],
    suite: Annotated[
        Path | None, typer.Option(help="Build from this eval suite, answered by --teacher.")
    ] = None,
    teacher: Annotated[str | None, typer.Option(help="Model that answers the suite.")] = None,
    variant: Annotated[str | None, typer.Option(help="Suite variant (default: first).")] = None,
    check: CheckOption = None,
    from_model: Annotated[
        list[str] | None,
        typer.Option("--from-model", help="From the log: only answers of this model."),
    ] = None,
    heldout: Annotated[float, typer.Option(help="Fraction kept apart for the gate.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the held-out split.")] = 0,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build a training set from the call log of a workload, or from a suite and a teacher."""
    from mixstack.pipeline import Pipeline
    from mixstack.tune import build_dataset, examples_from_log, examples_from_suite
    from mixstack.tune._dataset import suite_checks

    checks = _checks(check)
    params: dict[str, Any] = {}

    async def gather() -> Any:
        nonlocal checks, params
        async with Pipeline(load(config)) as pipeline:
            if suite is not None:
                if teacher is None:
                    raise UserError("--suite needs --teacher MODEL to answer its cases.")
                loaded, suite_specs = suite_checks(suite)
                checks = checks or suite_specs
                params = (
                    loaded.spec.defaults.params.model_dump(exclude_defaults=True)
                    if (loaded.spec.defaults.params)
                    else {}
                )
                return await examples_from_suite(loaded, pipeline, teacher, variant)
            return await examples_from_log(
                pipeline.store, workload, checks, models=from_model, pipeline=pipeline
            )

    found = asyncio.run(gather())
    source = f"suite {suite} answered by {teacher}" if suite else f"call log of {workload!r}"
    dataset = build_dataset(
        found,
        out_dir,
        workload=workload,
        checks=checks,
        heldout=heldout,
        seed=seed,
        source=source,
        params=params,
    )
    if as_json:
        print_json(dataset.report)
        return
    report = dataset.report
    out().print(
        f"{escape(str(out_dir))}: {report['train']} training and {report['heldout']} held-out "
        f"examples from {report['seen']} ({escape(source)})"
    )
    for reason, n in report["dropped"].items():
        out().print(f"  dropped {n}: {escape(reason)}")


class _TrainProgress:
    """A bar with loss, steps and ETA on a terminal; a line every few seconds when piped."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: Any = None
        self._last = 0.0

    def __call__(self, report: Any) -> None:
        if err_console.is_terminal:
            if self._bar is None:
                self._bar = Progress(
                    TextColumn("train"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"),
                    TimeRemainingColumn(),
                    console=err_console,
                )
                self._bar.start()
                self._task = self._bar.add_task("train", total=report.total, loss=report.loss)
            self._bar.update(self._task, completed=report.step, loss=report.loss)
            return
        now = time.monotonic()
        if now - self._last >= 10 or report.step == report.total:
            self._last = now
            eta = report.elapsed_s / report.step * (report.total - report.step)
            err_console.print(
                f"train: step {report.step}/{report.total} · loss {report.loss:.4f} · "
                f"ETA {format_eta(eta)}"
            )

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@tune_app.command("train")
def train_command(
    dataset_dir: Annotated[Path, typer.Argument(help="A folder from `tune dataset`.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the run (adapter, checkpoint).")],
    base: Annotated[
        str,
        typer.Option(help="The local base model (e.g. local/gemma3-270m; llama or gemma3)."),
    ] = "local/smollm2-135m-instruct",
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    alpha: Annotated[float, typer.Option(help="LoRA alpha (scale = alpha / rank).")] = 16.0,
    targets: Annotated[
        str, typer.Option(help="Comma-separated modules to adapt.")
    ] = "q_proj,k_proj,v_proj,o_proj",
    top_layers: Annotated[
        int | None, typer.Option(help="Adapt only the top N blocks (faster backward).")
    ] = None,
    epochs: Annotated[float, typer.Option(help="Passes over the training split.")] = 2.0,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N steps.")] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 8,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 2e-3,
    max_length: Annotated[int, typer.Option(help="Tokens per example, at most.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed (adapter init and batch order).")] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda[:N].")] = "cpu",
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads (default: all). On a machine busy with other work, fewer train "
            "faster: torch's threads wait on each other's descheduled ones."
        ),
    ] = None,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="Ignore a checkpoint in the run folder.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """LoRA-train the base model on the dataset's training split (resumable)."""
    from mixstack.catalog import Catalog
    from mixstack.providers.base import ProviderRegistry
    from mixstack.tune import TrainSettings, load_dataset, resolve_base, train

    cfg = load(config)
    dataset = load_dataset(dataset_dir)
    base_model = resolve_base(Catalog(cfg, ProviderRegistry(cfg)), base)
    settings = TrainSettings(
        rank=rank,
        alpha=alpha,
        targets=tuple(t.strip() for t in targets.split(",") if t),
        top_layers=top_layers,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=lr,
        max_length=max_length,
        seed=seed,
        device=device,
        threads=threads,
    )
    progress = _TrainProgress()
    try:
        result = train(
            base_model, dataset, out_dir, settings, on_step=progress, resume=not no_resume
        )
    finally:
        progress.stop()
    if as_json:
        print_json(result.to_json())
        return
    resumed = f" (resumed at step {result.resumed_from})" if result.resumed_from else ""
    first = result.losses[0] if result.losses else float("nan")
    out().print(
        f"trained {result.steps} steps in {result.seconds:.0f} s{resumed}: loss "
        f"{first:.4f} → {result.final_loss or 0.0:.4f} · {result.train_tokens} tokens · "
        f"adapter {escape(str(result.adapter_dir))}"
    )


@tune_app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(help="A folder from `tune train`.")],
    name: Annotated[str, typer.Option(help="Catalog name: local/<name>.")],
    dtype: Annotated[str, typer.Option(help="Adapter tensors: f16 or f32.")] = "f16",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the adapter as a GGUF LoRA and register it as local/<name> with its lineage."""
    from mixstack.catalog import Catalog
    from mixstack.providers.base import ProviderRegistry
    from mixstack.store import open_store
    from mixstack.tune import (
        export_adapter,
        load_dataset,
        load_train_result,
        register_tuned_model,
        resolve_base,
    )

    cfg = load(config)
    report = load_train_result(run_dir)
    base = resolve_base(Catalog(cfg, ProviderRegistry(cfg)), report["base"])
    dataset = load_dataset(Path(report["dataset"]))
    adapter = export_adapter(base, run_dir / "adapter", run_dir / "adapter.gguf", dtype)
    with open_store(cfg.store, home=cfg.home) as store:
        entry = register_tuned_model(
            store,
            cfg.home,
            name=name,
            base=base,
            adapter_gguf=adapter,
            dataset=dataset,
            train_report=report,
        )
    if as_json:
        print_json(entry.model_dump(mode="json", exclude_defaults=True))
        return
    out().print(
        f"registered {escape(entry.name)}: base {escape(base.name)} + LoRA "
        f"{escape(str(entry.lora_path))}"
    )


@tune_app.command("gate")
def gate_command(
    model: Annotated[str, typer.Argument(help="The tuned model, local/<name>.")],
    teacher: Annotated[str | None, typer.Option(help="The rented model it replaces.")] = None,
    dataset_dir: Annotated[
        Path | None, typer.Option("--dataset", help="Dataset folder (default: its lineage's).")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="Quality target (default: routing's, else 0.9).")
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote/--no-promote", help="Promote into routing on a pass.")
    ] = True,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate tuned vs base vs teacher on the held-out split; promote on a pass.

    Exit codes: 0 passed (and promoted unless --no-promote); 6 below the quality target;
    2 passed but the router could never pick the tuned model (a completion-only base).
    """
    from mixstack.pipeline import Pipeline
    from mixstack.router._calibration import calibration_path, load_calibration
    from mixstack.store.tune import get_tuned_model
    from mixstack.tune import load_dataset, model_name, run_gate
    from mixstack.tune import promote as promote_model

    cfg = load(config)
    name = model_name(model)
    path = calibration_path(cfg.routing.calibration, cfg.home)

    async def go() -> Any:
        async with Pipeline(cfg) as pipeline:
            lineage = get_tuned_model(pipeline.store, name)
            if lineage is None:
                raise UserError(f"{name} is not a tuned model here; run `mixstack tune export`.")
            dataset = load_dataset(dataset_dir or Path(lineage.dataset_path))
            goal = (
                target
                or cfg.routing.quality_target
                or load_calibration(path, required=False).target
            )
            result = await run_gate(
                pipeline,
                dataset,
                tuned=name,
                base=lineage.base_model,
                teacher=teacher,
                target=goal,
                progress=CountProgress(err_console, label="gate"),
            )
            promoted = None
            if promote and result.passed and not result.unroutable:
                promoted = promote_model(pipeline.store, result, dataset.report["workload"], path)
            return result, promoted

    result, promoted = asyncio.run(go())
    if as_json:
        print_json({**result.to_json(), "promoted": promoted is not None})
    else:
        _print_gate(result)
        if promoted is not None:
            out().print(
                f"promoted: workload {escape(promoted.workload)} now routes to "
                f"{escape(promoted.entry['recommended'] or '—')} ({escape(str(path))}); "
                f"undo with `mixstack tune rollback {escape(promoted.workload)}`"
            )
    if not result.passed:
        raise typer.Exit(6)
    if promote and result.unroutable:
        err_console.print(f"not promoted: {escape(result.unroutable)}.")
        raise typer.Exit(2)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _print_gate(result: Any) -> None:
    table = Table(title=f"gate · run {result.summary['run_id']}")
    for col in ("model", "n", "pass", "95% CI", "errors", "p50"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in result.summary["runs"]:
        p50 = r["latency_p50_ms"]
        table.add_row(
            escape(r["model"]),
            str(r["n"]),
            _pct(r["pass_rate"]),
            f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}",
            str(r["errors"]),
            "—" if p50 is None else f"{p50:.0f} ms",
        )
    out().print(table)
    for other in (result.base, result.teacher):
        c = result.comparison(other) if other else None
        if c and c["diff"] is not None:
            sign = 1 if c["a"]["model"] == result.tuned else -1
            low, high = sorted((sign * c["diff_ci_low"], sign * c["diff_ci_high"]))
            out().print(
                f"{escape(result.tuned)} − {escape(other)}: {100 * sign * c['diff']:+.1f} pts "
                f"(95% CI {100 * low:+.1f} to {100 * high:+.1f}), McNemar p = "
                f"{c['p_value']:.3g} on {c['n']} paired cases"
            )
    out().print(escape(result.verdict()))


@tune_app.command("rollback")
def rollback_command(
    workload: Annotated[str, typer.Argument(help="The workload whose promotion to undo.")],
    config: ConfigOption = None,
) -> None:
    """Undo the workload's latest promotion: its calibration entry is restored."""
    from mixstack.store import open_store
    from mixstack.tune import rollback

    cfg = load(config)
    with open_store(cfg.store, home=cfg.home) as store:
        undone = rollback(store, workload)
    out().print(
        f"rolled back: workload {escape(workload)} no longer routes by the gate of "
        f"{escape(undone.model)}; calibration restored in {escape(undone.calibration_path)}"
    )


@tune_app.command("list")
def list_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Tuned models with their lineage, and promotions."""
    from dataclasses import asdict

    from mixstack.store import open_store
    from mixstack.store.tune import list_promotions, list_tuned_models

    cfg = load(config)
    with open_store(cfg.store, home=cfg.home) as store:
        models = list_tuned_models(store)
        promotions = list_promotions(store)
    if as_json:
        print_json(
            {"models": [asdict(m) for m in models], "promotions": [asdict(p) for p in promotions]}
        )
        return
    table = Table(title="tuned models")
    for col in ("name", "base", "workload", "examples", "data sha256", "rank/alpha", "loss"):
        table.add_column(col)
    for m in models:
        hp = m.hyperparameters
        table.add_row(
            escape(m.name),
            escape(m.base_model),
            escape(m.workload),
            f"{m.train_examples}+{m.heldout_examples}",
            m.data_sha256[:12],
            f"{hp.get('rank')}/{hp.get('alpha')}",
            "—" if m.final_loss is None else f"{m.final_loss:.4f}",
        )
    out().print(table)
    for p in promotions:
        state = "rolled back" if p.rolled_back_at else "active"
        out().print(f"promotion #{p.id}: {escape(p.model)} for {escape(p.workload)} ({state})")
