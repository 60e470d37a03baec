"""The one token estimate, for models whose tokenizer mixstack does not have. Where a model's
tokenizer is known, the provider counts (`Provider.count_text_tokens`,
`Provider.count_prompt_tokens`) instead; `guard.usage.prompt_tokens` is the one counter that
asks the provider first and falls back to this estimate.

    estimate_tokens(text)   what a text typically takes: about four characters a token,
                            rounded up (routing, sweeps, rate windows)
    bound_tokens(text)      the most it can take: one token a UTF-8 byte, since a byte-level
                            tokenizer never makes more tokens than the text has bytes

A hold or a budget must cover the worst case, so it reserves `bound_tokens`, never the
average: that is the estimate with a safety margin of `CHARS_PER_TOKEN` on ASCII text, and
more on multi-byte text (CJK, about a token a character, is where the average undercounts).
"""

from __future__ import annotations

__all__ = ["CHARS_PER_TOKEN", "bound_tokens", "estimate_tokens"]

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Tokens in `text` for a model whose tokenizer mixstack does not have (~4 chars each)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def bound_tokens(text: str) -> int:
    """At most this many tokens in `text`, whatever the tokenizer (its UTF-8 bytes)."""
    return len(text.encode("utf-8", "surrogatepass"))
