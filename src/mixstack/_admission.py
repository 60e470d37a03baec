"""The admission stage: what a keyed call may do, decided before anything is sent, and its
rate-limit ticket and budget hold settled once, when the call is recorded.

    admit     the key may use the model; a budget period that ended starts afresh; the
              key's rate window takes the request (its prompt estimate plus `max_tokens`);
              the budget holds the most the call can cost (see `plan_hold`)
    settle    answered          the real usage, never more than the hold covered
              failed            nothing (no answer reached the caller)
              cut short         a streamed answer broken or left after its first piece: the
                                prompt and one token a piece sent
              abandoned         the caller left while a whole answer was awaited: the
                                prompt's estimated tokens (rate window, token budget), no
                                spend

The hold:

    reachable   the named model and its fallbacks, or every model a workload can route to,
                limited to what the key allows (a key allowed `workload/x` may use whatever
                that workload routes to)
    priced on   the priciest reachable model; a fallback dearer than it is never tried
    bound       prompt: the token counter's worst case (the hold is taken before routing, so
                no one tokenizer applies); answer: `max_tokens`, or the priced model's
                context window when the request sets none (then sent as max_tokens)

Settlement never charges more than the hold (`settle_within`), so under any concurrency a
key's spend stays within its budget; what the upstream bills beyond the bound is the
operator's to see in the call log, not a key's to overdraw.

Front doors authenticate (read the header, look the key up) and hand the key to the
pipeline with the request; the pipeline runs this stage for every call that has one. It
prepares a small call (routing, screening) while the call's admission is under way
(`Admission.begin`: a round trip to Redis when Redis holds the numbers), unless its key was
refused lately, and sends nothing before it is admitted; the admission's refusal comes
before any error in preparing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mixstack._types import Request
from mixstack.catalog import Catalog, ModelEntry
from mixstack.config import Config
from mixstack.errors import BudgetExceeded, RateLimited
from mixstack.guard._budget import Budget, Reservation
from mixstack.guard._keys import KeyStore, ModelNotAllowed, VirtualKey
from mixstack.guard._ratelimit import RateLimiter, Ticket
from mixstack.guard._usage import PromptCounter, TokenBound, prompt_bound, prompt_tokens
from mixstack.router._workloads import WORKLOAD_PREFIX
from mixstack.store import AdmittingBudgets, RateAsk, Store, shared_budgets, shared_rates

__all__ = [
    "Admission",
    "Admitted",
    "Admitting",
    "HoldPlan",
    "plan_hold",
    "settle_within",
    "settled_if_lost",
]

Allow = Callable[[ModelEntry], bool]

#: how long a key its budget refused has its calls wait for their admission
_REFUSED_BUDGET_S = 60.0
#: refused keys remembered before the ones whose time is over are forgotten
_REFUSED_KEYS = 10_000


def _price(entry: ModelEntry) -> tuple[float, float]:
    return (entry.price_input_per_1m + entry.price_output_per_1m, entry.price_output_per_1m)


@dataclass(frozen=True, slots=True)
class HoldPlan:
    """The model a hold is priced on, the token bound, and which models may answer."""

    entry: ModelEntry | None
    bound: TokenBound
    allow: Allow
    #: the answer length sent upstream when the request set none (None: keep the request's)
    max_tokens: int | None

    @property
    def cost_usd(self) -> float:
        return self.entry.cost(self.bound.prompt, self.bound.completion) if self.entry else 0.0


def _key_allows(key: VirtualKey, request: Request) -> Callable[[str], bool]:
    model = request.model
    if key.models and model is not None and model.startswith(WORKLOAD_PREFIX) and key.allows(model):
        return lambda name: True  # the key chose the workload: its routing decides
    return key.allows


def plan_hold(
    key: VirtualKey, request: Request, catalog: Catalog, *, default_completion: int
) -> HoldPlan:
    """Price a keyed request on the dearest model it can reach (see the module docstring)."""
    allows = _key_allows(key, request)
    model = request.model
    if model is not None and model in catalog:
        named = catalog.get(model)
        chain = [named, *(catalog.get(f) for f in named.config.fallbacks if f in catalog)]
        reachable = [e for e in chain if allows(e.name)] or [named]
    else:
        reachable = [e for e in catalog if allows(e.name)]
    priced = max(reachable, key=_price, default=None)
    ceiling = _price(priced) if priced is not None else (0.0, 0.0)
    window = priced.context_window if priced is not None else default_completion
    asked = request.params.max_tokens
    if asked is not None:
        completion, sent = min(asked, window), None
    elif key.limited:
        completion = min(default_completion, window)
        sent = completion  # the upstream must not answer longer than the hold covers
    else:
        completion, sent = min(default_completion, window), None

    def allow(entry: ModelEntry) -> bool:
        return allows(entry.name) and _price(entry) <= ceiling

    return HoldPlan(priced, TokenBound(prompt_bound(request), completion), allow, sent)


def settle_within(
    plan: HoldPlan, entry: ModelEntry, prompt: int, completion: int
) -> tuple[float, int]:
    """(USD, tokens) to charge: the real usage, never more than the hold covered."""
    prompt = max(0, min(prompt, plan.bound.prompt))
    completion = max(0, min(completion, plan.bound.completion))
    cost = entry.cost(prompt, completion)
    if plan.entry is not None:
        cost = min(cost, plan.cost_usd)
    return cost, prompt + completion


@dataclass(slots=True)
class Admitted:
    """One admitted call: its key, rate-limit ticket and budget hold, settled exactly once."""

    key: VirtualKey
    ticket: Ticket
    hold: Reservation
    plan: HoldPlan
    #: the prompt's tokens by the one counter's estimate (charged when the answer is lost)
    prompt_estimate: int
    #: the request as it is sent (max_tokens set when the budget needs a bound)
    request: Request
    budget: Budget
    settled: bool = field(default=False)

    def within(self, allow: Allow | None) -> Allow:
        """Who may answer: the models the key allows and the hold covers (and `allow`)."""
        return _within(self.plan, allow)

    def _settle(self, cost_usd: float, tokens: int) -> None:
        if self.settled:
            return
        self.settled = True
        self.ticket.settle(tokens)
        self.budget.settle(self.hold, cost_usd, tokens)

    def answered(self, entry: ModelEntry, prompt: int, completion: int) -> None:
        """Charge real usage, never more than the hold covered."""
        self._settle(*settle_within(self.plan, entry, prompt, completion))

    def cut_short(
        self, entry: ModelEntry, request: Request, provider: PromptCounter, pieces: int
    ) -> None:
        """A streamed answer broken or left after its first chunk: the prompt as sent (the
        one token counter: the answering model's tokenizer where known) and one token a
        piece sent, within the hold."""
        self.answered(entry, prompt_tokens(request, provider, entry), pieces)

    def failed(self) -> None:
        """No answer reached the caller: nothing is charged (the request counts, its tokens
        do not)."""
        self._settle(0.0, 0)

    def abandoned(self) -> None:
        """The caller left while the whole answer was awaited: the prompt's estimated tokens
        count (the upstream may have read it); nothing is spent."""
        self._settle(0.0, self.prompt_estimate)


@dataclass(slots=True)
class Admitting:
    """A keyed call whose admission is under way (see `Admission.begin`)."""

    key: VirtualKey
    plan: HoldPlan
    prompt_estimate: int
    #: the request as it is sent (max_tokens set when the budget needs a bound)
    request: Request
    budget: Budget
    pending: asyncio.Future[tuple[Ticket, Reservation]]

    def within(self, allow: Allow | None) -> Allow:
        """Who may answer: the models the key allows and the hold covers (and `allow`)."""
        return _within(self.plan, allow)

    async def admitted(self) -> Admitted:
        """The admission, once the rate window and the budget have answered; their refusal
        (`RateLimited`, `BudgetExceeded`) raised."""
        ticket, hold = await self.pending
        return Admitted(
            self.key, ticket, hold, self.plan, self.prompt_estimate, self.request, self.budget
        )


def _within(plan: HoldPlan, allow: Allow | None) -> Allow:
    covered = plan.allow
    if allow is None:
        return covered
    return lambda entry: allow(entry) and covered(entry)


class Admission:
    """The stage: one per pipeline, built on first use (keys, rate windows, budget holds)."""

    def __init__(self, config: Config, store: Store, catalog: Catalog):
        self.catalog = catalog
        self.default_completion = config.gateway.default_completion_tokens
        self.keys = KeyStore(store, cache_s=config.gateway.key_cache_s)
        rates = shared_rates(store, config.redis, config.redis_down)
        self.limiter = RateLimiter(rates)
        self.budget = Budget(
            store, shared_budgets(store, config.redis, config.redis_down, rates=rates)
        )
        repo = self.budget.repo
        #: holds that admit into the rate window in the same step (Redis holding both)
        self._joint = repo if isinstance(repo, AdmittingBudgets) else None
        #: key id -> until when (monotonic) its calls wait for their admission (refused lately)
        self._refused_until: dict[str, float] = {}

    def overlaps(self, key: VirtualKey) -> bool:
        """Whether a call of `key` may be prepared while its admission is under way: not
        while the key is refused (until its rate window's retry time, or for a minute after
        its budget refused), so a flood of refused calls costs no scanning."""
        until = self._refused_until.get(key.id)
        return until is None or until <= time.monotonic()

    def _refused(self, key_id: str, for_s: float) -> None:
        now = time.monotonic()
        if len(self._refused_until) > _REFUSED_KEYS:
            self._refused_until = {k: t for k, t in self._refused_until.items() if t > now}
        self._refused_until[key_id] = now + for_s

    async def admit(self, key: VirtualKey, request: Request) -> Admitted:
        """Check the key's model, rate limits and budget; raise `ModelNotAllowed`,
        `RateLimited` or `BudgetExceeded`, else hold what the call may cost."""
        return await (await self._start(key, request)).admitted()

    async def begin(self, key: VirtualKey, request: Request) -> Admitting:
        """`admit`, started: the checks that need no shared state are made (`ModelNotAllowed`
        raised now), the rate window and the hold are on their way to Redis, and what the
        call will send and who may answer are known. The caller prepares the call meanwhile
        and waits for `Admitting.admitted()` before sending anything."""
        admitting = await self._start(key, request)
        try:
            # two turns of the loop: the first queues the hold's script, the second writes it
            # (`ScriptBatch`); the caller's preparing then overlaps its round trip
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        except BaseException:  # the caller left: as when it left while being admitted
            admitting.pending.cancel()
            raise
        return admitting

    async def _start(self, key: VirtualKey, request: Request) -> Admitting:
        if not key.allows(request.model):
            raise ModelNotAllowed(key, request.model or "<default>")
        if key.period_over():
            key = await self.keys.restart_period(key)
        plan = plan_hold(key, request, self.catalog, default_completion=self.default_completion)
        prompt = prompt_tokens(request)
        # the window counts what the request surely uses: its prompt and the answer it asks for
        rate_tokens = prompt + (request.params.max_tokens or 0)
        pending = asyncio.ensure_future(self._answer(key, plan, rate_tokens))
        if plan.max_tokens is not None:
            params = request.params.model_copy(update={"max_tokens": plan.max_tokens})
            request = request.with_changes(params=params)
        return Admitting(key, plan, prompt, request, self.budget, pending)

    async def _answer(
        self, key: VirtualKey, plan: HoldPlan, rate_tokens: int
    ) -> tuple[Ticket, Reservation]:
        try:
            return await self._admit_and_hold(key, plan, rate_tokens)
        except RateLimited as exc:
            self._refused(key.id, exc.retry_after_s)
            raise
        except BudgetExceeded:
            self._refused(key.id, _REFUSED_BUDGET_S)
            raise

    async def _admit_and_hold(
        self, key: VirtualKey, plan: HoldPlan, rate_tokens: int
    ) -> tuple[Ticket, Reservation]:
        """The key's rate window takes the request and its budget holds the cost: in one
        step where the holds can admit too (Redis holding both), else one after the other.
        A request the budget refuses counts in the window as a request, not as tokens."""
        if self._joint is not None and key.limited and (key.rpm, key.tpm) != (None, None):
            self.limiter.check(key.id, key.tpm, rate_tokens)
            ask = RateAsk(key.rpm, key.tpm, rate_tokens)
            cost, tokens = plan.cost_usd, plan.bound.total
            both = await self._joint.reserve_admitted(key.id, cost, tokens, key.period_start, ask)
            if both is not None:
                verdict, hold = both
                counted = rate_tokens if hold is not None else 0
                ticket = self.limiter.ticket(
                    key.id, verdict, rpm=key.rpm, tpm=key.tpm, tokens=counted
                )
                if hold is None:
                    raise await self.budget.refusal(key, cost, tokens)
                return ticket, hold
        ticket = await self.limiter.admit(key.id, rpm=key.rpm, tpm=key.tpm, tokens=rate_tokens)
        try:
            hold = await self.budget.reserve(key, plan.cost_usd, plan.bound.total)
        except BaseException:
            ticket.settle(0)  # refused: it counts as a request, not as tokens
            raise
        return ticket, hold

    async def aclose(self) -> None:
        """Stop the holds' heartbeat when they live in Redis."""
        await self.budget.aclose()


@contextlib.contextmanager
def settled_if_lost(admitted: Admitted | None) -> Iterator[None]:
    """Settle the admission of a call that ends without an answer: abandoned when the
    caller left (the call was cancelled), else failed."""
    try:
        yield
    except BaseException as exc:
        if admitted is not None:
            if isinstance(exc, asyncio.CancelledError):
                admitted.abandoned()
            else:
                admitted.failed()
        raise
