"""Tuned local models: a base GGUF plus a GGUF LoRA adapter, registered under the home.

`mixstack tune export` writes `<home>/tuned/<name>/model.json` (a model entry) beside the
adapter; every registered one joins the catalog as `local/<name>` like a built-in model. The
lineage (base, data hash, hyperparameters) lives in the store.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import ValidationError

from mixstack._home import default_home
from mixstack.config import ModelConfig
from mixstack.config.models import model_config

__all__ = ["MODEL_JSON", "registered_models", "tuned_dir"]

log = logging.getLogger("mixstack.providers.local")

MODEL_JSON = "model.json"


def tuned_dir(home: Path | None = None) -> Path:
    """Where tuned models live: `<home>/tuned`."""
    return default_home(home) / "tuned"


def registered_models(folder: Path) -> list[ModelConfig]:
    """Every tuned model registered in `folder`; a broken entry is logged and left out,
    never allowed to break the catalog of every other model."""
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.glob(f"*/{MODEL_JSON}")):
        try:
            found.append(model_config(json.loads(entry.read_text("utf-8"))))
        except (OSError, ValueError, ValidationError) as exc:
            log.warning("tuned model %s is unreadable (%s); re-export it", entry, exc)
    return found
