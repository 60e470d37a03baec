"""The tuning loop end to end, offline: distil the `tickets` workload from a rented model
(a stand-in served on 127.0.0.1) into a local model, gate it, route to it, roll back.

    python examples/tune/run.py                          (SmolLM2-135M-Instruct)
    python examples/tune/run.py --base local/gemma3-270m (Gemma 3 270M, a base model)

Run it from the repository root; it needs mixstack[tune]. Prints each step's figures; the
last line sums them up. Everything it writes goes under examples/tune/out/<base>/ (its own
mixstack home, so your own calibration is untouched).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: per base: the tuned model's name and training settings that suit it (a base model with a
#: 262k-word vocabulary starts from a higher loss and takes a lower rate)
BASES: dict[str, dict[str, Any]] = {
    "local/smollm2-135m-instruct": {"tuned": "local/tickets-smollm2", "lr": 4e-3, "top": 12},
    "local/gemma3-270m": {"tuned": "local/tickets-gemma3", "lr": 2e-3, "top": 12},
}


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", choices=sorted(BASES), default="local/smollm2-135m-instruct")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: per base)")
    parser.add_argument("--top-layers", type=int, help="adapt the top N blocks (default: 12)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    return parser.parse_args()


ARGS = _args()
OUT = HERE / "out" / ARGS.base.removeprefix("local/")
os.environ["MIXSTACK_HOME"] = str(OUT / "home")
sys.path.insert(0, str(HERE))

from teacher import Teacher  # noqa: E402
from tickets import tickets  # noqa: E402

from mixstack._types import Request  # noqa: E402
from mixstack.config import load_config  # noqa: E402
from mixstack.evals import EvalSettings, evaluate_suite, load_suite  # noqa: E402
from mixstack.evals._calibrate import calibrate, write_calibration  # noqa: E402
from mixstack.pipeline import Pipeline  # noqa: E402
from mixstack.router._router import Router  # noqa: E402
from mixstack.store import open_store  # noqa: E402
from mixstack.tune import (  # noqa: E402
    TrainSettings,
    build_dataset,
    examples_from_suite,
    export_adapter,
    promote,
    register_tuned_model,
    resolve_base,
    rollback,
    run_gate,
    train,
)
from mixstack.tune._dataset import suite_checks  # noqa: E402

BASE = ARGS.base
TEACHER = "rented/ticket-labeller"
TUNED = BASES[BASE]["tuned"]
TARGET = 0.8
SETTINGS = TrainSettings(
    rank=8, alpha=16, top_layers=ARGS.top_layers or BASES[BASE]["top"], epochs=ARGS.epochs,
    batch_size=8, learning_rate=ARGS.lr or BASES[BASE]["lr"], seed=0, threads=ARGS.threads,
)  # fmt: skip


def pct(run: dict[str, Any]) -> str:
    return (
        f"{100 * run['pass_rate']:.1f}% (95% CI {100 * run['ci_low']:.1f}–"
        f"{100 * run['ci_high']:.1f}, n={run['n']})"
    )


def route(cfg: Any) -> str:
    from mixstack.catalog import Catalog
    from mixstack.providers.base import ProviderRegistry

    router = Router(cfg, Catalog(cfg, ProviderRegistry(cfg)))
    request = Request.from_prompt("My parcel never arrived.", workload="tickets")
    decision = router.decide(request, scan="always")
    return f"{decision.model} ({decision.reason})"


def tokens_per_second(gguf: Path, lora: Path, rounds: int = 5) -> tuple[float, float]:
    """Decode speed of llama.cpp without and with the adapter: 96 tokens each, end-of-text
    suppressed so both generate the same count; the two alternate, best of `rounds` each
    (the machine is shared: alternating keeps a load spike from favouring one side)."""
    from llama_cpp import Llama

    models = [
        Llama(model_path=str(gguf), n_ctx=512, verbose=False),
        Llama(model_path=str(gguf), n_ctx=512, verbose=False, lora_path=str(lora)),
    ]
    best = [0.0, 0.0]
    for _ in range(rounds):
        for i, llm in enumerate(models):
            llm.reset()
            start = time.perf_counter()
            out: Any = llm.create_completion("Once upon a time", max_tokens=96, temperature=0,
                                             logit_bias={llm.token_eos(): -100.0})  # fmt: skip
            rate = out["usage"]["completion_tokens"] / (time.perf_counter() - start)
            best[i] = max(best[i], rate)
    return best[0], best[1]


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    threads = SETTINGS.threads or os.cpu_count()
    print(f"base {BASE} -> {TUNED}; lr {SETTINGS.learning_rate}, top {SETTINGS.top_layers} "
          f"layers, {SETTINGS.epochs} epoch(s), {threads} torch thread(s)")  # fmt: skip
    (HERE / "tickets.jsonl").write_text(
        "".join(json.dumps(t) + "\n" for t in tickets(400)), encoding="utf-8"
    )
    cfg = load_config(HERE / "mixstack.yaml").model_copy(
        update={"routing": load_config(HERE / "mixstack.yaml").routing.model_copy(
            update={"quality_target": TARGET})}
    )  # fmt: skip
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores")
    with Teacher(8765):
        async with Pipeline(cfg) as pipeline:
            suite, checks = suite_checks(HERE / "suite.yaml")
            found = await examples_from_suite(suite, pipeline, TEACHER)
            dataset = build_dataset(found, OUT / "dataset", workload="tickets", checks=checks,
                                    source="suite answered by the teacher",
                                    params={"max_tokens": 8})  # fmt: skip
            r = dataset.report
            print(f"dataset: {r['train']} train + {r['heldout']} held out of {r['seen']}; "
                  f"dropped {r['dropped']}")  # fmt: skip

            # before: the team calibrated the workload on the base and the rented model
            held = load_suite(dataset.suite_path)
            before = await evaluate_suite(held, pipeline, EvalSettings(models=[BASE, TEACHER]))
            write_calibration("tickets", calibrate(before, TARGET), TARGET)
            print(f"route before: {route(cfg)}")

            base = resolve_base(pipeline.catalog, BASE)
            started = time.monotonic()
            result = train(base, dataset, OUT / "run", SETTINGS,
                           on_step=lambda s: print(f"  step {s.step}/{s.total} loss {s.loss:.3f}"
                                                   f" {s.elapsed_s:.0f}s", flush=True))  # fmt: skip
            wall = time.monotonic() - started
            print(f"train: {result.steps} steps, {result.train_tokens} tokens, "
                  f"{result.seconds:.0f} s training ({wall:.0f} s with model load), loss "
                  f"{result.losses[0]:.3f} -> {result.final_loss:.3f}")  # fmt: skip
            adapter = export_adapter(base, result.adapter_dir, OUT / "run" / "adapter.gguf")
            report = json.loads((OUT / "run" / "train.json").read_text())
            register_tuned_model(
                pipeline.store,
                None,
                name=TUNED,
                base=base,
                adapter_gguf=adapter,
                dataset=dataset,
                train_report=report,
            )
        # a new pipeline: its catalog holds the registered tuned model
        async with Pipeline(cfg) as pipeline:
            gate = await run_gate(pipeline, dataset, tuned=TUNED, base=BASE, teacher=TEACHER,
                                  target=TARGET)  # fmt: skip
    runs = {r["model"]: r for r in gate.summary["runs"]}
    for model in (BASE, TUNED, TEACHER):
        print(f"gate {model}: {pct(runs[model])}")
    for other in (BASE, TEACHER):
        c = gate.comparison(other)
        if c is not None:
            print(f"  {TUNED} vs {other}: McNemar p={c['p_value']:.3g} "
                  f"({c['a_only']} vs {c['b_only']} discordant)")  # fmt: skip
    print(gate.verdict())
    with open_store() as store:
        if gate.unroutable:
            print(f"not promoted: {gate.unroutable}")
        elif gate.passed:
            promote(store, gate, "tickets", OUT / "home" / "calibration.json")
            print(f"route after promotion: {route(cfg)}")
            rollback(store, "tickets")
            print(f"route after rollback: {route(cfg)}")
            promote(store, gate, "tickets", OUT / "home" / "calibration.json")
    gguf = base.gguf
    base_tps, tuned_tps = tokens_per_second(gguf, adapter)
    overhead = 100 * (1 - tuned_tps / base_tps)
    print(f"tokens/s: base {base_tps:.1f}, tuned {tuned_tps:.1f} (LoRA overhead {overhead:.1f}%)")
    print(
        f"SUMMARY {BASE} {100 * runs[BASE]['pass_rate']:.1f}% tuned "
        f"{100 * runs[TUNED]['pass_rate']:.1f}% teacher {100 * runs[TEACHER]['pass_rate']:.1f}% "
        f"(n={runs[TUNED]['n']}) · train {result.seconds:.0f} s for {r['train']} examples · "
        f"tok/s base {base_tps:.1f} tuned {tuned_tps:.1f} ({overhead:+.1f}% overhead) · "
        f"promoted={gate.passed and not gate.unroutable} · "
        f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
