"""Rolling per-key and per-workload baselines, and the alerts they raise.

Each subject (a key id or a workload name) keeps counters per time bucket (`bucket_s`):
requests, tokens, cost, refusals, PII hits, injection flags and errors. Two kinds of alert:

- `threshold`: a configured limit crossed over its window (cost per hour, injection flags
  per 10 minutes, error rate over 10 minutes, ...);
- `departure`: the current bucket is `departure_factor` times the subject's own baseline (the
  mean of its past `baseline_buckets` buckets), once `warmup_buckets` of history exist and
  above a floor, so a quiet key going from 0 to 1 request is not news.

The same alert for the same subject is raised at most once per `cooldown_s`. Window sums
of past buckets are recomputed only when a bucket closes; an observation costs a few dict
updates.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from mixstack.config.monitor import MonitorConfig

__all__ = ["METRICS", "Alert", "Baselines", "Observation", "Scope"]

Scope = Literal["key", "workload"]
METRICS = ("requests", "tokens", "cost_usd", "refusals", "pii_hits", "injection_flags", "errors")
#: a departure needs the bucket to reach at least this much, whatever the baseline
_FLOORS = {
    "requests": 20.0,
    "tokens": 20_000.0,
    "cost_usd": 0.05,
    "refusals": 5.0,
    "pii_hits": 5.0,
    "injection_flags": 3.0,
    "errors": 5.0,
}
#: threshold setting -> (metric, window in seconds)
_THRESHOLDS = {
    "requests_per_minute": ("requests", 60.0),
    "tokens_per_hour": ("tokens", 3600.0),
    "cost_usd_per_hour": ("cost_usd", 3600.0),
    "injection_flags_per_10min": ("injection_flags", 600.0),
    "refusals_per_10min": ("refusals", 600.0),
    "pii_hits_per_10min": ("pii_hits", 600.0),
}
_RATE_WINDOW_S = 600.0


@dataclass(frozen=True, slots=True)
class Observation:
    """One finished request, as the baselines count it."""

    tokens: int = 0
    cost_usd: float = 0.0
    refusal: bool = False
    pii_hits: int = 0
    injection_flag: bool = False
    error: bool = False

    def values(self) -> dict[str, float]:
        return {
            "requests": 1.0,
            "tokens": float(self.tokens),
            "cost_usd": self.cost_usd,
            "refusals": float(self.refusal),
            "pii_hits": float(self.pii_hits),
            "injection_flags": float(self.injection_flag),
            "errors": float(self.error),
        }


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # threshold | departure | prompt_leak
    metric: str
    scope: Scope
    subject: str
    value: float
    threshold: float | None
    message: str
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, object]:
        return {
            "created_at": self.created_at,
            "kind": self.kind,
            "metric": self.metric,
            "scope": self.scope,
            "subject": self.subject,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
        }


class _Series:
    """One subject's buckets: the open one, and the closed ones' history."""

    def __init__(self, bucket: int, keep: int):
        self.bucket = bucket
        self.current = dict.fromkeys(METRICS, 0.0)
        self.history: deque[dict[str, float]] = deque(maxlen=keep)
        #: sums over the last n closed buckets, by n, recomputed when a bucket closes
        self.past: dict[int, dict[str, float]] = {}

    def roll(self, bucket: int) -> None:
        if bucket <= self.bucket:
            return
        gap = min(bucket - self.bucket, (self.history.maxlen or 1) + 1)
        self.history.append(self.current)
        for _ in range(gap - 1):
            self.history.append(dict.fromkeys(METRICS, 0.0))
        self.current = dict.fromkeys(METRICS, 0.0)
        self.bucket = bucket
        self.past = {}

    def window(self, buckets: int, metric: str) -> float:
        """Sum over the open bucket and the `buckets - 1` closed ones before it."""
        n = buckets - 1
        sums = self.past.get(n)
        if sums is None:
            recent = list(self.history)[-n:] if n > 0 else []
            sums = self.past[n] = {m: sum(b[m] for b in recent) for m in METRICS}
        return sums[metric] + self.current[metric]

    def baseline(self, metric: str) -> float:
        if not self.history:
            return 0.0
        return sum(b[metric] for b in self.history) / len(self.history)


class Baselines:
    """All subjects' series; `observe` returns the alerts an observation raises."""

    def __init__(self, config: MonitorConfig, clock: Callable[[], float] = time.time):
        self.config = config
        self._clock = clock
        self._series: dict[tuple[Scope, str], _Series] = {}
        self._last_alert: dict[tuple[str, Scope, str, str], float] = {}

    def _bucket(self, now: float) -> int:
        return int(now // self.config.bucket_s)

    def observe(self, scope: Scope, subject: str, obs: Observation) -> list[Alert]:
        now = self._clock()
        bucket = self._bucket(now)
        key = (scope, subject)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(bucket, self.config.baseline_buckets)
        series.roll(bucket)
        for metric, value in obs.values().items():
            if value:
                series.current[metric] += value
        alerts = self._thresholds(scope, subject, series, obs)
        alerts += self._departures(scope, subject, series, obs)
        return [a for a in alerts if self._fresh(a, now)]

    def snapshot(self) -> list[dict[str, object]]:
        """Every subject's open bucket and baseline, for the dashboard and `/metrics`."""
        out = []
        for (scope, subject), series in sorted(self._series.items()):
            series.roll(self._bucket(self._clock()))
            out.append(
                {
                    "scope": scope,
                    "subject": subject,
                    "current": dict(series.current),
                    "baseline": {m: round(series.baseline(m), 6) for m in METRICS},
                    "buckets": len(series.history),
                }
            )
        return out

    def _buckets(self, seconds: float) -> int:
        return max(1, math.ceil(seconds / self.config.bucket_s))

    def _thresholds(
        self, scope: Scope, subject: str, series: _Series, obs: Observation
    ) -> list[Alert]:
        limits = self.config.thresholds
        out = []
        touched = {m for m, v in obs.values().items() if v}
        for setting, (metric, window_s) in _THRESHOLDS.items():
            limit = getattr(limits, setting)
            if limit is None or metric not in touched:
                continue
            value = series.window(self._buckets(window_s), metric)
            if value > limit:
                out.append(
                    Alert(
                        "threshold",
                        metric,
                        scope,
                        subject,
                        round(value, 6),
                        limit,
                        f"{scope} {subject}: {metric.replace('_', ' ')} {value:g} over the last "
                        f"{_span(window_s)} exceeds the limit {limit:g} (`{setting}`)",
                    )
                )
        if limits.error_rate is not None and obs.error:
            n = self._buckets(_RATE_WINDOW_S)
            requests = series.window(n, "requests")
            errors = series.window(n, "errors")
            rate = errors / requests if requests else 0.0
            if requests >= limits.min_requests_for_rate and rate > limits.error_rate:
                out.append(
                    Alert(
                        "threshold",
                        "error_rate",
                        scope,
                        subject,
                        round(rate, 4),
                        limits.error_rate,
                        f"{scope} {subject}: {rate:.0%} of {requests:g} requests failed over the "
                        f"last 10 minutes (limit {limits.error_rate:.0%})",
                    )
                )
        return out

    def _departures(
        self, scope: Scope, subject: str, series: _Series, obs: Observation
    ) -> list[Alert]:
        cfg = self.config
        if len(series.history) < cfg.warmup_buckets:
            return []
        out = []
        for metric, value in obs.values().items():
            if not value:
                continue
            now_value = series.current[metric]
            base = series.baseline(metric)
            limit = max(base * cfg.departure_factor, _FLOORS[metric])
            if now_value > limit:
                out.append(
                    Alert(
                        "departure",
                        metric,
                        scope,
                        subject,
                        round(now_value, 6),
                        round(limit, 6),
                        f"{scope} {subject}: {metric.replace('_', ' ')} {now_value:g} in the "
                        f"current {_span(cfg.bucket_s)} is over {cfg.departure_factor:g}x its "
                        f"baseline {base:.3g} per {_span(cfg.bucket_s)}",
                    )
                )
        return out

    def _fresh(self, alert: Alert, now: float) -> bool:
        key = (alert.kind, alert.scope, alert.subject, alert.metric)
        last = self._last_alert.get(key)
        if last is not None and now - last < self.config.cooldown_s:
            return False
        self._last_alert[key] = now
        return True


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds / 3600:g} hours"
    if seconds >= 60 and seconds % 60 == 0:
        return "minute" if seconds == 60 else f"{seconds / 60:g} minutes"
    return f"{seconds:g} s"
