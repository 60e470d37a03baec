"""Shape the open model: distil what a rented model does well into a local one, prove it,
route to it.

    dataset  ->  train  ->  export  ->  gate  ->  promote (route)  /  rollback

Each step is a module (`dataset`, `train`, `export`, `registry`, `gate`, `promote`); the CLI
is `mixstack tune …`. Training needs the optional extra `mixstack[tune]` (torch,
transformers, peft, gguf), imported only by the steps that use it.
"""

from mixstack.tune._base import BaseModel, resolve_base
from mixstack.tune._dataset import (
    Dataset,
    Example,
    build_dataset,
    examples_from_log,
    examples_from_suite,
    load_dataset,
)
from mixstack.tune._export import export_adapter
from mixstack.tune._gate import GateResult, run_gate
from mixstack.tune._promote import promote, rollback
from mixstack.tune._registry import model_name, register_tuned_model
from mixstack.tune._train import StepReport, TrainResult, TrainSettings, load_train_result, train

__all__ = [
    "BaseModel",
    "Dataset",
    "Example",
    "GateResult",
    "StepReport",
    "TrainResult",
    "TrainSettings",
    "build_dataset",
    "examples_from_log",
    "examples_from_suite",
    "export_adapter",
    "load_dataset",
    "load_train_result",
    "model_name",
    "promote",
    "register_tuned_model",
    "resolve_base",
    "rollback",
    "run_gate",
    "train",
]
