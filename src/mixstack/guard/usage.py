"""Token counts a budget can trust: bounds for holds, and checks on what upstreams report.

A hold must cover the worst the call can cost, so its prompt size is an upper bound (a
byte-level tokenizer never makes more tokens than the text has UTF-8 bytes; CJK text, about
one token a character, is where a characters-per-token estimate undercounts) and its answer
size is `max_tokens`, or the model's context window when the request sets none.

Usage an upstream reports is checked before anyone is charged: a negative, missing or
impossible count (more answer tokens than `max_tokens` allowed) is replaced by a local
count, never trusted into a budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixstack.types import Request

__all__ = ["TokenBound", "checked_usage", "prompt_bound", "text_bound"]

#: tokens a chat template adds per message (role markers, separators), generously
_PER_MESSAGE = 8
#: tokens an image can take at the highest detail the vendors bill (OpenAI tiles: ~1,105)
_PER_IMAGE = 1_600


def text_bound(text: str) -> int:
    """At most this many tokens (UTF-8 bytes; a cheap upper bound for BPE tokenizers)."""
    return len(text.encode("utf-8", "surrogatepass"))


def prompt_bound(request: Request) -> int:
    """An upper bound of the prompt's tokens: every text that is sent, plus overheads."""
    from mixstack.guard.fields import fixed_texts, redactable_texts

    total = sum(text_bound(t) for t in redactable_texts(request))
    total += sum(text_bound(t) for t in fixed_texts(request))
    total += _PER_MESSAGE * len(request.messages)
    total += _PER_IMAGE * sum(len(m.images) for m in request.messages)
    return total


@dataclass(frozen=True, slots=True)
class TokenBound:
    """What a call may use at most: the hold is priced on it and settlement capped by it."""

    prompt: int
    completion: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def checked_usage(
    reported_prompt: int,
    reported_completion: int,
    *,
    local_prompt: int,
    answer: str,
    max_tokens: int | None,
) -> tuple[int, int, bool]:
    """(prompt, completion, corrected): the upstream's counts when plausible, else local ones.

    Implausible: negative; zero for a non-empty prompt or answer; more answer tokens than
    `max_tokens` allowed (capped to it)."""
    corrected = False
    prompt = reported_prompt
    if prompt <= 0 < local_prompt:
        prompt, corrected = local_prompt, True
    completion = reported_completion
    answer_bound = text_bound(answer)
    if completion < 0 or (completion == 0 and answer):
        completion, corrected = answer_bound, True
    if max_tokens is not None and completion > max_tokens:
        completion, corrected = max_tokens, True
    return prompt, completion, corrected
