"""Per-model concurrency that backs off when the endpoint says 429 and recovers slowly."""

from __future__ import annotations

import asyncio
import time

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """At most `limit` calls at once; `limit` halves on a rate limit, grows by one per streak.

    After a rate limit, new calls also wait until the endpoint's `retry_after` has passed.
    """

    def __init__(self, maximum: int, recover_after: int = 10):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.active = 0
        self._recover_after = recover_after
        self._streak = 0
        self._resume_at = 0.0
        self._cond = asyncio.Condition()
        self.backoffs = 0

    async def __aenter__(self) -> AdaptiveLimiter:
        async with self._cond:
            await self._cond.wait_for(lambda: self.active < self.limit)
            self.active += 1
        delay = self._resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def success(self) -> None:
        self._streak += 1
        if self._streak >= self._recover_after and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0

    async def rate_limited(self, retry_after_s: float | None) -> None:
        self.backoffs += 1
        self._streak = 0
        async with self._cond:
            self.limit = max(1, self.limit // 2)
        wait = retry_after_s if retry_after_s is not None and retry_after_s > 0 else 1.0
        self._resume_at = max(self._resume_at, time.monotonic() + min(wait, 60.0))
