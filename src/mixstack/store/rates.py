"""Rate-limit windows (requests and tokens per minute per key) shared by every process.

A request is admitted into its key's sliding 60-second window with its estimated tokens
and corrected to the real count when it ends. Every backend decides the same way
(`verdict`), atomically: SQLite in one conditional INSERT through its single writer,
PostgreSQL under a per-key advisory lock, Redis in one Lua script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

__all__ = ["WINDOW_S", "RateAsk", "RateRepository", "RateVerdict", "verdict"]

WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class RateVerdict:
    """`event` is the admitted entry's id; None when refused, with `reason` and the wait."""

    event: int | None
    reason: Literal["rpm", "tpm"] | None = None
    retry_after_s: float = 0.0
    #: tokens in the window before this request (for the refusal message)
    window_tokens: int = 0
    #: which backend admitted it (settling goes back to the same one)
    backend: str = ""


class RateAsk(NamedTuple):
    """What a request asks of its key's window: the key's limits (None: none) and its tokens."""

    rpm: int | None
    tpm: int | None
    tokens: int


def verdict(
    entries: Sequence[tuple[float, int]], rpm: int | None, tpm: int | None, tokens: int, now: float
) -> RateVerdict | None:
    """The refusal for a request given the window's entries (time, tokens), oldest first,
    or None when it fits. A request alone over `tpm` is the caller's to refuse."""
    live = [(at, n) for at, n in entries if at > now - WINDOW_S]
    if rpm is not None and len(live) >= rpm:
        wait = live[len(live) - rpm][0] + WINDOW_S - now
        return RateVerdict(None, "rpm", max(wait, 0.0), sum(n for _, n in live))
    total = sum(n for _, n in live)
    if tpm is not None and total > 0 and total + tokens > tpm:
        remaining, allowed, wait = total, max(tpm - tokens, 0), WINDOW_S
        for at, n in live:
            remaining -= n
            if remaining <= allowed:
                wait = at + WINDOW_S - now
                break
        return RateVerdict(None, "tpm", max(wait, 0.0), total)
    return None


class RateRepository(Protocol):
    async def admit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateVerdict:
        """Admit one request into the key's window, or say why not; atomic across processes."""

    def settle(self, key_id: str, admitted: RateVerdict, tokens: int) -> None:
        """Replace an admitted entry's token estimate with the real count; queued."""
