"""The optional training stack (`pip install mixstack[tune]`): torch, transformers, peft, gguf.

Imported only by the steps that train or export, never on the routing path; a missing piece
is one clear error naming the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mixstack.errors import ModelUnavailableError

__all__ = ["require"]

_EXTRA = "tune"


def require(module: str) -> ModuleType:
    """The imported module, or an error that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".", maxsplit=1)[0]
        raise ModelUnavailableError(
            f"tuning needs the Python package {package!r}, which is not installed "
            f"({exc}); run `pip install 'mixstack[{_EXTRA}]'` (torch: the CPU-only wheel is "
            "enough for CPU training)."
        ) from exc
