"""LoRA fine-tuning of a local base model with transformers + peft, on CPU (or `--device cuda`).

The loss is taken on the answer tokens only, and the output layer is applied only where an
answer token is predicted (a 49k-word output layer on every prompt position is a fifth of the
work for nothing). Deterministic for a seed: the adapter's initial weights and the batch order
both come from it. Resumable: a checkpoint (adapter, optimiser, step, losses) is written every
`checkpoint_every` steps and a rerun with the same settings and data continues from it.
Memory is bounded by `batch_size × max_length` tokens.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mixstack.errors import UserError
from mixstack.tune._base import BaseModel
from mixstack.tune._dataset import Dataset
from mixstack.tune._deps import require

__all__ = ["StepReport", "TrainResult", "TrainSettings", "load_train_result", "train"]

CHECKPOINT = "checkpoint.pt"
ADAPTER = "adapter"
TRAIN_JSON = "train.json"


@dataclass(frozen=True)
class TrainSettings:
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    #: adapt only the top N transformer blocks (None: all); the backward pass stops there
    top_layers: int | None = None
    epochs: float = 2.0
    max_steps: int | None = None
    batch_size: int = 8
    learning_rate: float = 2e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 0.0
    max_length: int = 256
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    checkpoint_every: int = 25

    def check(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or self.batch_size < 1 or self.max_length < 8:
            raise UserError(
                "rank, alpha, batch size and max length must be positive (max length ≥ 8)."
            )
        if self.epochs <= 0 and not self.max_steps:
            raise UserError("give --epochs > 0 or --max-steps.")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise UserError(f"--device {self.device!r}: use cpu or cuda (cuda:N).")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["targets"] = list(self.targets)
        return data


@dataclass(frozen=True, slots=True)
class StepReport:
    step: int
    total: int
    loss: float
    elapsed_s: float


@dataclass
class TrainResult:
    out_dir: Path
    settings: TrainSettings
    base: str = ""
    dataset: str = ""
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    train_tokens: int = 0
    resumed_from: int = 0

    @property
    def adapter_dir(self) -> Path:
        return self.out_dir / ADAPTER

    @property
    def final_loss(self) -> float | None:
        tail = self.losses[-5:]
        return sum(tail) / len(tail) if tail else None

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings.to_json(),
            "base": self.base,
            "dataset": self.dataset,
            "losses": self.losses,
            "steps": self.steps,
            "seconds": self.seconds,
            "train_tokens": self.train_tokens,
            "resumed_from": self.resumed_from,
            "final_loss": self.final_loss,
        }


Encoded = tuple[list[int], list[int]]


def _encode(base: BaseModel, dataset: Dataset, max_length: int) -> list[Encoded]:
    """(prompt, answer) token lists; a long prompt keeps its end, a too-long answer is an
    error (training on a cut answer would teach the model to stop mid-answer)."""
    out = []
    for example in dataset.train:
        prompt, answer = base.encode(example.as_messages(), example.answer)
        if len(answer) >= max_length:
            raise UserError(
                f"example {example.id}: the answer alone is {len(answer)} tokens, over "
                f"--max-length {max_length}; raise --max-length or drop the example."
            )
        prompt = prompt[-(max_length - len(answer)) :]
        out.append((prompt, answer))
    return out


def _batches(n: int, size: int, seed: int, epoch: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[i : i + size] for i in range(0, n, size)]


def _peft_model(base_model: Any, settings: TrainSettings, n_layers: int) -> Any:
    peft = require("peft")
    layers = None
    if settings.top_layers is not None:
        if not 1 <= settings.top_layers <= n_layers:
            raise UserError(f"--top-layers must be between 1 and {n_layers}.")
        layers = list(range(n_layers - settings.top_layers, n_layers))
    config = peft.LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.targets),
        layers_to_transform=layers,
        bias="none",
        task_type="CAUSAL_LM",
    )
    base_model.requires_grad_(False)
    return peft.get_peft_model(base_model, config)


def _batch_loss(torch: Any, model: Any, items: list[Encoded], device: str) -> tuple[Any, int]:
    """Mean cross-entropy over the answer tokens of the batch, and their count."""
    inner = model.get_base_model()
    length = max(len(p) + len(a) for p, a in items)
    ids = torch.zeros((len(items), length), dtype=torch.long)
    mask = torch.zeros((len(items), length), dtype=torch.long)
    rows: list[int] = []
    cols: list[int] = []
    targets: list[int] = []
    for i, (prompt, answer) in enumerate(items):
        seq = prompt + answer
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        for j, token in enumerate(answer):
            rows.append(i)
            cols.append(len(prompt) + j - 1)  # the position that predicts this token
            targets.append(token)
    hidden = inner.model(input_ids=ids.to(device), attention_mask=mask.to(device))[0]
    picked = hidden[torch.tensor(rows), torch.tensor(cols)]
    logits = inner.lm_head(picked).float()
    cap = getattr(inner.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(targets, device=device))
    return loss, len(targets)


def _fingerprint(settings: TrainSettings, dataset: Dataset, base: BaseModel) -> str:
    return json.dumps(
        {"settings": settings.to_json(), "data": dataset.data_sha256, "base": base.name},
        sort_keys=True,
    )


class _Run:
    """The model, optimiser and schedule of one training run, and its checkpoint."""

    def __init__(self, base: BaseModel, dataset: Dataset, out_dir: Path, settings: TrainSettings):
        torch = require("torch")
        self.torch = torch
        self.settings = settings
        self.encoded = _encode(base, dataset, settings.max_length)
        self.model = _peft_model(base.torch_model(settings.device), settings, _n_layers(base))
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        self.per_epoch = math.ceil(len(self.encoded) / settings.batch_size)
        total = settings.max_steps or max(1, math.ceil(self.per_epoch * settings.epochs))
        warmup = max(1, int(total * settings.warmup_fraction))
        self.total = total
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup + 1))),
        )
        self.checkpoint = out_dir / CHECKPOINT
        self.fingerprint = _fingerprint(settings, dataset, base)

    def resume(self, result: TrainResult) -> float:
        """Continue from a checkpoint of the same settings and data; the seconds it had run."""
        if not self.checkpoint.is_file():
            return 0.0
        state = self.torch.load(
            self.checkpoint, map_location=self.settings.device, weights_only=False
        )
        if state["fingerprint"] != self.fingerprint:
            return 0.0  # another run's checkpoint: start afresh (it is overwritten later)
        _load_adapter_state(self.model, state["adapter"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.torch.set_rng_state(state["rng"])
        result.resumed_from = int(state["step"])
        result.losses = list(state["losses"])
        result.train_tokens = int(state["tokens"])
        return float(state["seconds"])

    def step(self, step: int) -> tuple[float, int]:
        """One optimiser step (0-based); its loss and the tokens it read."""
        epoch, offset = divmod(step, self.per_epoch)
        batch = _batches(len(self.encoded), self.settings.batch_size, self.settings.seed, epoch)
        items = [self.encoded[i] for i in batch[offset]]
        loss, _answer_tokens = _batch_loss(self.torch, self.model, items, self.settings.device)
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.item()), sum(len(p) + len(a) for p, a in items)

    def save_checkpoint(self, step: int, result: TrainResult, seconds: float) -> None:
        """Written beside and renamed: a kill mid-write leaves the previous checkpoint whole."""
        state = {
            "fingerprint": self.fingerprint,
            "adapter": _adapter_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.torch.get_rng_state(),
            "step": step,
            "losses": result.losses,
            "tokens": result.train_tokens,
            "seconds": seconds,
        }
        partial = self.checkpoint.with_suffix(".partial")
        self.torch.save(state, partial)
        os.replace(partial, self.checkpoint)


def train(
    base: BaseModel,
    dataset: Dataset,
    out_dir: Path,
    settings: TrainSettings | None = None,
    *,
    on_step: Callable[[StepReport], None] | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train a LoRA adapter on the dataset's training split; writes `out_dir/adapter`."""
    settings = settings or TrainSettings()
    settings.check()
    torch = require("torch")
    if settings.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: this torch build sees no CUDA device; install a CUDA build of "
            "torch on a machine with a GPU, or train with --device cpu."
        )
    torch.set_num_threads(settings.threads or os.cpu_count() or 1)
    torch.manual_seed(settings.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(base, dataset, out_dir, settings)
    result = TrainResult(
        out_dir=out_dir, settings=settings, base=base.name, dataset=str(dataset.folder.resolve())
    )
    started = time.monotonic() - (run.resume(result) if resume else 0.0)
    step = result.resumed_from
    run.model.train()
    while step < run.total:
        loss, tokens = run.step(step)
        step += 1
        result.losses.append(loss)
        result.train_tokens += tokens
        if on_step is not None:
            on_step(StepReport(step, run.total, loss, time.monotonic() - started))
        if step % settings.checkpoint_every == 0 and step < run.total:
            run.save_checkpoint(step, result, time.monotonic() - started)
    result.steps = step
    result.seconds = time.monotonic() - started
    run.model.save_pretrained(str(result.adapter_dir))
    (out_dir / TRAIN_JSON).write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    run.checkpoint.unlink(missing_ok=True)
    return result


def _n_layers(base: BaseModel) -> int:
    metadata = base.llama().llama.metadata
    return int(metadata[f"{base.arch()}.block_count"])


def _adapter_state(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}


def _load_adapter_state(model: Any, state: dict[str, Any]) -> None:
    missing = set(state) - set(model.state_dict())
    if missing:
        raise UserError("the checkpoint does not fit this model; delete it and train again.")
    model.load_state_dict(state, strict=False)


def load_train_result(out_dir: Path) -> dict[str, Any]:
    path = out_dir / TRAIN_JSON
    if not path.is_file() or not (out_dir / ADAPTER).is_dir():
        raise UserError(
            f"{out_dir} holds no finished training run; run `mixstack tune train` first."
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
