"""Choose the model for a request, under its workload's policy, and say why.

workload (named, `workload/<name>`, rules, default)
  ─► filter the catalog: offline, locality, declared needs, request size, cost, latency
  ─► guard: scan what could leave the machine when an off-premises model is in play
  ─► privacy filter (auto: PII stays local; redact: unredactable PII stays local)
  ─► rank: preference, calibrated quality, cost per correct answer, cost, latency
  ─► RouteDecision (or a refusal: nothing is sent)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Literal

from mixstack._types import Request
from mixstack.catalog import Catalog, ModelEntry
from mixstack.config import Config
from mixstack.errors import ContextLengthError
from mixstack.guard._pii import PiiScanner, RequestScan, format_counts, scan_request, scanner_for
from mixstack.router._calibration import (
    EMPTY,
    Calibration,
    calibration_path,
    load_calibration,
    mtime,
)
from mixstack.router._decision import Exclusion, RouteDecision, RouteRefused
from mixstack.router._policy import (
    RequestShape,
    Standing,
    Workload,
    choice_reason,
    cost_cap_reason,
    latency_reason,
    privacy_reason,
    rank_key,
    request_reason,
    routed_reason,
    shape_of,
    standings,
    static_reason,
)
from mixstack.router._validate import validate_workloads
from mixstack.router._workloads import WORKLOAD_PREFIX, WorkloadChooser

__all__ = ["LOCAL_ONLY_KEY", "OFFLINE_ENV", "Router", "ScanMode", "offline_mode"]

OFFLINE_ENV = "MIXSTACK_OFFLINE"
ScanMode = Literal["auto", "always", "never"]
_CALIBRATION_RECHECK_S = 1.0
#: exclusions this request's content or the workload's caps caused (not size, not locality)
_POLICY_REASONS = ("remote: the prompt contains PII", "remote: PII in", "costs", "median latency")


def offline_mode() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class Router:
    def __init__(
        self,
        config: Config,
        catalog: Catalog,
        *,
        scanner: PiiScanner | None = None,
        validate: bool = True,
        check_availability: bool = True,
    ):
        self._config = config
        self._catalog = catalog
        self._entries = list(catalog)
        self.chooser = WorkloadChooser(config)
        self.scanner = scanner or scanner_for(config.routing.pii)
        #: workloads with their own `pii` settings get their own scanner (sharing the model)
        self._scanners = {
            name: scanner_for(w.pii, label=f"workload {name!r}")
            for name, w in config.workloads.items()
            if w.pii is not None
        }
        self._plans: dict[tuple[str, bool, int], _Plan] = {}
        self._unavailable: dict[str, str | None] = {}
        self._check_availability = check_availability
        self._calibration_file = calibration_path(config.routing.calibration, config.home)
        self._calibration: tuple[float, float, Calibration] | None = None
        if validate:
            validate_workloads(config, catalog, self.chooser)

    # -- inputs -------------------------------------------------------------------------

    def calibration(self) -> Calibration:
        """The eval calibration file, re-read when it changes (checked once a second)."""
        now = time.monotonic()
        cached = self._calibration
        if cached is not None and now - cached[0] < _CALIBRATION_RECHECK_S:
            return cached[2]
        stamp = mtime(self._calibration_file)
        if cached is not None and cached[1] == stamp:
            self._calibration = (now, stamp, cached[2])
            return cached[2]
        required = self._config.routing.calibration is not None
        calibration = (
            load_calibration(self._calibration_file, required=required)
            if stamp or required
            else EMPTY
        )
        self._calibration = (now, stamp, calibration)
        self._plans.clear()
        return calibration

    def _plan(self, workload: Workload, offline: bool, calibration: Calibration) -> _Plan:
        """What the workload's request-independent constraints decide, once per workload,
        offline state and calibration: the models left open with their ranking facts, and
        the reasons for the others."""
        key = (workload.name, offline, id(calibration))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:
                self._plans.clear()
            plan = self._plans[key] = self._compile(workload, offline, calibration)
        return plan

    def _compile(self, workload: Workload, offline: bool, calibration: Calibration) -> _Plan:
        cfg = workload.config
        standing = standings(self._entries, workload, calibration, self._target(calibration))
        plan = _Plan(standing=standing)
        cap = cfg.max_cost_per_1k_tokens
        for entry in self._entries:
            reason = static_reason(entry, workload, offline)
            if reason is not None:
                plan.closed[entry.name] = Exclusion(entry.name, reason)
                continue
            plan.open_to.append(entry)
            facts = standing[entry.name]
            # what a routed request (no model named) cannot change: availability, base
            # models, models kept for other workloads, the latency cap
            reason = (
                routed_reason(entry, workload)
                or latency_reason(workload, facts.latency_ms)
                or self._availability(entry)
            )
            if reason is not None:
                plan.routed_closed[entry.name] = Exclusion(entry.name, reason)
                continue
            plan.slots.append(
                _Slot(
                    entry=entry,
                    name=entry.name,
                    tools="tools" in entry.capabilities,
                    json="json" in entry.capabilities,
                    window=entry.context_window,
                    p_in=entry.price_input_per_1m,
                    p_out=entry.price_output_per_1m,
                    over_cap=cost_cap_reason(entry, cap)
                    if cap is not None
                    and max(entry.price_input_per_1m, entry.price_output_per_1m) > cap * 1000
                    else "",
                    position=facts.position,
                    tier=facts.tier,
                    per_correct=facts.per_correct,
                    latency=facts.latency_ms or 0.0,
                )
            )
        plan.routed_closed = {**plan.closed, **plan.routed_closed}
        return plan

    def _target(self, calibration: Calibration) -> float:
        return self._config.routing.quality_target or calibration.target

    def _availability(self, entry: ModelEntry) -> str | None:
        if not self._check_availability:
            return None
        if entry.name not in self._unavailable:
            avail = self._catalog.availability(entry)
            self._unavailable[entry.name] = (
                None if avail.available else f"not available here: {avail.reason}"
            )
        return self._unavailable[entry.name]

    # -- the decision ---------------------------------------------------------------------

    def decide(
        self, request: Request, *, scan: ScanMode = "auto", offline: bool | None = None
    ) -> RouteDecision:
        """Route `request`; raises `RouteRefused` when its policy leaves no model."""
        shape = shape_of(request, self._config.routing.expected_output_tokens)
        return self._decide(request, shape, None, scan, offline)

    def decide_shaped(
        self, request: Request, shape: RequestShape, found: RequestScan
    ) -> RouteDecision:
        """Route with a known size and known findings (policy replay of logged calls)."""
        return self._decide(request, shape, found, "never", offline=False)

    def _decide(
        self,
        request: Request,
        shape: RequestShape,
        found: RequestScan | None,
        scan: ScanMode,
        offline: bool | None,
    ) -> RouteDecision:
        workload = self.chooser.choose(request)
        offline = offline_mode() if offline is None else offline
        explicit = request.model
        if explicit is not None and explicit.startswith(WORKLOAD_PREFIX):
            explicit = None
        calibration = self.calibration()
        plan = self._plan(workload, offline, calibration)
        if explicit is None:
            excluded, ranked = self._routed(workload, plan, shape)
        else:
            self._catalog.get(explicit)  # unknown models fail with the list of known ones
            excluded, ranked = self._named(workload, plan, shape, explicit)
        if found is None:
            found = self._scan(request, workload, ranked, scan)
        if found is not None and found.found:
            kept = []
            for entry in ranked:
                reason = privacy_reason(entry, workload, found)
                if reason is None:
                    kept.append(entry)
                else:
                    excluded[entry.name] = Exclusion(entry.name, reason)
            ranked = kept
        kept_local = request.metadata.get(LOCAL_ONLY_KEY) if request.metadata else None
        if kept_local:
            ranked = _on_premises(ranked, excluded, kept_local)
        return self._choose(
            workload, explicit, ranked, excluded, shape, found, offline, calibration
        )

    def _routed(
        self, workload: Workload, plan: _Plan, shape: RequestShape
    ) -> tuple[dict[str, Exclusion], list[ModelEntry]]:
        """A request that names no model: the plan's open models this request fits, ranked.
        (The per-model checks of `request_reason`, unrolled: this is the hot path.)"""
        excluded = dict(plan.routed_closed)
        p, c = shape.prompt_tokens, shape.completion_tokens
        need = p + c
        cap = workload.config.max_cost_per_1k_tokens
        # price per 1k tokens > cap  <=>  cost > cap * tokens / 1000
        limit = cap * max(need, 1) / 1000 if cap is not None else 0.0
        keyed = []
        for slot in plan.slots:
            reason = None
            if shape.tools and not slot.tools:
                reason = "no tool calling: the request offers tools"
            elif shape.json and not slot.json:
                reason = "no JSON output: the request asks for JSON"
            elif need > slot.window:
                reason = f"too long: ~{p} prompt + {c} answer tokens > context window {slot.window}"
            cost = (p * slot.p_in + c * slot.p_out) / 1_000_000
            if reason is None and slot.over_cap and cost > limit:
                reason = slot.over_cap
            if reason is not None:
                # tuple.__new__ skips the NamedTuple's Python-level constructor
                excluded[slot.name] = tuple.__new__(Exclusion, (slot.name, reason))
                continue
            per_correct = cost if slot.per_correct is None else slot.per_correct
            # rank_key's order: preference, quality tier, cost per correct, cost, latency
            keyed.append(
                (slot.position, slot.tier, per_correct, cost, slot.latency, slot.name, slot.entry)
            )
        keyed.sort()
        return excluded, [k[6] for k in keyed]

    def _named(
        self, workload: Workload, plan: _Plan, shape: RequestShape, explicit: str
    ) -> tuple[dict[str, Exclusion], list[ModelEntry]]:
        """A request naming its model: that model skips the capability and size checks (its
        provider reports what it cannot do); the others are ranked as fallback candidates."""
        excluded = dict(plan.closed)
        standing = plan.standing
        survivors = []
        for entry in plan.open_to:
            named = entry.name == explicit
            reason = request_reason(
                entry, workload, shape, standing[entry.name].latency_ms, explicit=named
            ) or (None if named else self._availability(entry))
            if reason is None:
                survivors.append(entry)
            else:
                excluded[entry.name] = Exclusion(entry.name, reason)
        p, c = shape.prompt_tokens, shape.completion_tokens
        ranked = sorted(survivors, key=lambda e: rank_key(e, standing[e.name], e.cost(p, c)))
        return excluded, ranked

    def _scan(
        self, request: Request, workload: Workload, survivors: list[ModelEntry], mode: ScanMode
    ) -> RequestScan | None:
        if mode == "never":
            return None
        leaving = [e for e in survivors if not e.stays_on_premises]
        guarded = workload.config.privacy in ("auto", "redact")
        if mode == "auto" and not (guarded and leaving):
            return None
        scanner = self.scanner_for(workload.name)
        if mode == "auto" and workload.config.privacy == "auto":
            # the decision is found / not found, and the entity model's findings only add to
            # what patterns and name lists find: when those find something, the model cannot
            # change the decision (its types are then missing from the counts)
            quick = scan_request(scanner, request, read_images=False, model=False)
            if quick.found:
                return quick
        return scan_request(scanner, request, read_images=bool(leaving) or mode == "always")

    def scanner_for(self, workload: str) -> PiiScanner:
        """The guard's scanner under `workload`'s settings (its own `pii`, else routing's)."""
        return self._scanners.get(workload, self.scanner)

    def _choose(
        self,
        workload: Workload,
        explicit: str | None,
        ranked: list[ModelEntry],
        excluded: dict[str, Exclusion],
        shape: RequestShape,
        found: RequestScan | None,
        offline: bool,
        calibration: Calibration,
    ) -> RouteDecision:
        if explicit is not None:
            chosen = next((e for e in ranked if e.name == explicit), None)
        else:
            chosen = ranked[0] if ranked else None
        if chosen is None:
            raise self._refusal(workload, explicit, excluded, shape, found)
        cost = chosen.cost(shape.prompt_tokens, shape.completion_tokens)
        names = [e.name for e in ranked]
        fallbacks = self._fallbacks(workload, chosen, ranked, names, explicit is not None)
        pii = found.counts if found is not None else ()
        redacted = (
            workload.config.privacy == "redact"
            and bool(pii)
            and any(
                not e.stays_on_premises
                for e in (chosen, *(self._catalog.get(m) for m in fallbacks))
            )
        )
        notes: list[str] = []
        if offline:
            notes.append(f"offline mode ({OFFLINE_ENV}=1): in-process models took over")
        return RouteDecision(
            model=chosen.name,
            locality=chosen.locality,
            workload=workload.name,
            candidates=tuple(names),
            fallbacks=fallbacks,
            excluded=tuple(excluded.values()),
            reason="explicit model"
            if explicit
            else choice_reason(
                chosen, workload, calibration, self._target(calibration), cost, ranked
            ),
            estimated_cost_usd=cost,
            notes=tuple(notes),
            workload_source=workload.source,
            policy=_policy(workload, found, redacted),
            pii=pii,
            redacted=redacted,
            offline=offline,
            shape=shape,
        )

    def _fallbacks(
        self,
        workload: Workload,
        chosen: ModelEntry,
        ranked: list[ModelEntry],
        names: list[str],
        explicit: bool,
    ) -> tuple[str, ...]:
        """Eligible models to try if the chosen one fails: the workload's and the model's own
        fallbacks first, then (routed calls) the other candidates; a named off-premises model
        gets in-process models last only where the workload sets `local_takeover`."""
        order: list[str] = []
        declared = workload.config.fallbacks or chosen.config.fallbacks
        if declared:
            eligible = dict(zip(names, ranked, strict=True))
            # a model's own fallbacks never move a call off the premises; the workload's may
            order += [m for m in workload.config.fallbacks if m in eligible]
            order += [
                m
                for m in chosen.config.fallbacks
                if m in eligible and (eligible[m].stays_on_premises or not chosen.stays_on_premises)
            ]
        if not explicit:
            order += names
        elif workload.config.local_takeover and not chosen.stays_on_premises:
            # a named model is never replaced unless the workload opts in (nothing silent)
            order += [e.name for e in ranked if e.locality == "local"]
        order = list(dict.fromkeys(order))  # first mention wins
        if chosen.name in order:
            order.remove(chosen.name)
        return tuple(order)

    def _refusal(
        self,
        workload: Workload,
        explicit: str | None,
        excluded: dict[str, Exclusion],
        shape: RequestShape,
        found: RequestScan | None,
    ) -> Exception:
        reasons = {m: e.reason for m, e in excluded.items()}
        if explicit is not None:
            reasons = {explicit: reasons.get(explicit, "")}
        too_long = [m for m, r in reasons.items() if r.startswith("too long")]
        if too_long and not any(r.startswith(_POLICY_REASONS) for r in reasons.values()):
            # nothing but size stands in the way: say so with the lengths
            largest = max((self._catalog.get(m) for m in too_long), key=lambda e: e.context_window)
            return ContextLengthError(
                largest.name, shape.prompt_tokens + shape.completion_tokens, largest.context_window
            )
        shown = "; ".join(f"{m}: {r}" for m, r in list(reasons.items())[:6])
        more = len(reasons) - 6
        if more > 0:
            shown += f"; … {more} more"
        pii = found.counts if found is not None else ()
        subject = f"{explicit} may not take" if explicit else "no model may take"
        found_text = f"; found {format_counts(pii)}" if pii else ""
        return RouteRefused(
            f"refused, nothing was sent: {subject} this request under workload "
            f"{workload.name!r} (privacy {workload.config.privacy}{found_text}). {shown}. "
            "Use a model the workload allows (`mixstack route --json` explains), remove the "
            "private data, or declare a local or on-prem model that fits.",
            workload=workload.name,
            pii=pii,
            excluded=tuple(Exclusion(m, r) for m, r in reasons.items()),
            policy=_policy(workload, found, False),
            workload_source=workload.source,
            shape=shape,
        )


@dataclass(slots=True)
class _Slot:
    """An open model as a routed request's checks and ranking read it."""

    entry: ModelEntry
    name: str
    tools: bool
    json: bool
    window: int
    p_in: float
    p_out: float
    #: its dearer price is over the workload's cost cap, so the request's mix decides:
    #: the reason if it goes over (empty when it never can)
    over_cap: str
    position: int
    tier: int
    per_correct: float | None
    latency: float


@dataclass(slots=True)
class _Plan:
    standing: dict[str, Standing]
    #: models the workload's static constraints leave open (to a request naming its model)
    open_to: list[ModelEntry] = field(default_factory=list)
    closed: dict[str, Exclusion] = field(default_factory=dict)
    #: closed to routed requests: the above, and models unavailable here (missing file, key,
    #: package), base models, and those over the latency cap
    routed_closed: dict[str, Exclusion] = field(default_factory=dict)
    #: open to routed requests, in catalog order
    slots: list[_Slot] = field(default_factory=list)


def _policy(workload: Workload, found: RequestScan | None, redacted: bool) -> str:
    privacy = workload.config.privacy
    if found is None or privacy in ("local-only", "any"):
        return privacy
    if not found.found:
        return f"{privacy}: no PII found"
    if privacy == "auto":
        return "auto: PII found, kept on premises"
    return "redact: PII replaced by placeholders" if redacted else "redact: PII found, stays local"


#: request metadata that keeps a request on local or on-prem models, with the reason (set by
#: the gateway when its injection policy is `local-only`)
LOCAL_ONLY_KEY = "mixstack.local_only"


def _on_premises(
    ranked: list[ModelEntry], excluded: dict[str, Exclusion], why: str
) -> list[ModelEntry]:
    kept = []
    for entry in ranked:
        if entry.stays_on_premises:
            kept.append(entry)
        else:
            excluded[entry.name] = Exclusion(entry.name, f"kept on the premises: {why}")
    return kept
