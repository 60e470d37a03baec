"""Read and validate `mixstack.yaml`; errors name the file, the field path and what is expected."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mixstack.config.models import ENTRY_TYPES
from mixstack.config.schema import Config
from mixstack.errors import ConfigError

__all__ = ["CONFIG_ENV", "load_config", "parse_config"]

CONFIG_ENV = "MIXSTACK_CONFIG"


def load_config(path: str | Path | None = None) -> Config:
    """Load the config from `path`, else `$MIXSTACK_CONFIG`, else the embedded default."""
    chosen = path if path is not None else os.environ.get(CONFIG_ENV) or None
    if chosen is None:
        return Config()
    file = Path(chosen)
    if not file.is_file():
        raise ConfigError(
            f"config file {str(file)!r} not found; pass an existing file with --config "
            f"or unset {CONFIG_ENV}."
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file}:{where}: invalid YAML ({problem}); fix the syntax.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text; save the config as UTF-8.") from exc
    return parse_config(data or {}, source=file)


def parse_config(data: Any, *, source: Path | None = None) -> Config:
    label = str(source) if source else "<config>"
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: the top level must be a mapping of sections (models:, …).")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(label, exc)) from exc
    return config.model_copy(update={"source": source})


def _describe(label: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc, kind = _untagged(err["loc"])
        path = _field_path(loc)
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        message = err["msg"]
        if kind is not None and err["type"] == "extra_forbidden":
            message = _not_a_field(str(loc[-1]), kind)
        lines.append(f"{label}: {path}: {message}{shown}")
    more = len(exc.errors()) - 5
    if more > 0:
        lines.append(f"… and {more} more")
    return "\n".join(lines) + "\nFix these fields in the config file."


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def _untagged(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], str | None]:
    """The path without the model-entry type pydantic inserts (`models[0].local.path` →
    `models[0].path`), and that type's tag."""
    if len(loc) >= 3 and loc[0] == "models" and isinstance(loc[1], int):
        tag = loc[2]
        if isinstance(tag, str) and tag in ENTRY_TYPES:
            return (*loc[:2], *loc[3:]), tag
    return loc, None


def _not_a_field(field: str, kind: str) -> str:
    """Why an unknown field of a model entry is refused, and which providers take it."""
    takers = [
        name for name, entry in ENTRY_TYPES.items() if name != kind and field in entry.model_fields
    ]
    who = f"`{kind}` models" if kind != "plugin" else "plugin providers' models"
    known = ", ".join(sorted(ENTRY_TYPES[kind].model_fields))
    if field == "options":  # the untyped bag of old: built-in providers have typed settings
        return f"`options` is for plugin providers; {who} take typed settings: {known}"
    if takers:
        return (
            f"`{field}` is not a setting of {who} (it belongs to {', '.join(takers)} models); "
            "remove it or fix `provider:`"
        )
    return f"`{field}` is not a setting of {who}; the settings are: {known}"
