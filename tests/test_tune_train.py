"""Real LoRA training of the embedded SmolLM2 on a tiny dataset: the loss falls, a killed
run resumes from its checkpoint, and the exported GGUF adapter loads in llama.cpp and changes
what the model says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixstack.config import parse_config
from mixstack.evals.suite import ScorerSpec
from mixstack.pipeline import Pipeline
from mixstack.store import open_store
from mixstack.store.tune import get_tuned_model
from mixstack.tune import (
    Example,
    StepReport,
    TrainSettings,
    build_dataset,
    export_adapter,
    register_tuned_model,
    resolve_base,
    train,
)
from mixstack.tune.dataset import Candidates, Dataset
from mixstack.types import Request, SamplingParams

pytest.importorskip("peft", reason="the tune extra (mixstack[tune]) is not installed")
pytestmark = pytest.mark.model

BASE = "local/smollm2-135m-instruct"
SYSTEM = "Reply with the ticket's team."
TICKETS = [
    ("I was charged twice", "ledger"),
    ("The app crashes on start", "forge"),
    ("Refund my last invoice", "ledger"),
    ("The save button fails", "forge"),
    ("Why is there an extra fee", "ledger"),
    ("Error 500 on upload", "forge"),
]


class _Killed(Exception):
    pass


def _dataset(tmp_path: Path) -> Dataset:
    found = Candidates()
    for i, (text, team) in enumerate(TICKETS):
        found.seen += 1
        found.examples.append(
            Example(str(i), (("system", SYSTEM), ("user", text)), team, "test", team)
        )
    return build_dataset(
        found, tmp_path / "ds", workload="tickets", checks=[ScorerSpec(type="exact")],
        source="test", heldout=0.3,
    )  # fmt: skip


async def test_training_lowers_the_loss_resumes_and_the_gguf_adapter_changes_the_output(
    tmp_path: Path, home: Path
) -> None:
    cfg = parse_config({})
    async with Pipeline(cfg) as pipeline:
        base = resolve_base(pipeline.catalog, BASE)
        dataset = _dataset(tmp_path)
        settings = TrainSettings(
            rank=8, alpha=16, top_layers=8, max_steps=4, batch_size=4, learning_rate=2e-2,
            warmup_fraction=0.0, checkpoint_every=1, max_length=64,
        )  # fmt: skip

        def kill_at_three(report: StepReport) -> None:
            if report.step == 3:
                raise _Killed

        with pytest.raises(_Killed):
            train(base, dataset, tmp_path / "run", settings, on_step=kill_at_three)
        assert (tmp_path / "run" / "checkpoint.pt").is_file()
        result = train(base, dataset, tmp_path / "run", settings)
        assert result.resumed_from == 2
        assert result.steps == 4
        assert len(result.losses) == 4
        assert result.losses[-1] < result.losses[0] * 0.5, result.losses
        assert not (tmp_path / "run" / "checkpoint.pt").exists()

        adapter = export_adapter(base, result.adapter_dir, tmp_path / "adapter.gguf")
        report = json.loads((tmp_path / "run" / "train.json").read_text())
        entry = register_tuned_model(
            pipeline.store, None, name="tickets-test", base=base, adapter_gguf=adapter,
            dataset=dataset, train_report=report,
        )  # fmt: skip
    lineage = get_tuned_model(open_store(), "local/tickets-test")
    assert lineage is not None
    assert lineage.base_model == BASE
    assert lineage.data_sha256 == dataset.data_sha256
    assert lineage.hyperparameters["rank"] == 8

    # a fresh pipeline finds the registered model in its catalog and llama.cpp loads it
    async with Pipeline(parse_config({})) as pipeline:
        assert entry.name in pipeline.catalog
        answers = {}
        for model in (BASE, entry.name):
            request = Request(
                messages=Request.from_prompt(TICKETS[0][0], system=SYSTEM).messages,
                model=model,
                params=SamplingParams(max_tokens=6, temperature=0),
            )
            answers[model] = (await pipeline.complete(request)).text
    assert answers[entry.name] != answers[BASE]
    assert "ledger" in answers[entry.name].lower(), answers
    assert "ledger" not in answers[BASE].lower(), answers
