"""The root of `mixstack.yaml`. Each section's schema lives in its own module."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mixstack.config.models import ModelConfig

__all__ = ["DEFAULT_MODEL", "Config"]

DEFAULT_MODEL = "local/smollm2-135m-instruct"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_model: str = DEFAULT_MODEL
    home: Path | None = Field(
        default=None, description="where the store lives (default: $MIXSTACK_HOME or user data)"
    )
    store_content: bool = Field(
        default=True, description="store prompt and response text with each call"
    )
    models: list[ModelConfig] = Field(default_factory=list)
    source: Path | None = Field(default=None, exclude=True, description="file it was read from")
