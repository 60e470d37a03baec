"""The one request pipeline every front door uses.

    request ─► admit (a key's) ─► validate ─► route ─► rephrase (opt-in) ─► adapt (OCR for
            text-only models) ─► call ─► record, and settle the admission

Front doors (CLI, gateway, evals, agents) build a `Request` and call `complete()` or
`open_stream()`, with the caller's key when they have one; none of them talks to a provider
directly or admits a call itself (see `mixstack._admission`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mixstack._admission import Admission, Admitted, settled_if_lost
from mixstack._jsonbytes import dumps_text
from mixstack._request_checks import check_fields, validate
from mixstack._resilience import Attempt, Breakers, CallPolicy, Resilience, Target
from mixstack._streaming import StreamAccumulator
from mixstack._types import (
    Chunk,
    Completion,
    Embeddings,
    Message,
    Request,
    Usage,
)
from mixstack.catalog import Catalog, ModelEntry
from mixstack.config import Config, load_config
from mixstack.errors import MixstackError, PolicyError, ProviderError
from mixstack.guard._offload import offload_worthy, run_guarded
from mixstack.guard._redact import ChunkRestorer, RedactionMap, redact_request
from mixstack.guard._usage import checked_usage, prompt_bound, text_bound
from mixstack.providers.base import Provider, ProviderFactory, ProviderRegistry, ProviderReply
from mixstack.router import Routed, RouteDecision, Router, RouteRefused
from mixstack.router._decision import shape_json
from mixstack.store import (
    CallRecord,
    Store,
    VirtualKey,
    open_store,
    record_call,
    shared_circuits,
)

if TYPE_CHECKING:
    from mixstack.rephrase._result import RephraseResult

__all__ = ["ABUSE_KEY", "CallContext", "CallStream", "Pipeline", "Routed", "new_request_id"]

#: request metadata holding the gateway detector's findings (JSON), recorded with the call
ABUSE_KEY = "mixstack.abuse"

#: which models may answer a call (None: any the route allows)
Allow = Callable[[ModelEntry], bool]


def new_request_id() -> str:
    """96 random bits: unique, not secret (`uuid4` reads the OS's randomness on every call,
    a system call on the gateway's path)."""
    return f"req_{random.getrandbits(96):024x}"


_DEFAULT_POLICY = CallPolicy()


@dataclass(slots=True)
class CallContext:
    """Everything known about one call once it has been routed."""

    request_id: str
    original: Request
    request: Request
    route: RouteDecision
    entry: ModelEntry
    provider: Provider
    front_door: str
    started: float = field(default_factory=time.perf_counter)
    created_at: float = field(default_factory=time.time)
    #: the prompt rewrite applied by the rephrase stage, if any (`original` keeps the text)
    rephrased: RephraseResult | None = None
    #: placeholder ↔ value when the request left redacted; in memory only, never stored
    redaction: RedactionMap | None = None
    #: which models may answer (a key's models and the price its budget hold covers)
    allow: Allow | None = None
    #: this call's retries and fallbacks, when they differ from the models' config
    policy: CallPolicy = _DEFAULT_POLICY

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class Pipeline:
    """Holds the config, the catalog, the providers, the router and the store of a process."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: Store | None = None,
        record: bool = True,
        providers: dict[str, ProviderFactory] | None = None,
    ):
        self.config = config if config is not None else load_config()
        self.providers = ProviderRegistry(self.config, providers)
        self.catalog = Catalog(self.config, self.providers)
        self.router = Router(self.config, self.catalog)
        self._store = store
        self._owns_store = store is None
        self._record = record
        self._admission: Admission | None = None
        circuit = self.config.circuit
        self.resilience = Resilience(
            Breakers(circuit.threshold, circuit.cooldown_s, shared_circuits(self.config.redis))
        )
        #: called with the request and the OCR text of its images when they are read for a
        #: text-only model (the gateway scans that text for injections)
        self.on_ocr_text: Callable[[Request, tuple[str, ...]], None] | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.config.store, home=self.config.home)
        return self._store

    @property
    def admission(self) -> Admission:
        """The admission stage (keys, rate windows, budget holds), built on first use."""
        if self._admission is None:
            self._admission = Admission(self.config, self.store, self.catalog)
        return self._admission

    async def _admit(
        self, key: VirtualKey | None, request: Request, allow: Allow | None
    ) -> tuple[Admitted | None, Request, Allow | None]:
        """A keyed call's admission, the request as it will be sent and who may answer."""
        if key is None:
            return None, request, allow
        admitted = await self.admission.admit(key, request)
        return admitted, admitted.request, admitted.within(allow)

    # -- stages -------------------------------------------------------------------------

    async def route(self, request: Request) -> Routed:
        """Validate and route `request` (off the event loop when it is large); nothing is
        sent or recorded. Errors are returned in `Routed.error`, not raised."""
        try:
            validate(request)
            if not offload_worthy(request):
                return self._route(request)
            return await run_guarded(lambda: self._route(request))
        except MixstackError as exc:
            return Routed(request, error=exc)

    def _route(self, request: Request) -> Routed:
        decision = self.router.decide(request)
        return Routed(request, decision, self.catalog.get(decision.model))

    def _decision(
        self, request: Request, routed: Routed | None
    ) -> tuple[RouteDecision, ModelEntry]:
        """The routing of `request`: made now, or the one `routed` holds for it."""
        if routed is None:
            routed = self._route(request)
        elif routed.request is not request:
            raise ValueError(
                "`routed` holds the routing of another request; pass the request that was "
                "routed (`Pipeline.route`), or none to route this one."
            )
        elif routed.error is not None:
            raise routed.error
        assert routed.decision is not None
        assert routed.entry is not None
        return routed.decision, routed.entry

    def prepare(
        self,
        request: Request,
        *,
        front_door: str = "python",
        allow: Allow | None = None,
        rewrite: bool = True,
        policy: CallPolicy = _DEFAULT_POLICY,
        routed: Routed | None = None,
    ) -> CallContext:
        """Validate, route and adapt a request; nothing is sent yet.

        `allow` limits which models may answer, fallbacks included (a gateway key's models
        and what its budget hold covers). `rewrite=False` (and a raw prompt) leaves the text
        as it is: no rephrasing. `routed`: this request's routing, already made."""
        validate(request)
        try:
            route, entry = self._decision(request, routed)
            if allow is not None and not allow(entry):
                raise PolicyError(
                    f"the route chose {entry.name}, which this key may not use or whose price "
                    "its budget hold does not cover; name an allowed model or use a key "
                    "that allows it.",
                    code="model_not_allowed",
                )
        except PolicyError as exc:
            self._record_refusal(request, exc, front_door)
            raise
        provider = self.catalog.provider_for(entry)
        check_fields(provider, entry, request)
        staged, rephrased = request, None
        if rewrite and not request.raw_prompt:
            staged, rephrased = self._rephrase(request, route, entry)
        staged, redaction = self._redact(staged, route)
        adapted = self._adapt(staged, entry)
        return CallContext(
            request_id=new_request_id(),
            original=request,
            request=adapted,
            route=route,
            entry=entry,
            provider=provider,
            front_door=front_door,
            rephrased=rephrased,
            redaction=redaction,
            allow=allow,
            policy=policy,
        )

    def _rephrase(
        self, request: Request, route: RouteDecision, entry: ModelEntry
    ) -> tuple[Request, RephraseResult | None]:
        """Rewrite the prompt for the routed model's family when the call or workload asks."""
        from mixstack.rephrase._stage import apply_rephrase

        return apply_rephrase(self.config, request, route, entry)

    def _redact(
        self, request: Request, route: RouteDecision
    ) -> tuple[Request, RedactionMap | None]:
        """Replace PII by placeholders when the decision says the request leaves redacted."""
        if not route.redacted:
            return request, None
        scanner = self.router.scanner_for(route.workload)
        redacted, redaction = redact_request(scanner, request)
        return redacted, redaction

    def _adapt(self, request: Request, entry: ModelEntry) -> Request:
        """Fit the request to what the chosen model can take."""
        has_images = any(m.images for m in request.messages)
        if has_images and not entry.supports("vision"):
            from mixstack.vision import inline_images, ocr_texts

            adapted = inline_images(request)
            if self.on_ocr_text is not None:
                self.on_ocr_text(request, ocr_texts(request, adapted))
            return adapted
        return request

    async def complete(
        self,
        request: Request,
        *,
        front_door: str = "python",
        key: VirtualKey | None = None,
        allow: Allow | None = None,
        policy: CallPolicy = _DEFAULT_POLICY,
        routed: Routed | None = None,
    ) -> Completion:
        """Admit, route, guard, adapt and call; the answer of the routed model or a fallback.

        `key`: the caller's key, whose model list, rate limits and budget admit the call (see
        `mixstack._admission`). `policy` overrides the models' retries, or keeps the call off
        fallbacks. `routed`: this request's routing from `route()`, used instead of routing
        it again."""
        admitted, ctx = await self._admit_and_prepare(
            key, request, allow, front_door, policy, routed
        )
        with settled_if_lost(admitted):
            try:
                reply = await self.resilience.complete(self._targets(ctx), self._switch(ctx))
            except BaseException as exc:
                self._record_failure(ctx, exc)
                raise _as_provider_error(exc, ctx) from exc
            completion = self._completion(ctx, reply, ttft_ms=None)
            self._record_success(ctx, completion)
        if admitted is not None:
            usage = completion.usage
            admitted.answered(ctx.entry, usage.prompt_tokens, usage.completion_tokens)
        return completion

    async def embed(
        self,
        request: Request,
        *,
        front_door: str = "python",
        key: VirtualKey | None = None,
        allow: Allow | None = None,
    ) -> Embeddings:
        """Embedding vectors of the request's messages (one per message), admitted, routed,
        guarded and recorded like any call."""
        admitted, request, allow = await self._admit(key, request, allow)
        with settled_if_lost(admitted):
            result = await self._embed(request, front_door, allow)
        if admitted is not None:
            admitted.answered(self.catalog.get(result.model), result.usage.prompt_tokens, 0)
        return result

    async def _embed(self, request: Request, front_door: str, allow: Allow | None) -> Embeddings:
        ctx = await self._prepare(request, front_door, allow, rewrite=False)
        texts = [m.text for m in ctx.request.messages]
        try:
            async with asyncio.timeout(ctx.entry.config.timeouts.total):
                reply = await ctx.provider.embed(ctx.entry, texts, dict(ctx.request.extra))
        except BaseException as exc:
            self._record_failure(ctx, exc)
            raise _as_provider_error(exc, ctx) from exc
        prompt = reply.prompt_tokens
        if prompt is None or prompt <= 0:
            prompt = sum(text_bound(t) for t in texts)
            ctx.route = ctx.route.with_note(
                f"usage estimated: {ctx.entry.name} reported no token usage (counted as an "
                "upper bound, one token per UTF-8 byte)"
            )
        usage = Usage(
            prompt_tokens=prompt,
            cost_usd=ctx.entry.cost(prompt, 0),
            latency_ms=ctx.elapsed_ms(),
            estimated=reply.prompt_tokens is None,
        )
        result = Embeddings.model_construct(
            request_id=ctx.request_id,
            model=ctx.entry.name,
            provider=ctx.entry.provider,
            vectors=reply.vectors,
            usage=usage,
            route=ctx.route.to_json(),
        )
        if self._record:
            row = self._base_record(ctx, result.route)
            row.prompt_tokens, row.cost_usd = prompt, usage.cost_usd
            row.finish_reason = "embeddings"
            record_call(self.store, row)
        return result

    async def open_stream(
        self,
        request: Request,
        *,
        front_door: str = "python",
        key: VirtualKey | None = None,
        allow: Allow | None = None,
        policy: CallPolicy = _DEFAULT_POLICY,
        routed: Routed | None = None,
    ) -> CallStream:
        """Admit and route now (so the answering model is known before the first chunk),
        stream later; the admission is settled when the stream ends or is closed."""
        admitted, ctx = await self._admit_and_prepare(
            key, request, allow, front_door, policy, routed
        )
        return CallStream(self, ctx, admitted)

    async def _admit_and_prepare(
        self,
        key: VirtualKey | None,
        request: Request,
        allow: Allow | None,
        front_door: str,
        policy: CallPolicy,
        routed: Routed | None,
    ) -> tuple[Admitted | None, CallContext]:
        """A call admitted and prepared. A request small enough to prepare on the event loop
        is prepared while its admission's round trip (Redis) is under way; a large one, or
        one whose key was refused lately, only once admitted, so that a refused flood costs
        no scanning or OCR. The admission's refusal comes first either way."""
        if key is None or offload_worthy(request) or not self.admission.overlaps(key):
            admitted, request, allow = await self._admit(key, request, allow)
            with settled_if_lost(admitted):
                ctx = await self._prepare(request, front_door, allow, policy=policy, routed=routed)
            return admitted, ctx
        admitting = await self.admission.begin(key, request)
        try:
            ctx = self.prepare(
                admitting.request,
                front_door=front_door,
                allow=admitting.within(allow),
                policy=policy,
                routed=routed,
            )
        except BaseException:
            (await admitting.admitted()).failed()
            raise
        return await admitting.admitted(), ctx

    async def _prepare(
        self,
        request: Request,
        front_door: str,
        allow: Allow | None,
        *,
        rewrite: bool = True,
        policy: CallPolicy = _DEFAULT_POLICY,
        routed: Routed | None = None,
    ) -> CallContext:
        """`prepare`, in a worker thread when the request is large enough that scanning it
        (PII, OCR, image decoding) would stall every other request on this event loop."""

        def prepare() -> CallContext:
            return self.prepare(
                request,
                front_door=front_door,
                allow=allow,
                rewrite=rewrite,
                policy=policy,
                routed=routed,
            )

        if not offload_worthy(request):
            return prepare()
        return await run_guarded(prepare)

    # -- call: the routed model, then its fallbacks (see _resilience.py) -------------------

    def _targets(self, ctx: CallContext) -> Iterator[Target]:
        """The routed model, then the model's own `fallbacks:`, then the router's fallbacks.

        A model's own fallbacks never move a call off the premises: only the router, which
        knows the workload's privacy, may choose a remote fallback for an on-prem model.
        """
        retries = ctx.policy.retries
        yield Target(ctx.entry, ctx.provider, ctx.request, retries)
        if not ctx.policy.fallbacks:
            return
        excluded = {e.model for e in ctx.route.excluded}
        tried = {ctx.entry.name}
        routed = list(ctx.route.fallbacks)
        for name in [*ctx.entry.config.fallbacks, *routed]:
            if name in tried or name in excluded or name not in self.catalog:
                continue
            tried.add(name)
            entry = self.catalog.get(name)
            leaves = ctx.entry.stays_on_premises and not entry.stays_on_premises
            if leaves and name not in routed:
                continue
            if not self.catalog.availability(entry).available:
                continue
            if ctx.allow is not None and not ctx.allow(entry):
                continue  # the key may not use it, or its budget hold does not cover it
            provider = self.catalog.provider_for(entry)
            if provider.unsupported(entry, ctx.request):
                continue  # it would drop fields the caller set: not a fallback for this call
            yield Target(entry, provider, self._adapt(ctx.request, entry), retries)

    @staticmethod
    def _switch(ctx: CallContext) -> Callable[[Target, list[Attempt]], None]:
        """Point the context at the model now being tried, noting why the last one failed."""

        def switch(target: Target, failures: list[Attempt]) -> None:
            if target.entry is ctx.entry:
                return
            why = "; ".join(f"{f.model}: {f.error[:120]}" for f in failures)
            ctx.route = ctx.route.took_over(target.entry.name, target.entry.locality, why)
            ctx.entry, ctx.provider, ctx.request = target.entry, target.provider, target.request

        return switch

    # -- results ------------------------------------------------------------------------

    def _completion(
        self, ctx: CallContext, reply: ProviderReply, ttft_ms: float | None
    ) -> Completion:
        redaction = ctx.redaction or RedactionMap()
        restore, restore_call = redaction.restore, redaction.restore_call
        # built from values the pipeline made and typed itself: no validation pass (this runs
        # on every call; a validated `Completion` also copies the route dict)
        prompt, completion = _checked_usage(ctx, reply)
        if not reply.usage_reported:
            # the endpoint said nothing: counted locally (the model's tokenizer for the prompt
            # where the provider has one, else an upper bound), and the log says so
            ctx.route = ctx.route.with_note(
                f"usage estimated: {ctx.entry.name} reported no token usage (counted locally "
                "as an upper bound, one token per UTF-8 byte where no tokenizer is known)"
            )
        usage = Usage.model_construct(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=ctx.entry.cost(prompt, completion),
            latency_ms=ctx.elapsed_ms(),
            ttft_ms=ttft_ms,
            estimated=not reply.usage_reported,
        )
        alternatives = tuple(
            Completion.model_construct(
                request_id=ctx.request_id,
                model=ctx.entry.name,
                provider=ctx.entry.provider,
                text=restore(alt.text),
                tool_calls=tuple(restore_call(c) for c in alt.tool_calls),
                finish_reason=alt.finish_reason,
                usage=Usage(),
                reasoning=None if alt.reasoning is None else restore(alt.reasoning),
                route=None,
                logprobs=alt.logprobs,
                alternatives=(),
            )
            for alt in reply.alternatives
        )
        return Completion.model_construct(
            request_id=ctx.request_id,
            model=ctx.entry.name,
            provider=ctx.entry.provider,
            text=restore(reply.text),
            tool_calls=tuple(restore_call(c) for c in reply.tool_calls),
            finish_reason=reply.finish_reason,
            usage=usage,
            reasoning=None if reply.reasoning is None else restore(reply.reasoning),
            route=ctx.route.to_json(),
            logprobs=reply.logprobs,
            alternatives=alternatives,
        )

    def _base_record(self, ctx: CallContext, route: dict[str, Any] | None = None) -> CallRecord:
        store_content = self.config.store_content
        return CallRecord(
            request_id=ctx.request_id,
            created_at=ctx.created_at,
            model=ctx.entry.name,
            provider=ctx.entry.provider,
            locality=ctx.entry.locality,
            endpoint=ctx.provider.endpoint(ctx.entry),
            workload=ctx.route.workload,
            caller=ctx.original.caller or "",
            front_door=ctx.front_door,
            latency_ms=ctx.elapsed_ms(),
            prompt=_messages_json(ctx.request.messages) if store_content else None,
            **_rephrase_columns(ctx, store_content),
            route=dumps_text(route if route is not None else ctx.route.to_json()),
            policy=ctx.route.policy,
            pii=dumps_text([c.to_json() for c in ctx.route.pii]) if ctx.route.pii else "[]",
            redacted=ctx.route.redacted,
            abuse=ctx.original.metadata.get(ABUSE_KEY),
        )

    def _record_success(self, ctx: CallContext, completion: Completion) -> None:
        if not self._record:
            return
        row = self._base_record(ctx, completion.route)
        row.prompt_tokens = completion.usage.prompt_tokens
        row.completion_tokens = completion.usage.completion_tokens
        row.cost_usd = completion.usage.cost_usd
        row.latency_ms = completion.usage.latency_ms
        row.ttft_ms = completion.usage.ttft_ms
        row.finish_reason = completion.finish_reason
        if self.config.store_content:
            row.response = completion.text
        record_call(self.store, row)

    def _record_refusal(self, request: Request, exc: PolicyError, front_door: str) -> None:
        """A refused request is recorded too: the proof that it went nowhere."""
        if not self._record:
            return
        refused = exc if isinstance(exc, RouteRefused) else None
        pii = refused.pii if refused is not None else ()
        route: dict[str, object] = {
            "refused": True,
            "workload": refused.workload if refused else "",
        }
        if refused is not None:
            route["excluded"] = [{"model": e.model, "reason": e.reason} for e in refused.excluded]
            # what `route replay` needs to decide this request again on the same facts
            route["workload_source"] = refused.workload_source
            route["shape"] = shape_json(refused.shape)
        if request.model and not request.model.startswith("workload/"):
            route["reason"] = "explicit model"
        store_content = self.config.store_content
        row = CallRecord(
            request_id=new_request_id(),
            created_at=time.time(),
            model=request.model or "",
            provider="",
            locality="",
            workload=str(route["workload"]) or (request.workload or ""),
            caller=request.caller or "",
            front_door=front_door,
            error=exc.message,
            error_type=exc.error_type,
            prompt=_messages_json(request.messages) if store_content else None,
            route=dumps_text(route),
            policy=refused.policy if refused is not None else "",
            pii=dumps_text([c.to_json() for c in pii]),
            abuse=request.metadata.get(ABUSE_KEY),
        )
        record_call(self.store, row)

    def _record_failure(self, ctx: CallContext, exc: BaseException, partial: str = "") -> None:
        if not self._record:
            return
        row = self._base_record(ctx)
        row.error = str(exc) or type(exc).__name__
        row.error_type = exc.error_type if isinstance(exc, MixstackError) else type(exc).__name__
        if self.config.store_content and partial:
            row.response = partial
        record_call(self.store, row)

    # -- lifecycle ----------------------------------------------------------------------

    def flush(self) -> None:
        if self._store is not None:
            self._store.flush()

    async def aclose(self) -> None:
        for provider in self.providers.loaded():
            await provider.aclose()
        if self._admission is not None:
            await self._admission.aclose()
        await self.resilience.breakers.aclose()
        self.close_store()

    def close_store(self) -> None:
        """Flush and close the store if this pipeline opened it (no event loop needed)."""
        if self._store is not None and self._owns_store:
            self._store.close()

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class CallStream:
    """A routed call whose answer is streamed. Iterate it once; `.completion` is set at the end.

    Its admission (when the call had a key) is settled when the stream ends: answered, broken
    or left after its first chunk (cut short), or before it (failed); `aclose()` also settles
    a stream that was never iterated."""

    def __init__(self, pipeline: Pipeline, ctx: CallContext, admitted: Admitted | None = None):
        self._pipeline = pipeline
        self.ctx = ctx
        self.completion: Completion | None = None
        self._admitted = admitted
        self._chunks: AsyncGenerator[Chunk, None] | None = None

    @property
    def request_id(self) -> str:
        return self.ctx.request_id

    @property
    def model(self) -> str:
        return self.ctx.entry.name

    @property
    def route(self) -> RouteDecision:
        return self.ctx.route

    def __aiter__(self) -> AsyncIterator[Chunk]:
        self._chunks = self._run()
        return self._chunks

    async def aclose(self) -> None:
        """Stop the stream (the upstream call with it) and settle what is still open."""
        if self._chunks is not None:
            await self._chunks.aclose()
        if self._admitted is not None:
            self._admitted.failed()  # never iterated: nothing reached the caller

    def _lost(self, sent: bool, pieces: int) -> None:
        """Settle a stream that ended without its answer: cut short once a chunk was sent."""
        admitted, ctx = self._admitted, self.ctx
        if admitted is None:
            return
        if sent:
            admitted.cut_short(ctx.entry, ctx.request, ctx.provider, pieces)
        else:
            admitted.failed()

    async def _run(self) -> AsyncGenerator[Chunk, None]:
        ctx = self.ctx
        acc = StreamAccumulator()
        ttft: float | None = None
        pipeline = self._pipeline
        chunks = pipeline.resilience.open_stream(pipeline._targets(ctx), pipeline._switch(ctx))
        restorer = ChunkRestorer(ctx.redaction) if ctx.redaction else None
        sent, pieces = False, 0  # whether a chunk reached the caller; how many it took
        try:
            async for chunk in chunks:
                if ttft is None and (chunk.text or chunk.tool_calls):
                    ttft = ctx.elapsed_ms()
                acc.add(chunk)
                if chunk.finish_reason is not None:
                    if chunk.logprobs:  # the pipeline's own last chunk replaces this one
                        sent = True
                        yield Chunk(logprobs=chunk.logprobs)
                        pieces += 1
                    break
                out = chunk if restorer is None else restorer.feed(chunk)
                if out is not None:
                    sent = True
                    yield out
                    pieces += 1
            for rest in restorer.flush() if restorer is not None else ():
                sent = True
                yield rest
                pieces += 1
        except BaseException as exc:
            self._pipeline._record_failure(ctx, exc, partial=acc.text)
            self._lost(sent, pieces)
            if isinstance(exc, GeneratorExit):
                raise
            raise _as_provider_error(exc, ctx) from exc
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        usage = acc.usage or Usage()
        reply = ProviderReply(
            text=acc.text,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason=acc.finish_reason or "stop",
            tool_calls=acc.tool_calls,
            reasoning=acc.reasoning,
            usage_reported=acc.usage is not None,
            logprobs=acc.logprobs,
        )
        self.completion = self._pipeline._completion(ctx, reply, ttft_ms=ttft)
        self._pipeline._record_success(ctx, self.completion)
        if self._admitted is not None:
            usage = self.completion.usage
            self._admitted.answered(ctx.entry, usage.prompt_tokens, usage.completion_tokens)
        yield Chunk(finish_reason=reply.finish_reason, usage=self.completion.usage)


def _checked_usage(ctx: CallContext, reply: ProviderReply) -> tuple[int, int]:
    """The reply's token counts, or local ones where the upstream's are missing or impossible
    (a negative count would refill a budget; see `guard.usage`)."""
    prompt, completion = reply.prompt_tokens, reply.completion_tokens
    max_tokens = ctx.request.params.max_tokens
    if prompt > 0 and completion > 0 and (max_tokens is None or completion <= max_tokens):
        return prompt, completion
    answer = reply.text + "".join(c.arguments for c in reply.tool_calls)
    if prompt <= 0:
        local = ctx.provider.count_prompt_tokens(ctx.entry, ctx.request)
        local_prompt = local if local is not None and local > 0 else prompt_bound(ctx.request)
    else:
        local_prompt = prompt
    prompt, completion, _ = checked_usage(
        prompt, completion, local_prompt=local_prompt, answer=answer, max_tokens=max_tokens
    )
    return prompt, completion


def _as_provider_error(exc: BaseException, ctx: CallContext) -> BaseException:
    if isinstance(exc, MixstackError | GeneratorExit) or not isinstance(exc, Exception):
        return exc
    return ProviderError(
        f"{ctx.entry.name} failed: {type(exc).__name__}: {exc}; "
        "see `mixstack logs` for the request and retry or pick another model.",
        model=ctx.entry.name,
    )


def _rephrase_columns(ctx: CallContext, store_content: bool) -> dict[str, Any]:
    rephrased = ctx.rephrased
    if rephrased is None:
        return {}
    # a redacted call keeps only its redacted text, in `prompt`
    keep = store_content and not ctx.route.redacted
    return {
        "rephrase_use_case": rephrased.use_case,
        "original_prompt": rephrased.original if keep else None,
        "rephrased_prompt": rephrased.prompt if keep else None,
    }


def _messages_json(messages: tuple[Message, ...]) -> str:
    out: list[dict[str, Any]] = []
    for m in messages:
        item: dict[str, Any] = {"role": m.role, "content": m.text}
        if m.images:
            item["images"] = [img.source or img.media_type for img in m.images]
        if m.tool_calls:
            item["tool_calls"] = [c.model_dump() for c in m.tool_calls]
        if m.tool_call_id:
            item["tool_call_id"] = m.tool_call_id
        out.append(item)
    return dumps_text(out)
