"""OpenAI-style error JSON for every failure: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from mixstack.errors import MixstackError, ProviderError, RateLimited, UnknownModelError

__all__ = [
    "error_payload",
    "error_response",
    "exception_payload",
    "plain_error",
    "validation_message",
]

log = logging.getLogger("mixstack.gateway")


def error_payload(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


#: an address a message may carry (an upstream's base URL): never shown to gateway clients
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s)'\"]+", re.IGNORECASE)


def _message(exc: MixstackError) -> str:
    if exc.public_message is not None:
        return exc.public_message
    if isinstance(exc, UnknownModelError):
        shown = ", ".join(exc.known[:20]) + (" …" if len(exc.known) > 20 else "")
        return (
            f"unknown model {exc.name!r}; GET /v1/models lists the models this gateway serves "
            f"({shown})."
        )
    return _URL.sub("<endpoint>", exc.message) if "://" in exc.message else exc.message


def exception_payload(exc: MixstackError) -> dict[str, Any]:
    return error_payload(_message(exc), exc.error_type, param=exc.param, code=exc.code)


def error_response(exc: MixstackError, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    status = exc.http_status
    payload = exception_payload(exc)
    if isinstance(exc, RateLimited):
        extra["retry-after"] = str(max(1, math.ceil(exc.retry_after_s)))
    elif isinstance(exc, ProviderError) and exc.status == 429:
        # the upstream's rate limit is the client's to wait out, not a gateway failure
        status = 429
        payload["error"]["type"] = "rate_limit_error"
        payload["error"]["code"] = "upstream_rate_limited"
        extra["retry-after"] = str(max(1, math.ceil(exc.retry_after_s or 1.0)))
    if exc.public_message is not None and exc.public_message != exc.message:
        log.warning("upstream error (shown to the client as %r): %s", exc.public_message, exc)
    return JSONResponse(payload, status_code=status, headers=extra)


def plain_error(
    status: int, message: str, error_type: str = "invalid_request_error", **kw: str | None
) -> JSONResponse:
    return JSONResponse(error_payload(message, error_type, **kw), status_code=status)


def validation_message(exc: ValidationError) -> tuple[str, str | None]:
    """The first problem of a body as `path: what is wrong`, and the path as `param`."""
    err = exc.errors()[0]
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path or 'body'}: {err['msg']}{tail}; fix the request body.", path or None
