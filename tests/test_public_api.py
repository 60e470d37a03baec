from __future__ import annotations

import subprocess
import sys

import mixstack


def test_all_is_sorted_and_complete() -> None:
    assert mixstack.__all__ == sorted(mixstack.__all__)
    for name in mixstack.__all__:
        assert hasattr(mixstack, name), name
    public = {n for n in vars(mixstack) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(mixstack, n)).__name__ == "module"}
    assert public - modules == set(mixstack.__all__)


def test_import_is_cheap_and_side_effect_free() -> None:
    code = (
        "import sys, mixstack; heavy = [m for m in ('llama_cpp', 'rapidocr_onnxruntime', "
        "'numpy', 'openai', 'anthropic', 'torch') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
