"""The base model of a tuning run: its GGUF file, its prompt renderer and its torch weights.

Prompts and tokens come from llama.cpp itself (the GGUF's own chat template and tokenizer), so
the tuned model is trained on exactly the tokens it will see when served. The weights come from
the same GGUF through transformers' GGUF support, which dequantises them to float32; that
conversion is slow (it parses the whole vocabulary twice), so its result is kept once in the
user cache, keyed by the GGUF's sha256.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixstack._types import Message
from mixstack.catalog import Catalog, ModelEntry
from mixstack.config.models import LocalModelConfig
from mixstack.errors import UserError
from mixstack.providers.local import LocalProvider
from mixstack.providers.local._embedded import cache_dir
from mixstack.providers.local._engine import LoadedModel
from mixstack.tune._deps import require

__all__ = ["BaseModel", "file_sha256", "resolve_base"]

log = logging.getLogger("mixstack.tune")

#: GGUF architectures whose weights transformers reads and whose LoRA tensors we can name
SUPPORTED_ARCHS = ("llama", "gemma3")


def file_sha256(path: Path) -> str:
    """The file's sha256, hashed once per process for a given size and modification time
    (a tuning run asks for its base's several times; Gemma's is 250 MB)."""
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256(path: str, _size: int, _mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class BaseModel:
    """A local catalog model as a tuning base."""

    name: str
    gguf: Path
    style: str
    context_window: int
    entry: ModelEntry
    provider: LocalProvider

    def llama(self) -> LoadedModel:
        """The llama.cpp instance that renders and tokenizes prompts: the one the pipeline
        serves this model with (loaded once per process, shared)."""
        return self.provider.loaded(self.entry)

    def arch(self) -> str:
        value = str(self.llama().llama.metadata.get("general.architecture", ""))
        if value not in SUPPORTED_ARCHS:
            raise UserError(
                f"{self.name}: GGUF architecture {value!r} cannot be tuned here (supported: "
                f"{', '.join(SUPPORTED_ARCHS)}); pick another base with --base."
            )
        return value

    def encode(self, messages: tuple[Message, ...], answer: str) -> tuple[list[int], list[int]]:
        """(prompt tokens, answer tokens + end of sequence) as the served model sees them."""
        llm = self.llama()
        prompt, _stop = llm.render(messages)
        prompt_tokens = llm.tokenize(prompt)
        answer_tokens: list[int] = llm.llama.tokenize(
            answer.encode("utf-8"), add_bos=False, special=False
        )
        return prompt_tokens, [*answer_tokens, int(llm.llama.token_eos())]

    def sha256(self) -> str:
        return file_sha256(self.gguf)

    def torch_model(self, device: str = "cpu") -> Any:
        """The base weights as a float32 transformers model (from the cache after the first
        conversion)."""
        torch = require("torch")
        transformers = require("transformers")
        folder = _dequantised(self, transformers, torch)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        return model.to(device)


def _dequantised(base: BaseModel, transformers: Any, torch: Any) -> Path:
    key = base.sha256()[:16]
    folder = cache_dir() / "dequantised" / f"{base.gguf.stem}-{key}"
    if (folder / "config.json").is_file():
        return folder
    log.info("converting %s to float32 weights once (cached in %s)", base.gguf.name, folder)
    transformers.utils.logging.disable_progress_bar()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(base.gguf.parent), gguf_file=base.gguf.name, dtype=torch.float32
    )
    # the weights are plain float32 now: saving them needs the GGUF marker gone
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # one folder per process, renamed into place: two processes converting at once (two
    # test runs, two trainings) never write into or delete each other's files
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    (partial / "mixstack-source.json").write_text(
        json.dumps({"gguf": str(base.gguf), "sha256": base.sha256()}), encoding="utf-8"
    )
    if (folder / "config.json").is_file():
        shutil.rmtree(partial)  # another process finished first: keep its (identical) copy
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # a broken leftover without its config
    try:
        partial.rename(folder)
    except OSError:  # another process renamed its copy in between
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def resolve_base(catalog: Catalog, name: str) -> BaseModel:
    """The catalog model `name` as a tuning base: it must be an in-process GGUF model."""
    entry = catalog.get(name)
    provider = catalog.provider_for(entry)
    if not isinstance(provider, LocalProvider):
        raise UserError(
            f"{name} is not a local GGUF model; tuning needs one as its base (for example "
            "local/smollm2-135m-instruct); pick it with --base."
        )
    settings = entry.settings(LocalModelConfig)
    if settings.lora_path:
        raise UserError(
            f"{name} is itself a tuned model (a LoRA adapter); tune its base "
            f"{settings.path} instead."
        )
    return BaseModel(
        name=name,
        gguf=provider.resolve(entry),
        style=settings.style,
        context_window=entry.context_window,
        entry=entry,
        provider=provider,
    )
