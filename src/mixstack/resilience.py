"""Fault tolerance of the call stage: retries, timeouts, fallbacks and circuit breakers.

    for each target (the routed model, then its fallbacks):
        skip it while its endpoint's circuit is open
        try up to 1 + retries times, with jittered exponential backoff (honouring retry-after)
        within the model's timeouts (first token, total)

A stream may move to another target only before its first chunk; after that a failure ends
the stream with an error. Only failures of the model or its endpoint are retried or fall
back; a bad request or a policy refusal is raised at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixstack.errors import (
    InvalidRequestError,
    ModelUnavailableError,
    ProviderError,
    UpstreamTimeout,
    UserError,
)

if TYPE_CHECKING:
    from mixstack.catalog import ModelEntry
    from mixstack.providers.base import Provider, ProviderReply
    from mixstack.types import Chunk, Request

__all__ = [
    "Attempt",
    "Breakers",
    "CallPolicy",
    "CircuitBreaker",
    "Resilience",
    "Target",
    "backoff_delay",
    "is_retryable",
]


@dataclass(frozen=True, slots=True)
class Target:
    """One model to try: its catalog entry, its provider and the request fitted to it."""

    entry: ModelEntry
    provider: Provider
    request: Request
    #: retries on this model; None: the model's `retries:` from the config
    retries: int | None = None

    @property
    def max_retries(self) -> int:
        return self.entry.config.retries if self.retries is None else self.retries


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """Per-call overrides of the call stage: `retries` replaces each model's `retries:`,
    `fallbacks=False` keeps the call on the routed model (an eval comparing models)."""

    retries: int | None = None
    fallbacks: bool = True

    def __post_init__(self) -> None:
        if self.retries is not None and not 0 <= self.retries <= 10:
            raise InvalidRequestError(
                f"retries={self.retries} is out of range; use 0 to 10.", param="retries"
            )


@dataclass(frozen=True, slots=True)
class Attempt:
    model: str
    error: str


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ProviderError):
        return exc.retryable
    return isinstance(exc, TimeoutError)


def _may_fall_back(exc: BaseException) -> bool:
    """A failure of the model or its endpoint, not of the request or a policy."""
    if isinstance(exc, UserError):
        return False
    return isinstance(exc, ProviderError | ModelUnavailableError | TimeoutError)


def backoff_delay(
    attempt: int,
    retry_after_s: float | None = None,
    *,
    base_s: float = 0.25,
    cap_s: float = 8.0,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff, jittered to half..all of the step; retry-after is a floor."""
    draw: float = (rng or random).uniform(0.5, 1.0)
    delay = min(cap_s, base_s * 2.0**attempt) * draw
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


class CircuitBreaker:
    """Opens after `threshold` failures in a row; lets one trial through after `cooldown_s`."""

    def __init__(self, threshold: int = 5, cooldown_s: float = 30.0):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def retry_in(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (time.monotonic() - self.opened_at))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class Breakers:
    """One circuit breaker per endpoint (a base URL, or `in-process`)."""

    def __init__(self, threshold: int = 5, cooldown_s: float = 30.0):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._by_endpoint: dict[str, CircuitBreaker] = {}

    def get(self, endpoint: str) -> CircuitBreaker:
        breaker = self._by_endpoint.get(endpoint)
        if breaker is None:
            breaker = CircuitBreaker(self.threshold, self.cooldown_s)
            self._by_endpoint[endpoint] = breaker
        return breaker

    def states(self) -> dict[str, str]:
        return {endpoint: b.state for endpoint, b in self._by_endpoint.items()}


class Resilience:
    """Runs a call against a chain of targets. One instance per pipeline."""

    def __init__(
        self,
        breakers: Breakers | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait_s: float = 30.0,
    ):
        self.breakers = breakers or Breakers()
        self._sleep = sleep
        self.max_wait_s = max_wait_s

    def _tries(self, target: Target) -> Iterator[int]:
        return iter(range(target.max_retries + 1))

    async def _pause(self, attempt: int, exc: BaseException) -> bool:
        """Sleep before the next retry; False when the server asks for a longer wait."""
        retry_after = exc.retry_after_s if isinstance(exc, ProviderError) else None
        if retry_after is not None and retry_after > self.max_wait_s:
            return False
        await self._sleep(backoff_delay(attempt, retry_after))
        return True

    def _open_circuit_error(self, target: Target, endpoint: str) -> ProviderError:
        breaker = self.breakers.get(_circuit(target, endpoint))
        return ProviderError(
            f"{target.entry.name}: {endpoint} failed {breaker.failures} times in a row and is "
            f"paused for {breaker.retry_in():.0f} s; retry later or add a fallback.",
            model=target.entry.name,
            retryable=False,
        )

    async def complete(
        self, targets: Iterator[Target], on_switch: Callable[[Target, list[Attempt]], None]
    ) -> ProviderReply:
        """The first successful reply along the chain; `on_switch` is told of each new target."""
        failures: list[Attempt] = []
        last: BaseException | None = None
        for target in targets:
            on_switch(target, failures)
            endpoint = target.provider.endpoint(target.entry)
            breaker = self.breakers.get(_circuit(target, endpoint))
            for attempt in self._tries(target):
                if not breaker.allow():
                    last = self._open_circuit_error(target, endpoint)
                    break
                try:
                    async with asyncio.timeout(target.entry.config.timeouts.total):
                        reply = await target.provider.complete(target.entry, target.request)
                except Exception as exc:
                    exc = _timeout_error(exc, target, "answer")
                    last = exc
                    if not _may_fall_back(exc):
                        raise exc from None
                    breaker.failure()
                    if _no_retry(exc, attempt, target):
                        break
                    if not await self._pause(attempt, exc):
                        break
                    continue
                breaker.success()
                return reply
            failures.append(Attempt(target.entry.name, str(last)))
        assert last is not None
        raise last

    async def open_stream(
        self, targets: Iterator[Target], on_switch: Callable[[Target, list[Attempt]], None]
    ) -> AsyncIterator[Chunk]:
        """Chunks of the first target that produces one; later failures end the stream."""
        failures: list[Attempt] = []
        last: BaseException | None = None
        for target in targets:
            on_switch(target, failures)
            endpoint = target.provider.endpoint(target.entry)
            breaker = self.breakers.get(_circuit(target, endpoint))
            timeouts = target.entry.config.timeouts
            for attempt in self._tries(target):
                if not breaker.allow():
                    last = self._open_circuit_error(target, endpoint)
                    break
                started = time.monotonic()
                chunks = target.provider.stream(target.entry, target.request)
                try:
                    async with asyncio.timeout(min(timeouts.first_token, timeouts.total)):
                        first = await anext(chunks)
                except StopAsyncIteration:
                    breaker.success()
                    return
                except Exception as exc:
                    await _close(chunks)
                    exc = _timeout_error(exc, target, "first token")
                    last = exc
                    if not _may_fall_back(exc):
                        raise exc from None
                    breaker.failure()
                    if _no_retry(exc, attempt, target):
                        break
                    if not await self._pause(attempt, exc):
                        break
                    continue
                breaker.success()
                async for chunk in _rest(first, chunks, target, started + timeouts.total):
                    yield chunk
                return
            failures.append(Attempt(target.entry.name, str(last)))
        assert last is not None
        raise last


async def _rest(
    first: Chunk, chunks: AsyncIterator[Chunk], target: Target, deadline: float
) -> AsyncIterator[Chunk]:
    try:
        yield first
        while True:
            try:
                async with asyncio.timeout_at(_loop_time(deadline)):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise _timeout_error(exc, target, "answer") from None
            yield chunk
    finally:
        await _close(chunks)


def _circuit(target: Target, endpoint: str) -> str:
    """One circuit per model and endpoint: a model that fails says nothing of another model
    served at the same URL (which must answer, or fail, on its own)."""
    return f"{target.entry.name} @ {endpoint}"


def _loop_time(monotonic_deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def _no_retry(exc: BaseException, attempt: int, target: Target) -> bool:
    """Whether to leave this target now. A timeout is not retried on the same endpoint: a
    hung upstream would multiply the wait by the retries before any fallback runs."""
    if isinstance(exc, UpstreamTimeout) or not is_retryable(exc):
        return True
    return attempt == target.max_retries


def _timeout_error(exc: Exception, target: Target, what: str) -> Exception:
    if not isinstance(exc, TimeoutError):
        return exc
    limits = target.entry.config.timeouts
    limit = limits.total if what == "answer" else min(limits.first_token, limits.total)
    return UpstreamTimeout(
        f"{target.entry.name} timed out waiting for the {what} after {limit:g} s; raise "
        "`timeouts:` for this model or add a fallback.",
        model=target.entry.name,
        retryable=True,
    )
