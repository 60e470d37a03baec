"""Configuration: one YAML file validated by pydantic, with an embedded default."""

from mixstack.config.entry import ModelEntry
from mixstack.config.load import CONFIG_ENV, load_config, parse_config
from mixstack.config.models import Capability, Locality, ModelConfig, Price, ScriptedReply
from mixstack.config.schema import DEFAULT_MODEL, Config

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MODEL",
    "Capability",
    "Config",
    "Locality",
    "ModelConfig",
    "ModelEntry",
    "Price",
    "ScriptedReply",
    "load_config",
    "parse_config",
]
