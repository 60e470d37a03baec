"""The one token estimate, for models whose tokenizer mixstack does not have: about four
characters a token (rounded up). Where a model's tokenizer is known, the provider counts
(`Provider.count_text_tokens`, `Provider.count_prompt_tokens`) instead."""

from __future__ import annotations

__all__ = ["CHARS_PER_TOKEN", "estimate_tokens"]

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Tokens in `text` for a model whose tokenizer mixstack does not have (~4 chars each)."""
    return -(-len(text) // CHARS_PER_TOKEN)
