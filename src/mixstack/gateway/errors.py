"""OpenAI-style error JSON for every failure: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from mixstack.errors import MixstackError, RateLimited, UnknownModelError

__all__ = [
    "error_payload",
    "error_response",
    "exception_payload",
    "plain_error",
    "validation_message",
]


def error_payload(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _message(exc: MixstackError) -> str:
    if isinstance(exc, UnknownModelError):
        shown = ", ".join(exc.known[:20]) + (" …" if len(exc.known) > 20 else "")
        return (
            f"unknown model {exc.name!r}; GET /v1/models lists the models this gateway serves "
            f"({shown})."
        )
    return exc.message


def exception_payload(exc: MixstackError) -> dict[str, Any]:
    return error_payload(_message(exc), exc.error_type, param=exc.param, code=exc.code)


def error_response(exc: MixstackError, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if isinstance(exc, RateLimited):
        extra["retry-after"] = str(max(1, math.ceil(exc.retry_after_s)))
    return JSONResponse(exception_payload(exc), status_code=exc.http_status, headers=extra)


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
