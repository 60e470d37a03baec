"""JSON Schemas given with `--schema`: read, parse and check against the meta-schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixstack.errors import InvalidRequestError

__all__ = ["check_schema", "load_schema"]


def check_schema(schema: Any, *, source: str = "the schema") -> dict[str, Any]:
    """Return `schema` if it is a valid JSON Schema object, else raise a one-line error."""
    if not isinstance(schema, dict):
        raise InvalidRequestError(
            f"{source} is not a JSON Schema (a JSON object is expected); "
            'pass e.g. {"type": "object", "properties": {…}}.',
            param="schema",
        )
    from jsonschema import exceptions, validators

    validator = validators.validator_for(schema)
    try:
        validator.check_schema(schema)
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "<root>"
        raise InvalidRequestError(
            f"{source} is not a valid JSON Schema: at {where}: {exc.message}; fix the schema.",
            param="schema",
        ) from exc
    return schema


def load_schema(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise InvalidRequestError(
            f"schema file {str(file)!r} does not exist; check the path.", param="schema"
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"{file}: not UTF-8 text; save it as UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix the file.",
            param="schema",
        ) from exc
    return check_schema(data, source=str(file))
