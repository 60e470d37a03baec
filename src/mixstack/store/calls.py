"""The call log as stored: one `CallRecord` per model call, whatever the front door."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

__all__ = ["CALL_COLUMNS", "CallRecord", "CallRepository"]


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


CALL_COLUMNS = tuple(f.name for f in fields(CallRecord))


class CallRepository(Protocol):
    def record(self, record: CallRecord) -> None:
        """Journal and queue the row: once this returns it survives a crash of the process
        (the caller may tell its client), and it is committed off the request path."""

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest rows, newest first, as column → value."""

    def since(self, created_at: float) -> list[dict[str, Any]]:
        """Rows logged at or after a time, oldest first (route replay)."""

    def by_request_id(self, request_id: str) -> dict[str, Any] | None: ...

    def count(self, *, front_door: str | None = None) -> int: ...
