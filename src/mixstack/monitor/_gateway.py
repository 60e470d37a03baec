"""The gateway's abuse monitor: screen what enters, check what leaves, count, alert.

    request ─► screen: scan user input (jailbreaks) and untrusted content (injections)
               policy per workload: off | log | flag (header) | block (400) | local-only
               canary marker added to the system prompt when the workload asks
    answer  ─► canary in the answer? prompt leak: alert (and withhold under `block`)
    after   ─► baselines per key and per workload; alerts to log, /metrics, store, webhook

Scans of large requests run in a worker thread, off the event loop; small ones inline (a
thread hop costs more than scanning a sentence).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

import anyio
from prometheus_client import CollectorRegistry, Counter

from mixstack._jsonbytes import dumps_text
from mixstack._types import Completion, Request
from mixstack.config import Config
from mixstack.config.workloads import InjectionPolicy
from mixstack.errors import InjectionBlocked, MixstackError
from mixstack.monitor._alerts import AlertSink
from mixstack.monitor._baseline import Alert, Baselines, Observation
from mixstack.monitor._canary import Canary
from mixstack.monitor._detect import (
    Inspection,
    MessageFinding,
    ScanCache,
    inspect_request,
    request_chars,
)
from mixstack.pipeline import ABUSE_KEY, new_request_id
from mixstack.router._router import LOCAL_ONLY_KEY
from mixstack.router._workloads import WorkloadChooser
from mixstack.store import CallRecord, Store, record_call

__all__ = ["GatewayMonitor", "Screened"]

log = logging.getLogger("mixstack.monitor")

#: requests with more entering text than this are scanned in a worker thread
_OFFLOAD_CHARS = 8_192
INJECTION_HEADER = "x-mixstack-injection"
#: request metadata naming the screening a request belongs to (the pipeline's OCR hook may
#: run in a worker thread, where context variables of the request's task are not seen)
SCREEN_KEY = "mixstack.screen"
#: the screening of the request this task serves (set by `screen`, read for the answer)
_CURRENT: ContextVar[Screened | None] = ContextVar("mixstack_screened", default=None)
LEAK_HEADER = "x-mixstack-prompt-leak"


@dataclass(slots=True, weakref_slot=True)
class Screened:
    """A request after screening: maybe changed (canary, local-only), with what was found."""

    request: Request
    workload: str
    policy: InjectionPolicy
    inspection: Inspection = field(default_factory=Inspection)
    canary: Canary | None = None
    leaked: bool = False

    def headers(self) -> dict[str, str]:
        out = {}
        if self.inspection.flagged and self.policy != "log":
            out[INJECTION_HEADER] = self.inspection.summary()
        if self.leaked:
            out[LEAK_HEADER] = "canary found in the answer"
        return out


class GatewayMonitor:
    def __init__(
        self,
        config: Config,
        store: Callable[[], Store],
        chooser: WorkloadChooser,
        registry: CollectorRegistry | None = None,
    ):
        self.config = config
        self._store = store
        self._chooser = chooser
        self.cache = ScanCache()
        #: screenings of requests in flight, by the token in their metadata
        self._live: weakref.WeakValueDictionary[str, Screened] = weakref.WeakValueDictionary()
        self._tokens = itertools.count()
        self.canary = Canary()
        self.baselines = Baselines(config.monitor)
        webhook = str(config.monitor.webhook) if config.monitor.webhook else None
        self.sink = AlertSink(
            store, registry, webhook=webhook, timeout_s=config.monitor.webhook_timeout_s
        )
        self._flags = Counter(
            "mixstack_injection_flags",
            "Requests the injection/jailbreak detector flagged",
            ("workload", "label", "action"),
            registry=registry,
        )
        self._leaks = Counter(
            "mixstack_prompt_leaks",
            "Answers that repeated the system prompt's canary",
            ("workload",),
            registry=registry,
        )

    # -- what enters ---------------------------------------------------------------------

    async def screen(self, request: Request, key_label: str) -> Screened:
        workload = self._chooser.choose(request)
        policy = workload.config.injection
        screened = Screened(request, workload.name, policy)
        if policy != "off":
            if request_chars(request) > _OFFLOAD_CHARS:
                found = await anyio.to_thread.run_sync(inspect_request, request, self.cache)
            else:
                found = inspect_request(request, self.cache)
            screened.inspection = found
            if found.flagged:
                self._flagged(screened, key_label)
        if workload.config.canary:
            screened.canary = self.canary
            screened.request = self.canary.add_to(screened.request)
        if request.messages and any(m.images for m in request.messages):
            token = str(next(self._tokens))
            self._live[token] = screened
            metadata = {**screened.request.metadata, SCREEN_KEY: token}
            screened.request = screened.request.with_changes(metadata=metadata)
        _CURRENT.set(screened)
        return screened

    def headers(self) -> dict[str, str]:
        """Response headers for the request this task serves (flag, prompt leak)."""
        screened = _CURRENT.get()
        return screened.headers() if screened is not None else {}

    def answered(self, key_label: str, completion: Completion) -> None:
        """Count a finished answer and check it for the canary (raises under `block`)."""
        screened = _CURRENT.get()
        if screened is None:
            self.observe(key_label, "", completion=completion)
            return
        flagged = screened.inspection.flagged
        self.observe(key_label, screened.workload, completion=completion, flagged=flagged)
        self.check_answer(screened, completion.text, key_label)

    def _flagged(self, screened: Screened, key_label: str) -> None:
        found, policy = screened.inspection, screened.policy
        self._flags.labels(screened.workload, found.label, policy).inc()
        abuse = {
            "label": found.label,
            "score": round(found.score, 4),
            "kinds": list(found.kinds),
            "action": policy,
            "findings": [f.to_json() for f in found.findings],
        }
        metadata = {**screened.request.metadata, ABUSE_KEY: dumps_text(abuse)}
        log.warning(
            "%s (workload %s, key %s, policy %s): %s",
            found.label,
            screened.workload,
            key_label,
            policy,
            found.summary(),
        )
        if policy == "block":
            message = (
                f"this request was blocked: it looks like {_article(found.label)} attempt "
                f"({found.summary()}). Workload {screened.workload!r} blocks such requests; "
                "remove the instructions from the flagged content, or ask the operator to "
                "change the workload's `injection` policy."
            )
            self._record_blocked(screened.request, screened.workload, message, metadata)
            self.observe(key_label, screened.workload, error=True, flagged=True)
            raise InjectionBlocked(message)
        if policy == "local-only":
            metadata[LOCAL_ONLY_KEY] = f"{found.label} suspected (score {found.score:.2f})"
        screened.request = screened.request.with_changes(metadata=metadata)

    def _record_blocked(
        self, request: Request, workload: str, message: str, metadata: dict[str, str]
    ) -> None:
        """A blocked request is recorded too: the proof that it went nowhere."""
        record_call(
            self._store(),
            CallRecord(
                request_id=new_request_id(),
                model=request.model or "",
                provider="",
                locality="",
                workload=workload,
                caller=request.caller or "",
                front_door="gateway",
                error=message,
                error_type="injection_detected",
                route=dumps_text({"refused": True, "workload": workload, "blocked": "injection"}),
                policy="injection: block",
                abuse=metadata[ABUSE_KEY],
            ),
        )

    def scan_ocr_text(self, request: Request, texts: tuple[str, ...]) -> None:
        """The pipeline read images as text for a text-only model: scan that text too (it
        is untrusted content), under the policy of the request being screened."""
        screened = self._live.get(request.metadata.get(SCREEN_KEY, ""))
        if screened is None or screened.policy == "off":
            return
        found = []
        for text in texts:
            scan = self.cache.scan(text, "untrusted")
            if scan.flagged:
                found.append(MessageFinding(-1, "ocr", "untrusted", scan))
        if not found:
            return
        inspection = Inspection(tuple(found))
        screened.inspection = screened.inspection.merged(inspection)
        self._flags.labels(screened.workload, inspection.label, screened.policy).inc()
        log.warning(
            "injection in OCR text (workload %s, policy %s): %s",
            screened.workload,
            screened.policy,
            inspection.summary(),
        )
        if screened.policy == "block":
            raise InjectionBlocked(
                f"this request was blocked: the text read from its image looks like an "
                f"injection attempt ({inspection.summary()}). Workload {screened.workload!r} "
                "blocks such requests; send an image without instructions in it, or ask the "
                "operator to change the workload's `injection` policy."
            )

    # -- what leaves ---------------------------------------------------------------------

    def check_answer(self, screened: Screened, text: str, key_label: str) -> None:
        """Flag an answer that repeats the canary; under `block`, withhold it."""
        if screened.canary is None or not screened.canary.leaked(text):
            return
        screened.leaked = True
        self._leaks.labels(screened.workload).inc()
        self.emit(
            Alert(
                "prompt_leak",
                "prompt_leak",
                "key",
                screened.request.caller or "-",
                1.0,
                None,
                f"workload {screened.workload}: an answer repeated the system prompt's canary "
                "marker (prompt leak)",
            )
        )
        if screened.policy == "block":
            raise InjectionBlocked(
                "the answer was withheld: it repeated the system prompt's confidential marker "
                f"(a prompt leak) and workload {screened.workload!r} blocks them; rephrase the "
                "request without asking for the system prompt."
            )

    # -- counting ------------------------------------------------------------------------

    def observe(
        self,
        key_label: str,
        workload: str,
        *,
        completion: Completion | None = None,
        error: bool = False,
        refusal: bool = False,
        flagged: bool = False,
    ) -> None:
        obs = Observation(error=error, refusal=refusal, injection_flag=flagged)
        if completion is not None:
            usage = completion.usage
            route = completion.route or {}
            obs = Observation(
                tokens=usage.prompt_tokens + usage.completion_tokens,
                cost_usd=usage.cost_usd,
                refusal=refusal or completion.finish_reason == "content_filter",
                pii_hits=sum(int(p.get("count", 0)) for p in route.get("pii", ())),
                injection_flag=flagged,
                error=error,
            )
        alerts = self.baselines.observe("key", key_label, obs)
        if workload:
            alerts += self.baselines.observe("workload", workload, obs)
        for alert in alerts:
            self.emit(alert)

    def observe_error(self, key_label: str, exc: MixstackError | None) -> None:
        if exc is None:  # the client went away: not the key's error
            return
        refusal = exc.http_status in (400, 403) and exc.error_type != "invalid_request_error"
        blocked = isinstance(exc, InjectionBlocked)
        if not blocked:  # a blocked request was counted when it was screened
            self.observe(key_label, "", error=True, refusal=refusal)

    def emit(self, alert: Alert) -> None:
        try:
            self.sink.emit(alert)
        except Exception:  # an alert must never break the request that raised it
            log.exception("could not deliver alert: %s", alert.message)

    # -- background ------------------------------------------------------------------------

    async def run(self, interval_s: float = 10.0) -> None:
        """Seal the privacy chain over new calls, every `interval_s`, off the event loop (on
        PostgreSQL this also folds them into the dashboard's aggregates)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await anyio.to_thread.run_sync(_seal_all, self._store())
            except Exception:
                log.exception("could not seal the privacy chain; retrying in %ss", interval_s)

    async def aclose(self) -> None:
        await self.sink.aclose()


def _seal_all(store: Store, batch: int = 5000) -> None:
    """Seal until the backlog is gone (a busy store commits more than one batch per round)."""
    while store.chain.seal(batch) >= batch:
        pass


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
