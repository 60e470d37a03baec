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

from mixstack.catalog import Catalog, ModelEntry
from mixstack.config import Config
from mixstack.errors import ContextLengthError
from mixstack.guard.pii import PiiScanner, RequestScan, format_counts, scan_request
from mixstack.router.calibration import (
    EMPTY,
    Calibration,
    calibration_path,
    load_calibration,
    mtime,
)
from mixstack.router.decision import Exclusion, RouteDecision, RouteRefused
from mixstack.router.policy import (
    RequestShape,
    Standing,
    Workload,
    choice_reason,
    privacy_reason,
    rank_key,
    request_reason,
    shape_of,
    standings,
    static_reason,
)
from mixstack.router.validate import validate_workloads
from mixstack.router.workloads import WORKLOAD_PREFIX, WorkloadChooser
from mixstack.types import Request

__all__ = ["OFFLINE_ENV", "Router", "ScanMode", "offline_mode"]

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
        pii = config.routing.pii
        self.scanner = scanner or PiiScanner(min_score=pii.min_score, ignore=pii.ignore)
        self._static: dict[tuple[str, bool], _Plan] = {}
        self._standing: dict[tuple[str, int], dict[str, Standing]] = {}
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
        self._standing.clear()
        return calibration

    def _static_plan(self, workload: Workload, offline: bool) -> _Plan:
        """What the workload's request-independent constraints decide, once per workload and
        offline state: the models left open, the reasons for the others."""
        key = (workload.name, offline)
        plan = self._static.get(key)
        if plan is None:
            plan = _Plan()
            cfg = workload.config
            for entry in self._entries:
                reason = static_reason(entry, workload, offline)
                if reason is not None:
                    plan.closed[entry.name] = Exclusion(entry.name, reason)
                    continue
                plan.open_to.append(entry)
                unavailable = self._availability(entry)
                if unavailable is not None:
                    plan.unavailable[entry.name] = Exclusion(entry.name, unavailable)
                elif (
                    "chat" in entry.capabilities
                    and cfg.max_latency_ms is None
                    and (
                        cfg.max_cost_per_1k_tokens is None
                        or max(entry.price_input_per_1m, entry.price_output_per_1m)
                        <= cfg.max_cost_per_1k_tokens * 1000
                    )
                ):
                    plan.plain.append(entry)
            self._static[key] = plan
        return plan

    def _target(self, calibration: Calibration) -> float:
        return self._config.routing.quality_target or calibration.target

    def _standings(self, workload: Workload) -> dict[str, Standing]:
        """Per-workload ranking facts, recomputed only when the calibration changes."""
        calibration = self.calibration()
        key = (workload.name, id(calibration))
        found = self._standing.get(key)
        if found is None:
            if len(self._standing) > 64:
                self._standing.clear()
            found = standings(self._entries, workload, calibration, self._target(calibration))
            self._standing[key] = found
        return found

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
        if explicit is not None:
            self._catalog.get(explicit)  # unknown models fail with the list of known ones
        standing = self._standings(workload)
        plan = self._static_plan(workload, offline)
        excluded = dict(plan.closed)
        survivors: list[ModelEntry] = []
        if explicit is None and not shape.tools and not shape.json:
            # most requests: only size and the models with caps need a look
            need = shape.prompt_tokens + shape.completion_tokens
            plain = set()
            for entry in plan.plain:
                if need <= entry.context_window:
                    survivors.append(entry)
                    plain.add(entry.name)
            excluded.update(plan.unavailable)
            rest = [e for e in plan.open_to if e.name not in plain and e.name not in excluded]
        else:
            rest = plan.open_to
        for entry in rest:
            named = entry.name == explicit
            reason = request_reason(
                entry, workload, shape, standing[entry.name].latency_ms, explicit=named
            ) or (None if named else self._availability(entry))
            if reason is None:
                survivors.append(entry)
            else:
                excluded[entry.name] = Exclusion(entry.name, reason)
        if found is None:
            found = self._scan(request, workload, survivors, scan)
        if found is not None and found.found:
            for entry in list(survivors):
                reason = privacy_reason(entry, workload, found)
                if reason is not None:
                    excluded[entry.name] = Exclusion(entry.name, reason)
                    survivors.remove(entry)
        return self._choose(workload, explicit, survivors, excluded, shape, found, offline)

    def _scan(
        self, request: Request, workload: Workload, survivors: list[ModelEntry], mode: ScanMode
    ) -> RequestScan | None:
        leaving = [e for e in survivors if not e.stays_on_premises]
        guarded = workload.config.privacy in ("auto", "redact")
        if mode == "never" or (mode == "auto" and not (guarded and leaving)):
            return None
        return scan_request(self.scanner, request, read_images=bool(leaving) or mode == "always")

    def _choose(
        self,
        workload: Workload,
        explicit: str | None,
        survivors: list[ModelEntry],
        excluded: dict[str, Exclusion],
        shape: RequestShape,
        found: RequestScan | None,
        offline: bool,
    ) -> RouteDecision:
        calibration = self.calibration()
        target = self._target(calibration)
        standing = self._standings(workload)
        p, c = shape.prompt_tokens, shape.completion_tokens
        ranked = sorted(survivors, key=lambda e: rank_key(e, standing[e.name], e.cost(p, c)))
        if explicit is not None:
            chosen = next((e for e in ranked if e.name == explicit), None)
        else:
            chosen = ranked[0] if ranked else None
        if chosen is None:
            raise self._refusal(workload, explicit, excluded, shape, found)
        cost = chosen.cost(shape.prompt_tokens, shape.completion_tokens)
        fallbacks = self._fallbacks(workload, chosen, ranked, explicit is not None)
        pii = found.counts if found is not None else ()
        in_play = [chosen, *(self._catalog.get(m) for m in fallbacks)]
        redacted = (
            workload.config.privacy == "redact"
            and bool(pii)
            and any(not e.stays_on_premises for e in in_play)
        )
        notes: list[str] = []
        if offline:
            notes.append(f"offline mode ({OFFLINE_ENV}=1): in-process models took over")
        return RouteDecision(
            model=chosen.name,
            locality=chosen.locality,
            workload=workload.name,
            candidates=tuple(e.name for e in ranked),
            fallbacks=fallbacks,
            excluded=tuple(excluded.values()),
            reason="explicit model"
            if explicit
            else choice_reason(chosen, workload, calibration, target, cost),
            estimated_cost_usd=cost,
            notes=tuple(notes),
            workload_source=workload.source,
            policy=_policy(workload, found, redacted),
            pii=pii,
            redacted=redacted,
            offline=offline,
        )

    def _fallbacks(
        self, workload: Workload, chosen: ModelEntry, ranked: list[ModelEntry], explicit: bool
    ) -> tuple[str, ...]:
        """Eligible models to try if the chosen one fails: the workload's and the model's own
        fallbacks first, then (routed calls) the other candidates, and in-process models last
        (local takeover when a remote endpoint cannot be reached)."""
        eligible = {e.name: e for e in ranked}
        # a model's own fallbacks never move a call off the premises; the workload's may
        own = [
            m
            for m in chosen.config.fallbacks
            if m in eligible and (eligible[m].stays_on_premises or not chosen.stays_on_premises)
        ]
        order = [m for m in workload.config.fallbacks if m in eligible] + own
        if not explicit:
            order += [e.name for e in ranked]
        if not chosen.stays_on_premises:
            order += [e.name for e in ranked if e.locality == "local"]
        seen = {chosen.name}
        out = []
        for name in order:
            if name not in seen:
                seen.add(name)
                out.append(name)
        return tuple(out)

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
        )


@dataclass(slots=True)
class _Plan:
    open_to: list[ModelEntry] = field(default_factory=list)
    closed: dict[str, Exclusion] = field(default_factory=dict)
    #: open models that cannot run here (missing file, key, package)
    unavailable: dict[str, Exclusion] = field(default_factory=dict)
    #: available chat models without cost or latency caps to check per request
    plain: list[ModelEntry] = field(default_factory=list)


def _policy(workload: Workload, found: RequestScan | None, redacted: bool) -> str:
    privacy = workload.config.privacy
    if found is None or privacy in ("local-only", "any"):
        return privacy
    if not found.found:
        return f"{privacy}: no PII found"
    if privacy == "auto":
        return "auto: PII found, kept on premises"
    return "redact: PII replaced by placeholders" if redacted else "redact: PII found, stays local"
