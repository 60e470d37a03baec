"""The `monitor:` section: rolling baselines, alert thresholds and where alerts go.

monitor:
  webhook: https://hooks.example.com/mixstack   # alerts are POSTed here (and nowhere else)
  bucket_s: 60                                   # baselines are kept per bucket of this size
  departure_factor: 10                           # alert when a bucket is 10x its baseline
  thresholds:                                    # alert when a key or workload crosses these
    cost_usd_per_hour: 5
    injection_flags_per_10min: 5
"""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

__all__ = ["AlertThresholds", "MonitorConfig"]


class AlertThresholds(BaseModel):
    """Absolute limits per key and per workload; None: no such alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_hour: float | None = Field(default=None, gt=0)
    cost_usd_per_hour: float | None = Field(default=None, gt=0)
    injection_flags_per_10min: float | None = Field(default=5, gt=0)
    refusals_per_10min: float | None = Field(default=None, gt=0)
    pii_hits_per_10min: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(
        default=0.5, gt=0, le=1, description="share of failed requests over 10 minutes"
    )
    min_requests_for_rate: int = Field(
        default=20, ge=1, description="an error rate needs this many requests to count"
    )


class MonitorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: AnyHttpUrl | None = Field(
        default=None, description="alerts are POSTed as JSON to this URL (none: not sent)"
    )
    webhook_timeout_s: float = Field(default=3.0, gt=0)
    bucket_s: float = Field(
        default=60.0, gt=0, description="size of the buckets baselines are kept in"
    )
    baseline_buckets: int = Field(
        default=60, ge=2, description="how many past buckets a baseline averages"
    )
    warmup_buckets: int = Field(
        default=10, ge=1, description="no departure alert before this many buckets of history"
    )
    departure_factor: float = Field(
        default=10.0, gt=1, description="alert when a bucket exceeds its baseline this many times"
    )
    cooldown_s: float = Field(
        default=600.0, ge=0, description="the same alert for the same key is raised at most once"
    )
    thresholds: AlertThresholds = AlertThresholds()
