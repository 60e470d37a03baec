"""The `calls` table: one row per model call, whatever the front door."""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass, fields
from typing import Any

from mixstack.store.aggregates import aggregates_of
from mixstack.store.db import Store

__all__ = ["CallRecord", "recent_calls", "record_call"]


@dataclass(slots=True)
class CallRecord:
    request_id: str
    model: str
    provider: str
    locality: str
    endpoint: str = ""
    workload: str = ""
    caller: str = ""
    front_door: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    prompt: str | None = None
    response: str | None = None
    #: the routing decision as JSON, the privacy policy applied, the PII found as JSON
    #: `[{type, count}]` (never values) and whether the request left redacted
    route: str | None = None
    policy: str = ""
    pii: str = "[]"
    redacted: bool = False
    rephrase_use_case: str | None = None
    original_prompt: str | None = None
    rephrased_prompt: str | None = None
    #: what the gateway's injection/jailbreak detector found, as JSON; None when nothing
    abuse: str | None = None
    created_at: float = 0.0


_COLUMNS = [f.name for f in fields(CallRecord)]
_ROW = operator.attrgetter(*_COLUMNS)  # the row as a tuple, in column order
_INSERT = (
    f"INSERT OR REPLACE INTO calls ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def record_call(store: Store, record: CallRecord) -> None:
    """Journal and queue the row: once this returns it survives a crash of the process
    (the caller may tell its client), and the store's writer thread commits it."""
    if not record.created_at:
        record.created_at = time.time()
    # a positional tuple: `dataclasses.asdict` deep-copies and is slow on the gateway's path
    store.submit_journaled(_INSERT, _ROW(record))
    aggregates_of(store).add(record)


def recent_calls(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM calls ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))
    return [dict(row) for row in rows]
