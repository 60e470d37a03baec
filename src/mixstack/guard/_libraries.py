"""The guard's third-party libraries (spaCy, Presidio), imported without torch.

spaCy's thinc and Presidio's optional Hugging Face pipe import torch and transformers when
they are installed (`mixstack[tune]` installs them). The guard never uses either: its
entity model is a spaCy CNN. Importing them anyway costs seconds in every process that
loads the guard, so the first import of the guard's libraries hides them; code that wants
torch later imports it as usual.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["load_guard_library"]

#: installed or not, the guard's libraries must not import these
_UNUSED = ("torch", "transformers")
_lock = threading.Lock()


def load_guard_library(name: str) -> None:
    """Import `name` (spaCy or Presidio) once, with torch and transformers out of its sight."""
    if name in sys.modules:
        return
    with _lock:
        hidden = [unused for unused in _UNUSED if unused not in sys.modules]
        for unused in hidden:
            sys.modules[unused] = None  # type: ignore[assignment]  # import raises ImportError
        try:
            importlib.import_module(name)
        finally:
            for unused in hidden:
                if unused in sys.modules and sys.modules[unused] is None:
                    del sys.modules[unused]
