"""Real LoRA training of both embedded local models (SmolLM2-135M-Instruct and Gemma 3 270M)
on a tiny dataset: the loss falls, a killed run resumes from its checkpoint, and the exported
GGUF adapter loads in llama.cpp on its base and changes what the model says.

Torch and llama.cpp get one thread each here: on a machine shared with other work, their
spinning thread pools wait on each other's descheduled threads and a training step takes
five times as long (measured: 12-16 s with two threads, 2.5 s with one, under a load of 7
on 2 cores). The code path is the same at any thread count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from mixstack._types import Request, SamplingParams
from mixstack.config import parse_config
from mixstack.evals._suite import ScorerSpec
from mixstack.pipeline import Pipeline
from mixstack.providers.local._embedded import GEMMA3, SMOLLM2
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
from mixstack.tune._dataset import Candidates, Dataset

pytest.importorskip("peft", reason="the tune extra (mixstack[tune]) is not installed")
pytestmark = pytest.mark.model

SYSTEM = "Reply with the ticket's team."
TICKETS = [
    ("I was charged twice", "ledger"),
    ("The app crashes on start", "forge"),
    ("Refund my last invoice", "ledger"),
    ("The save button fails", "forge"),
    ("Why is there an extra fee", "ledger"),
    ("Error 500 on upload", "forge"),
]
#: a made-up team name neither base model ever answers with
LABEL = "ledger"


@dataclass(frozen=True)
class Case:
    base: str
    settings: TrainSettings
    #: kill the first run at this step, then resume (checked on one base: checkpoints hold
    #: only the adapter, optimiser and schedule, whatever the architecture)
    kill_at: int | None = None


def _settings(learning_rate: float) -> TrainSettings:
    return TrainSettings(
        rank=8, alpha=16, top_layers=8, max_steps=3, batch_size=4, warmup_fraction=0.0,
        learning_rate=learning_rate, checkpoint_every=1, max_length=64, threads=1,
    )  # fmt: skip


CASES = {
    "smollm2": Case(SMOLLM2, _settings(1e-2), kill_at=2),
    # a base model with a 262k-word vocabulary: its first loss is higher, a lower rate suits it
    "gemma3": Case(GEMMA3, _settings(5e-3)),
}


class _Killed(Exception):
    pass


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    found = Candidates()
    for i, (text, team) in enumerate(TICKETS):
        found.seen += 1
        found.examples.append(
            Example(str(i), (("system", SYSTEM), ("user", text)), team, "test", team)
        )
    return build_dataset(
        found, tmp_path_factory.mktemp("tune") / "ds", workload="tickets",
        checks=[ScorerSpec(type="exact")], source="test", heldout=0.3,
    )  # fmt: skip


def _config(base: str) -> dict[str, object]:
    # the registered tuned model copies its base's entry, one thread included
    return {"models": [{"name": base, "provider": "local", "threads": 1}]}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_training_lowers_the_loss_and_the_gguf_adapter_changes_the_output(
    case: Case, dataset: Dataset, tmp_path: Path, home: Path
) -> None:
    assert {e.answer for e in dataset.train} == {LABEL}, "the split the test relies on moved"
    settings = case.settings
    async with Pipeline(parse_config(_config(case.base))) as pipeline:
        base = resolve_base(pipeline.catalog, case.base)
        if case.kill_at is not None:

            def kill(report: StepReport) -> None:
                if report.step == case.kill_at:
                    raise _Killed

            with pytest.raises(_Killed):
                train(base, dataset, tmp_path / "run", settings, on_step=kill)
            assert (tmp_path / "run" / "checkpoint.pt").is_file()
        result = train(base, dataset, tmp_path / "run", settings)
        assert result.resumed_from == (case.kill_at - 1 if case.kill_at else 0)
        assert result.steps == settings.max_steps
        assert len(result.losses) == settings.max_steps
        assert result.losses[-1] < result.losses[0] * 0.5, result.losses
        assert not (tmp_path / "run" / "checkpoint.pt").exists()

        adapter = export_adapter(base, result.adapter_dir, tmp_path / "adapter.gguf")
        report = json.loads((tmp_path / "run" / "train.json").read_text())
        entry = register_tuned_model(
            pipeline.store, None, name="tickets-test", base=base, adapter_gguf=adapter,
            dataset=dataset, train_report=report,
        )  # fmt: skip
    # routed only the traffic it was trained on, chat-shaped even on a completion-only base
    assert entry.workloads == ["tickets"]
    assert entry.capabilities is not None
    assert "chat" in entry.capabilities
    lineage = get_tuned_model(open_store(), "local/tickets-test")
    assert lineage is not None
    assert lineage.base_model == case.base
    assert lineage.data_sha256 == dataset.data_sha256
    assert lineage.hyperparameters["rank"] == 8

    # a fresh pipeline finds the registered model in its catalog and llama.cpp loads it
    async with Pipeline(parse_config(_config(case.base))) as pipeline:
        assert entry.name in pipeline.catalog
        answers = {}
        for model in (case.base, entry.name):
            request = Request(
                messages=Request.from_prompt(TICKETS[0][0], system=SYSTEM).messages,
                model=model,
                params=SamplingParams(max_tokens=6, temperature=0),
            )
            answers[model] = (await pipeline.complete(request)).text
    assert LABEL in answers[entry.name].lower(), answers
    assert LABEL not in answers[case.base].lower(), answers
