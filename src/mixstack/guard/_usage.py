"""The one token counter, and token counts a budget can trust.

    prompt_tokens(request, provider, model)   the model's own tokenizer where its provider
                                              has one (`count_prompt_tokens`), else the one
                                              estimate of `mixstack._tokens` over every text
                                              sent; `worst_case=True` for what a budget must
                                              cover (`tokens.bound_tokens`: the estimate's
                                              documented safety margin)
    prompt_bound(request)                     the worst case when no single tokenizer applies
                                              (a hold taken before routing)

A hold must cover the worst the call can cost, so its prompt size is an upper bound and its
answer size is `max_tokens`, or the model's context window when the request sets none.

Usage an upstream reports is checked before anyone is charged: a negative, missing or
impossible count (more answer tokens than `max_tokens` allowed) is replaced by a local
count, never trusted into a budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from mixstack._tokens import bound_tokens, estimate_tokens
from mixstack._types import Request

__all__ = [
    "PromptCounter",
    "TokenBound",
    "checked_usage",
    "prompt_bound",
    "prompt_tokens",
    "text_bound",
]

#: tokens a chat template adds per message (role markers, separators): typically, at most
_PER_MESSAGE, _PER_MESSAGE_BOUND = 4, 8
#: tokens an image takes: typically (OpenAI's 1024 px tile price), at the highest detail the
#: vendors bill (OpenAI tiles: ~1,105)
_PER_IMAGE, _PER_IMAGE_BOUND = 765, 1_600

#: at most this many tokens in a text (kept under its old name for the pipeline's callers)
text_bound = bound_tokens


class PromptCounter(Protocol):
    """What the counter asks of a provider (`Provider.count_prompt_tokens`)."""

    def count_prompt_tokens(self, model: Any, request: Request) -> int | None: ...


def _sent_texts(request: Request) -> Iterator[str]:
    from mixstack.guard._fields import fixed_texts, redactable_texts

    yield from redactable_texts(request)
    yield from fixed_texts(request)


def _estimate(request: Request, text: Callable[[str], int], message: int, image: int) -> int:
    total = sum(text(t) for t in _sent_texts(request))
    total += message * len(request.messages)
    total += image * sum(len(m.images) for m in request.messages)
    return total


def prompt_bound(request: Request) -> int:
    """An upper bound of the prompt's tokens: every text that is sent, plus overheads."""
    return _estimate(request, bound_tokens, _PER_MESSAGE_BOUND, _PER_IMAGE_BOUND)


def prompt_tokens(
    request: Request,
    provider: PromptCounter | None = None,
    model: Any = None,
    *,
    worst_case: bool = False,
) -> int:
    """The prompt's tokens: the model's tokenizer where its provider has one, else the one
    estimate (`worst_case`: its upper bound, for budgets) over every text that is sent."""
    if provider is not None and model is not None:
        counted = provider.count_prompt_tokens(model, request)
        if counted is not None and counted > 0:
            return counted
    if worst_case:
        return prompt_bound(request)
    return _estimate(request, estimate_tokens, _PER_MESSAGE, _PER_IMAGE)


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
