"""The `workloads:` and `routing:` sections: named policies and how requests find them.

workloads:
  private:
    privacy: local-only          # local-only | auto | redact | any
    needs: [json, {min_context: 8000}]
    prefer: [local/smollm2-135m-instruct]
  support:
    privacy: redact
    max_cost_per_1k_tokens: 0.002
    fallbacks: [local/smollm2-135m-instruct]
routing:
  default_workload: support
  rules:
    - workload: private
      keywords: [patient, diagnosis]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_WORKLOAD",
    "InjectionPolicy",
    "PiiSettings",
    "Privacy",
    "RoutingConfig",
    "RoutingRule",
    "WorkloadConfig",
    "WorkloadNeeds",
]

DEFAULT_WORKLOAD = "default"

Privacy = Literal["local-only", "auto", "redact", "any"]
#: what the gateway does with a request it finds an injection or jailbreak attempt in
InjectionPolicy = Literal["off", "log", "flag", "block", "local-only"]
_NEED_FLAGS = ("vision", "tools", "json")


class WorkloadNeeds(BaseModel):
    """Capabilities every model serving the workload must have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vision: bool = False
    tools: bool = False
    json_output: bool = Field(default=False, alias="json")
    min_context: int | None = Field(default=None, ge=16)

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        """Accept `[vision, tools, {min_context: 8000}]` as well as a mapping."""
        if not isinstance(value, list):
            return value
        out: dict[str, Any] = {}
        for item in value:
            if isinstance(item, str):
                if item not in _NEED_FLAGS:
                    raise ValueError(
                        f"unknown need {item!r}; use vision, tools, json or {{min_context: N}}"
                    )
                out[item] = True
            elif isinstance(item, dict):
                out.update(item)
            else:
                raise ValueError("each need is a name (vision, tools, json) or {min_context: N}")
        return out

    def names(self) -> list[str]:
        out = [n for n, on in (("vision", self.vision), ("tools", self.tools)) if on]
        if self.json_output:
            out.append("json")
        if self.min_context:
            out.append(f"min_context={self.min_context}")
        return out


class PiiSettings(BaseModel):
    """What the privacy guard counts as personal data (globally, or for one workload)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_score: float = Field(
        default=0.4, ge=0.0, le=1.0, description="findings scored below this are ignored"
    )
    ignore: list[str] = Field(
        default_factory=list, description="entity types not treated as private, e.g. IP_ADDRESS"
    )
    categories: list[str] | None = Field(
        default=None,
        description="the categories that count (name, address, date_of_birth, email, phone, "
        "national_id, financial, network, health, sexual_orientation, religion, secret); "
        "None: all",
    )
    allow: list[str] = Field(
        default_factory=list,
        description="terms never treated as personal data (your company, your staff list); "
        "matched case-insensitively against a whole finding",
    )


class WorkloadConfig(BaseModel):
    """A named policy: where its requests may go and what the models must be able to do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    privacy: Privacy = Field(
        default="auto",
        description="local-only: local/on-prem models only; auto: any model unless PII or "
        "secrets are found, then local-only; redact: remote after reversible redaction; any",
    )
    offline: bool = Field(default=False, description="only in-process models, no network")
    needs: WorkloadNeeds = WorkloadNeeds()
    max_cost_per_1k_tokens: float | None = Field(default=None, ge=0.0)
    max_latency_ms: float | None = Field(default=None, gt=0.0)
    prefer: list[str] = Field(default_factory=list, description="models to try first, in order")
    fallbacks: list[str] = Field(
        default_factory=list, description="models to try, in order, when the chosen one fails"
    )
    local_takeover: bool = Field(
        default=False,
        description="when a named off-premises model fails, let in-process models answer "
        "(the response and log name the model that did); off: the model's own error",
    )
    rephrase: str | None = Field(
        default=None, description="rephrase prompts: a use case name or `auto`; None = off"
    )
    injection: InjectionPolicy = Field(
        default="flag",
        description="injection/jailbreak found at the gateway: log; flag (log + response "
        "header); block (HTTP 400 with the reason); local-only (served by local or on-prem "
        "models only); off (not scanned)",
    )
    canary: bool = Field(
        default=False,
        description="add a secret marker to the system prompt; an answer repeating it is "
        "flagged as a prompt leak (and withheld under `injection: block`)",
    )
    pii: PiiSettings | None = Field(
        default=None, description="this workload's privacy guard settings (default: routing.pii)"
    )


class RoutingRule(BaseModel):
    """Picks a workload for requests that name none. All given conditions must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workload: str
    keywords: list[str] = Field(
        default_factory=list, description="any of these words (case-insensitive) in the prompt"
    )
    images: bool | None = Field(default=None, description="the request has (or has no) images")
    tools: bool | None = Field(default=None, description="the request offers (or no) tools")
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)

    @field_validator("keywords")
    @classmethod
    def _no_blank_keywords(cls, value: list[str]) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("keywords must not be blank")
        return value

    @model_validator(mode="after")
    def _has_a_condition(self) -> RoutingRule:
        if not (
            self.keywords
            or self.images is not None
            or self.tools is not None
            or self.min_chars is not None
            or self.max_chars is not None
        ):
            raise ValueError(
                "a rule needs at least one condition (keywords, images, tools, min_chars, "
                "max_chars)"
            )
        if (
            self.min_chars is not None
            and self.max_chars is not None
            and self.min_chars > self.max_chars
        ):
            raise ValueError("min_chars is larger than max_chars")
        return self

    def keyword_pattern(self) -> re.Pattern[str] | None:
        """Whole words, matched against the lower-cased prompt."""
        if not self.keywords:
            return None
        words = "|".join(re.escape(k.strip().lower()) for k in self.keywords)
        return re.compile(rf"(?<!\w)(?:{words})(?!\w)")


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_workload: str = DEFAULT_WORKLOAD
    rules: list[RoutingRule] = Field(default_factory=list)
    calibration: Path | None = Field(
        default=None, description="eval calibration file (default: $MIXSTACK_HOME/calibration.json)"
    )
    quality_target: float | None = Field(
        default=None, gt=0.0, le=1.0, description="override the calibration file's target"
    )
    expected_output_tokens: int = Field(
        default=256, ge=1, description="answer length assumed for cost estimates"
    )
    pii: PiiSettings = PiiSettings()
