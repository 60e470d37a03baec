"""What a request must be before anything is sent: something to answer, and no field the
routed model's provider would have to drop."""

from __future__ import annotations

from mixstack._types import Request
from mixstack.catalog import ModelEntry
from mixstack.errors import InvalidRequestError
from mixstack.providers.base import Provider

__all__ = ["check_fields", "validate"]


def validate(request: Request) -> None:
    """Refuse a request with no messages, or with no text or image to answer."""
    if not request.messages:
        raise InvalidRequestError("the request has no messages; give a prompt.", param="messages")
    if not any(m.text.strip() or m.images for m in request.messages if m.role != "system"):
        raise InvalidRequestError(
            "the prompt is empty; pass text as an argument or on stdin.", param="messages"
        )


def check_fields(provider: Provider, entry: ModelEntry, request: Request) -> None:
    """Refuse, naming them, the fields the routed model's provider would have to drop."""
    dropped = provider.unsupported(entry, request)
    if not dropped:
        return
    shown = ", ".join(f"`{f}`" for f in dropped)
    raise InvalidRequestError(
        f"{entry.name} ({entry.provider} provider) cannot honour {shown}; nothing was sent. "
        "Remove the field, or send it to a model that supports it: OpenAI-compatible "
        "endpoints take every field, in-process `local/` models take n, seed, logprobs, "
        "top_logprobs, penalties, logit_bias, top_k, min_p and repetition_penalty.",
        param=dropped[0],
        code="unsupported_parameter",
    )
