"""A trained peft adapter as a GGUF LoRA adapter that llama.cpp loads (`lora_path`).

The adapter file names each tensor after the base GGUF tensor it adapts, with `.lora_a`
(rank × in) and `.lora_b` (out × rank), and carries `adapter.type = lora` and the LoRA alpha
(llama.cpp scales by alpha / rank, as peft does). llama-architecture GGUFs store the query and
key projections with their rows permuted for llama.cpp's rotary embedding; the B matrices of
those projections get the same permutation, so the adapter matches the weights it adds to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixstack.errors import UserError
from mixstack.tune._base import BaseModel
from mixstack.tune._deps import require

__all__ = ["export_adapter"]

_DTYPES = ("f32", "f16")


def _base_name(peft_name: str) -> tuple[str, str]:
    """(`model.layers.3.self_attn.q_proj`, `a`|`b`) from peft's tensor name."""
    name = peft_name.removeprefix("base_model.model.")
    for part, which in ((".lora_A.weight", "a"), (".lora_B.weight", "b")):
        if name.endswith(part):
            return name.removesuffix(part).replace(".default", ""), which
    raise UserError(
        f"the adapter holds {peft_name!r}, which is no LoRA A/B matrix (embeddings or "
        "norms are not supported); train with the default target modules."
    )


def _rope_permute(np: Any, weights: Any, heads: int) -> Any:
    """llama.cpp's row order for a llama query/key projection (per head, halves interleaved)."""
    rows = weights.shape[0]
    return (
        weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def export_adapter(base: BaseModel, adapter_dir: Path, out: Path, dtype: str = "f16") -> Path:
    """Write `out` (a GGUF LoRA adapter) from a peft adapter folder; returns `out`."""
    if dtype not in _DTYPES:
        raise UserError(f"--dtype {dtype!r}: use one of {', '.join(_DTYPES)}.")
    gguf = require("gguf")
    np = require("numpy")
    safetensors_numpy = require("safetensors.numpy")
    config_path = adapter_dir / "adapter_config.json"
    weights_path = adapter_dir / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise UserError(f"{adapter_dir} is not a peft adapter; run `mixstack tune train` first.")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    tensors = safetensors_numpy.load_file(str(weights_path))
    arch = base.arch()
    metadata = base.llama().llama.metadata
    blocks = int(metadata[f"{arch}.block_count"])
    heads = int(metadata[f"{arch}.attention.head_count"])
    kv_heads = int(metadata.get(f"{arch}.attention.head_count_kv", heads))
    arch_id = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(arch_id, blocks)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    target = np.float16 if dtype == "f16" else np.float32
    for peft_name in sorted(tensors):
        module, which = _base_name(peft_name)
        gguf_name = names.get_name(module)
        if gguf_name is None:
            raise UserError(f"no GGUF tensor matches {module!r} for architecture {arch}.")
        data = tensors[peft_name].astype(np.float32)
        if which == "b" and arch == "llama" and gguf_name.endswith(("attn_q", "attn_k")):
            data = _rope_permute(np, data, heads if gguf_name.endswith("attn_q") else kv_heads)
        writer.add_tensor(f"{gguf_name}.weight.lora_{which}", np.ascontiguousarray(data, target))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)
    return out
