"""Fault tolerance of the call stage: retries, timeouts, fallbacks and circuit breakers.

    for each target (the routed model, then its fallbacks):
        skip it while its endpoint's circuit is open
        try up to 1 + retries times, with jittered exponential backoff (honouring retry-after)
        within the model's timeouts (first token, total)

A stream may move to another target only before its first chunk; after that a failure ends
the stream with an error. Only failures of the model or its endpoint are retried or fall
back; a bad request or a policy refusal is raised at once.

With `redis:` configured the breakers' state is shared (`SharedCircuits`): a circuit that
failures open on one replica is open on all within `SYNC_S`, and one half-open trial runs
across all of them. Without Redis, or while it is down, each process keeps its own: then
each replica may send a trial of its own, and one that does says so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mixstack.errors import (
    InvalidRequestError,
    ModelUnavailableError,
    ProviderError,
    UpstreamTimeout,
    UserError,
)

if TYPE_CHECKING:
    from mixstack._types import Chunk, Request
    from mixstack.catalog import ModelEntry
    from mixstack.providers.base import Provider, ProviderReply
    from mixstack.store.redis.circuits import CircuitState

__all__ = [
    "Attempt",
    "Breakers",
    "CallPolicy",
    "CircuitBreaker",
    "Resilience",
    "SharedCircuits",
    "Target",
    "backoff_delay",
    "is_retryable",
]


log = logging.getLogger("mixstack._resilience")


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


class SharedCircuits(Protocol):
    """Breaker state kept where every replica sees it (`store.redis.circuits`); each
    method answers None when that place cannot be reached."""

    async def failed(self, circuit: str, threshold: int) -> CircuitState | None: ...

    async def succeeded(self, circuit: str) -> None: ...

    async def claim_trial(self, circuit: str, cooldown_s: float, lease_s: float) -> bool | None: ...

    async def states(self) -> dict[str, CircuitState] | None: ...

    async def aclose(self) -> None: ...


#: how often a process reads the shared breakers' state (a circuit opened elsewhere is open
#: here within this)
SYNC_S = 0.25
#: how long a half-open trial may run before another replica may try one (its caller died)
TRIAL_S = 30.0


class Breakers:
    """One circuit breaker per endpoint (a base URL, or `in-process`), shared through
    `shared` when given."""

    def __init__(
        self, threshold: int = 5, cooldown_s: float = 30.0, shared: SharedCircuits | None = None
    ):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.shared = shared
        self._by_endpoint: dict[str, CircuitBreaker] = {}
        self._sync: asyncio.Task[None] | None = None
        self._synced = False

    def get(self, endpoint: str) -> CircuitBreaker:
        breaker = self._by_endpoint.get(endpoint)
        if breaker is None:
            breaker = CircuitBreaker(self.threshold, self.cooldown_s)
            self._by_endpoint[endpoint] = breaker
        return breaker

    def states(self) -> dict[str, str]:
        return {endpoint: b.state for endpoint, b in self._by_endpoint.items()}

    async def allow(self, circuit: str) -> bool:
        if self.shared is None:
            return self.get(circuit).allow()
        if not self._synced:  # a process's first call knows what the others saw
            await self._read()
            self._synced = True
        self._ensure_sync()
        breaker = self.get(circuit)
        state = breaker.state
        if state != "half-open":
            return state == "closed"
        # one trial across every replica; a trial whose caller died is given up after
        # TRIAL_S (or the cooldown, if longer)
        lease = max(self.cooldown_s, TRIAL_S)
        granted = await self.shared.claim_trial(circuit, self.cooldown_s, lease)
        if granted is not None:
            return granted
        if not breaker.allow():
            return False
        log.warning(
            "circuit %s: this process sends a half-open trial on its own breaker (the shared "
            "state in Redis is unreachable); other replicas may send one too until it is back",
            circuit,
        )
        return True

    async def failure(self, circuit: str) -> None:
        breaker = self.get(circuit)
        breaker.failure()
        if self.shared is not None:
            state = await self.shared.failed(circuit, self.threshold)
            if state is not None:
                _adopt(breaker, state)

    async def success(self, circuit: str) -> None:
        breaker = self.get(circuit)
        known = breaker.failures or breaker.opened_at is not None
        breaker.success()
        # nothing to tell while this process saw the circuit healthy (the common case: no
        # round trip)
        if self.shared is not None and known:
            await self.shared.succeeded(circuit)

    async def aclose(self) -> None:
        """Stop reading the shared state (this loop's connection closes with it)."""
        if self._sync is not None:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
            self._sync = None
        if self.shared is not None:
            await self.shared.aclose()

    def _ensure_sync(self) -> None:
        loop = asyncio.get_running_loop()
        # a pipeline reused by a later `asyncio.run` reads again on that loop
        if self._sync is None or self._sync.done() or self._sync.get_loop() is not loop:
            self._sync = loop.create_task(self._sync_forever())

    async def _sync_forever(self) -> None:
        reader = asyncio.current_task()
        while True:
            await self._read()
            # a cancel (`aclose`, or `asyncio.run` ending) that the Redis client lost: on
            # Python 3.11 its `asyncio.wait_for` drops one that lands as a write completes,
            # and the loop's shutdown would wait for this reader forever
            if reader is not None and reader.cancelling():
                raise asyncio.CancelledError
            await asyncio.sleep(SYNC_S)

    async def _read(self) -> bool:
        """This process's breakers take the shared state; False if it could not be read."""
        assert self.shared is not None
        states = await self.shared.states()
        if states is None:
            return False
        for circuit, breaker in self._by_endpoint.items():
            if circuit not in states:
                breaker.failures, breaker.opened_at = 0, None
        for circuit, state in states.items():
            _adopt(self.get(circuit), state)
        return True


def _adopt(breaker: CircuitBreaker, state: CircuitState) -> None:
    """The shared state, in this process's clock."""
    breaker.failures = state.failures
    if state.open_for_s is None:
        breaker.opened_at = None
    else:
        breaker.opened_at = time.monotonic() - state.open_for_s


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
            circuit = _circuit(target, endpoint)
            for attempt in self._tries(target):
                if not await self.breakers.allow(circuit):
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
                    await self.breakers.failure(circuit)
                    if _no_retry(exc, attempt, target):
                        break
                    if not await self._pause(attempt, exc):
                        break
                    continue
                await self.breakers.success(circuit)
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
            circuit = _circuit(target, endpoint)
            timeouts = target.entry.config.timeouts
            for attempt in self._tries(target):
                if not await self.breakers.allow(circuit):
                    last = self._open_circuit_error(target, endpoint)
                    break
                started = time.monotonic()
                chunks = target.provider.stream(target.entry, target.request)
                try:
                    async with asyncio.timeout(min(timeouts.first_token, timeouts.total)):
                        first = await anext(chunks)
                except StopAsyncIteration:
                    await self.breakers.success(circuit)
                    return
                except Exception as exc:
                    await _close(chunks)
                    exc = _timeout_error(exc, target, "first token")
                    last = exc
                    if not _may_fall_back(exc):
                        raise exc from None
                    await self.breakers.failure(circuit)
                    if _no_retry(exc, attempt, target):
                        break
                    if not await self._pause(attempt, exc):
                        break
                    continue
                await self.breakers.success(circuit)
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
