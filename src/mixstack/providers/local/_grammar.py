"""The grammar that holds a local model to a `response_format` (JSON, a JSON schema)."""

from __future__ import annotations

import json
from typing import Any

from mixstack._types import ResponseFormat

__all__ = ["grammar_for"]


def grammar_for(response_format: ResponseFormat) -> Any:
    """A `LlamaGrammar` for a JSON response format, None for plain text."""
    if response_format.type == "text":
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if response_format.type == "json_schema" and response_format.json_schema:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        schema = response_format.json_schema.get("schema", response_format.json_schema)
        gbnf = json_schema_to_gbnf(json.dumps(schema))
        # the converter's string characters admit raw control characters, which no JSON
        # parser accepts inside a string: exclude them as the json_object grammar does
        gbnf = gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)
        return LlamaGrammar.from_string(gbnf, verbose=False)
    return LlamaGrammar.from_string(JSON_GBNF, verbose=False)


_LOOSE_CHAR = r'char ::= [^"\\] |'
_STRICT_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'
