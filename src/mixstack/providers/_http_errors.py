"""How every HTTP provider turns an upstream status into mixstack's error tree.

401/403 → the model is unavailable here (credentials); 400/413/422 → the request is wrong;
429 and 5xx (and a few more) → a retryable `ProviderError` carrying `retry-after`.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from mixstack.errors import (
    InvalidRequestError,
    MixstackError,
    ModelUnavailableError,
    ProviderError,
)

__all__ = ["RETRYABLE_STATUS", "parse_retry_after", "status_error"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(
    model: str,
    where: str,
    status: int,
    message: str,
    *,
    credentials_fix: str,
    retry_after_s: float | None = None,
) -> Exception:
    """The error for an upstream answer with HTTP `status` (`where` names the endpoint).

    Its `public_message` names the model and status only: the endpoint's address and its
    own words stay in the log and the CLI, never in a gateway client's answer."""
    error: MixstackError
    if status in (401, 403):
        error = ModelUnavailableError(
            f"{where} rejected the credentials (HTTP {status}: {message}); {credentials_fix}."
        )
        public = f"{model} is not available on this gateway (its endpoint refused it)."
    elif status in (400, 413, 422):
        error = InvalidRequestError(
            f"{where} rejected the request (HTTP {status}: {message}); "
            "fix the request or pick another model."
        )
        public = (
            f"{model} rejected the request (HTTP {status}); fix the request or pick another "
            "model (the gateway's log has the endpoint's answer)."
        )
    else:
        retryable = status in RETRYABLE_STATUS
        fix = "retry later or add a fallback." if retryable else "check the model's config."
        error = ProviderError(
            f"{where} answered HTTP {status}: {message}; {fix}",
            model=model,
            status=status,
            retryable=retryable,
            retry_after_s=retry_after_s,
        )
        public = f"{model} answered HTTP {status}; {fix}"
    error.public_message = public
    return error
