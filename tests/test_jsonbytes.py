from __future__ import annotations

import json
from pathlib import Path

from mixstack._jsonbytes import dumps, dumps_text
from mixstack._types import Request
from mixstack.config import Config
from mixstack.pipeline import Pipeline
from mixstack.store import recent_calls


def test_compact_utf8_json_that_reads_back_the_same() -> None:
    value = {"text": "café – 東京", "n": 3, "x": 1e-05, "ok": True, "none": None, "list": [1, "a"]}
    raw = dumps(value)
    assert b" " not in raw.replace("café – 東京".encode(), b"")  # compact
    assert "café".encode() in raw  # UTF-8, not \\u escapes
    assert json.loads(raw) == value


def test_a_lone_surrogate_falls_back_to_escapes_and_survives() -> None:
    value = {"text": "a\ud800b"}
    text = dumps_text(value)
    assert "\\ud800" in text
    assert json.loads(text) == value


async def test_a_call_whose_prompt_has_a_lone_surrogate_is_answered_and_recorded(
    home: Path, fake_config: Config
) -> None:
    async with Pipeline(fake_config) as pipeline:
        done = await pipeline.complete(Request.from_prompt("odd \ud800 text", model="fake/echo"))
        pipeline.flush()
        rows = recent_calls(pipeline.store)
    assert done.model == "fake/echo"
    assert [r["request_id"] for r in rows] == [done.request_id]
    assert "odd \ud800 text" in json.loads(rows[0]["prompt"])[0]["content"]
