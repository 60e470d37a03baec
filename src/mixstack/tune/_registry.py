"""Register a tuned model: its adapter beside a model entry under the home, its lineage in
the store. Once registered, `local/<name>` is in the catalog (`mixstack models`) like any
built-in model."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

from mixstack.config.models import LocalModelConfig
from mixstack.errors import UserError
from mixstack.providers.local._tuned import MODEL_JSON, tuned_dir
from mixstack.store import Store
from mixstack.store.tune import TunedModelRecord, record_tuned_model
from mixstack.tune._base import BaseModel, file_sha256
from mixstack.tune._dataset import Dataset

__all__ = ["model_name", "register_tuned_model"]

ADAPTER_FILE = "adapter.gguf"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def model_name(name: str) -> str:
    """`local/<name>` from `name` or `local/name`, checked."""
    short = name.removeprefix("local/")
    if not _NAME.match(short):
        raise UserError(
            f"tuned model name {name!r}: use lower-case letters, digits, '.', '_' and '-' "
            "(e.g. tickets-smollm2)."
        )
    return f"local/{short}"


def register_tuned_model(
    store: Store,
    home: Path | None,
    *,
    name: str,
    base: BaseModel,
    adapter_gguf: Path,
    dataset: Dataset,
    train_report: dict[str, Any],
) -> LocalModelConfig:
    """Copy the adapter into `<home>/tuned/<name>/`, write its model entry, record lineage."""
    full = model_name(name)
    if full == base.name:
        raise UserError(f"{full} is the base model's own name; pick another --name.")
    folder = tuned_dir(home) / full.removeprefix("local/")
    folder.mkdir(parents=True, exist_ok=True)
    adapter = folder / ADAPTER_FILE
    if adapter_gguf.resolve() != adapter.resolve():
        shutil.copyfile(adapter_gguf, adapter)
    base_cfg = base.entry.settings(LocalModelConfig)
    workload = str(dataset.report.get("workload") or "")
    entry = base_cfg.model_copy(
        update={
            "name": full,
            "lora_path": str(adapter),
            # a tuned model keeps its base's file and behaviour; it is measured on its own
            "fallbacks": [],
            # routed only its workload's traffic, which it was trained on in exactly the
            # prompt form its provider renders: so it takes chat-shaped requests even on a
            # completion-only base (Gemma 3 270M), and no other workload's traffic
            "workloads": [workload] if workload else None,
            "capabilities": sorted(base.entry.capabilities | ({"chat"} if workload else set())),
        }
    )
    (folder / MODEL_JSON).write_text(
        json.dumps(entry.model_dump(mode="json", exclude_defaults=True), indent=2),
        encoding="utf-8",
    )
    settings = train_report.get("settings", {})
    record_tuned_model(
        store,
        TunedModelRecord(
            name=full,
            base_model=base.name,
            base_sha256=base.sha256(),
            data_sha256=dataset.data_sha256,
            dataset_path=str(dataset.folder.resolve()),
            train_examples=len(dataset.train),
            heldout_examples=len(dataset.heldout),
            hyperparameters=settings,
            adapter_path=str(adapter),
            adapter_sha256=file_sha256(adapter),
            workload=str(dataset.report.get("workload", "")),
            final_loss=train_report.get("final_loss"),
            train_seconds=train_report.get("seconds"),
            created_at=time.time(),
        ),
    )
    return entry
