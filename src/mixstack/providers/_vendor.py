"""What the providers built on a vendor's official SDK share: the SDK is an optional extra,
imported only when a call needs it, and the API key comes from an environment variable."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from mixstack.config import ModelEntry
from mixstack.config.models import EndpointModelConfig
from mixstack.errors import ModelUnavailableError
from mixstack.providers.base import Availability

__all__ = ["VendorSdk", "missing_key"]


def missing_key(model: ModelEntry, env: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"{model.name} needs an API key in ${env}; export it or pick another model."
    )


class VendorSdk:
    """One vendor: its SDK module, the extra that installs it, its default key variable."""

    def __init__(self, module: str, label: str, extra: str, key_env: str):
        self.module = module
        self.label = label
        self.extra = extra
        self.default_key_env = key_env

    def load(self) -> Any:
        """The SDK module, or a clear "install mixstack[extra]" error."""
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise ModelUnavailableError(
                f"the {self.label} is not installed; install mixstack[{self.extra}] "
                f"(pip install 'mixstack[{self.extra}]')."
            ) from exc

    def key_env(self, model: ModelEntry) -> str:
        return model.settings(EndpointModelConfig).api_key_env or self.default_key_env

    def key(self, model: ModelEntry) -> str:
        env = self.key_env(model)
        key = os.environ.get(env)
        if not key:
            raise missing_key(model, env)
        return key

    def availability(self, model: ModelEntry, where: str) -> Availability:
        """Without importing the SDK: is it installed, and is the key set?"""
        if importlib.util.find_spec(self.module) is None:
            return Availability(False, f"install mixstack[{self.extra}]")
        env = self.key_env(model)
        if not os.environ.get(env):
            return Availability(False, f"${env} is not set")
        return Availability(True, model.config.base_url_or_none or where)
