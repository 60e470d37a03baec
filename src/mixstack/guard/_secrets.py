"""Secrets the pattern recognizers miss: credentials by name, in URLs and in auth headers.

    aws_secret_access_key = wJalr…     a key *named* like a secret, any prefix (`DB_PASSWORD=`)
    redis://user:pass@cache:6379       credentials inside any URL, dotted host or not
    Authorization: Bearer eyJ…         bearer and basic tokens

Plain regular expressions, each gated by a substring test, so clean text costs a few `in`
checks. Findings are `SECRET` spans over the secret value only.
"""

from __future__ import annotations

import re

__all__ = ["SECRET", "SECRET_SCORE", "secret_spans"]

SECRET = "SECRET"
SECRET_SCORE = 0.9

# a name that says "secret" (with any prefix or suffix: aws_secret_access_key, DB_PASSWORD,
# x-api-key), then `=` or `:`, then a value of 8+ characters
_NAMED = re.compile(
    r"(?i)[A-Za-z0-9_.\-]*(?:secret|passw(?:or)?d|pwd|token|api[_\-]?key|access[_\-]?key|"
    r"private[_\-]?key|credential)[A-Za-z0-9_.\-]*[\"']?\s*[:=]\s*[\"']?"
    r"(?P<value>[^\s\"',;`]{8,})"
)
_URL_CREDENTIALS = re.compile(
    r"(?i)\b[a-z][a-z0-9+.\-]{1,20}://(?P<value>[^\s:/@\"'<>]+:[^\s@/\"'<>]+)@"
)
_AUTH_HEADER = re.compile(r"(?i)\b(?:bearer|basic)\s+(?P<value>[A-Za-z0-9\-._~+/]{12,}=*)")
_NEEDLES_NAMED = ("secret", "passw", "pwd", "token", "key", "credential")


def secret_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every secret value found in `text`, in order, possibly overlapping."""
    spans: list[tuple[int, int]] = []
    lowered: str | None = None
    if "=" in text or ":" in text:
        lowered = text.lower()
        if any(n in lowered for n in _NEEDLES_NAMED):
            spans.extend(m.span("value") for m in _NAMED.finditer(text))
    if "://" in text and "@" in text:
        spans.extend(m.span("value") for m in _URL_CREDENTIALS.finditer(text))
    if lowered is None:
        lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        spans.extend(m.span("value") for m in _AUTH_HEADER.finditer(text))
    spans.sort()
    return spans
