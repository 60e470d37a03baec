"""The `gateway:` section: where `mixstack serve` listens, who may call it, how much they send."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuthMode", "GatewayConfig"]

#: `auto`: keys are required as soon as one exists; `required`: always; `off`: never
AuthMode = Literal["auto", "required", "off"]


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="address `mixstack serve` binds")
    port: int = Field(default=4000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="server processes")
    auth: AuthMode = Field(default="auto", description="when a virtual key is required")
    max_body_bytes: int = Field(
        default=20_000_000, ge=1024, description="larger request bodies get HTTP 413"
    )
    key_cache_s: float = Field(
        default=2.0, ge=0.0, description="how long a key lookup is reused (revocation delay)"
    )
    default_completion_tokens: int = Field(
        default=4096,
        ge=1,
        description="answer length assumed when reserving budget for a request without max_tokens",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0.0,
        description="a connection whose request headers are not complete by then is closed",
    )
    idle_timeout_s: float = Field(
        default=5.0, gt=0.0, description="an idle keep-alive connection is closed after this"
    )
    body_timeout_s: float = Field(
        default=60.0, gt=0.0, description="a request body not received by then gets HTTP 408"
    )
    max_connections: int = Field(
        default=1000, ge=1, description="connections past this are refused with HTTP 503"
    )
