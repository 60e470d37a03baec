"""Compact JSON for the hot paths (request bodies, responses, stored columns).

pydantic-core serializes in Rust, about 4x the standard library on a chat request. It
refuses text that is not valid Unicode (a lone surrogate from a Python caller); such values
fall back to the standard library with ASCII escapes, which keep them intact.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

__all__ = ["dumps", "dumps_text"]


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON."""
    try:
        return to_json(value)
    except PydanticSerializationError:
        return json.dumps(value, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    """`dumps` as a string (for TEXT columns)."""
    return dumps(value).decode()
