"""Canary values (personal data and secrets, plain and encoded) and the fields they ride in.

Shared by the leak tests and `bench/security.py`: each canary is a request body that puts
one value in one field; a leak is the value (or its encoded form) reaching a remote upstream.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

__all__ = ["CANARIES", "FIELDS", "bodies", "leaked"]

EMAIL = "jane.canary@example.org"

#: name → (text to send, substrings whose presence upstream is a leak)
CANARIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "email": (f"write to {EMAIL} today", ("jane.canary",)),
    "card": ("card 4111 1111 1111 1111 exp 09/29", ("4111 1111 1111 1111",)),
    "aws_secret": (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY",
        ("wJalrXUtnFEMI",),
    ),
    "redis_url": ("cache at redis://admin:hunter2canary@cache:6379/0", ("hunter2canary",)),
    "bearer": ("Authorization: Bearer abcDEF1234567890canaryTOKEN", ("canaryTOKEN",)),
    "url_encoded": ("mail jane.canary%40example.org now", ("jane.canary",)),
    "html_entity": ("mail jane.canary&#64;example.org now", ("jane.canary",)),
    "fullwidth": ("mail jane.canary＠example.org now", ("jane.canary",)),
    "zero_width": ("mail jane.ca\u200bnary@example.org now", ("jane.ca",)),
    "base64": (
        "decode " + base64.b64encode(EMAIL.encode()).decode() + " please",
        (base64.b64encode(EMAIL.encode()).decode()[:12],),
    ),
}


def _schema(text: str) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {
                "type": "object",
                "properties": {"who": {"type": "string", "description": text, "enum": [text]}},
            },
        },
    }


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


#: field → how to put a canary text into an otherwise valid chat body
FIELDS: dict[str, Any] = {
    "user_message": lambda t: {"messages": _user(t)},
    "system_message": lambda t: {"messages": [{"role": "system", "content": t}, *_user("hi")]},
    "content_part": lambda t: {
        "messages": [{"role": "user", "content": [{"type": "text", "text": t}]}]
    },
    "message_name": lambda t: {
        "messages": [{"role": "user", "content": "hi", "name": t.replace(" ", "_")}]
    },
    "user": lambda t: {"messages": _user("hi"), "user": t},
    "stop": lambda t: {"messages": _user("hi"), "stop": [t]},
    "response_format": lambda t: {"messages": _user("hi"), "response_format": _schema(t)},
    "tool_description": lambda t: {
        "messages": _user("hi"),
        "tools": [{"type": "function", "function": {"name": "lookup", "description": t}}],
    },
    "tool_parameters": lambda t: {
        "messages": _user("hi"),
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {"type": "object", "examples": [t]},
                },
            }
        ],
    },
    "tool_arguments": lambda t: {
        "messages": [
            *_user("hi"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": json.dumps({"q": t})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "done"},
        ]
    },
    "tool_result": lambda t: {
        "messages": [
            *_user("hi"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": t},
        ]
    },
    "split_across_messages": lambda t: {
        "messages": [
            {"role": "user", "content": t[: len(t) // 2]},
            {"role": "assistant", "content": "go on"},
            {"role": "user", "content": t[len(t) // 2 :]},
        ]
    },
}


def bodies(model: str) -> Iterator[tuple[str, str, dict[str, Any], tuple[str, ...]]]:
    """(canary, field, body, leak markers) for every canary in every field."""
    for canary, (text, markers) in CANARIES.items():
        for field, build in FIELDS.items():
            found = markers
            if field == "split_across_messages":
                if canary not in ("email", "card"):
                    continue
                half = len(text) // 2  # either side of the seam is a leak
                found = (text[half - 6 : half], text[half : half + 6])
            yield canary, field, {"model": model, **build(text)}, found


def leaked(upstream_bodies: list[dict[str, Any]], markers: tuple[str, ...]) -> bool:
    sent = json.dumps(upstream_bodies, ensure_ascii=False)
    return any(m in sent for m in markers)
