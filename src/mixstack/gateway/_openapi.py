"""The gateway's published OpenAPI 3.1 document, built from the same pydantic request model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mixstack.gateway._completions import CompletionsRequest
from mixstack.gateway._embeddings import EmbeddingsRequest
from mixstack.gateway._responses import ResponsesRequest
from mixstack.gateway._wire import ChatCompletionRequest

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {
        str(s): {"description": "error", "content": {"application/json": {"schema": ref}}}
        for s in statuses
    }


#: the other OpenAI-shaped endpoints: path → (operation id, request model, what it answers)
_MORE: dict[str, tuple[str, type[BaseModel], str]] = {
    "/v1/responses": ("createResponse", ResponsesRequest, "a response, or its SSE events"),
    "/v1/completions": ("createCompletion", CompletionsRequest, "a text completion or stream"),
    "/v1/embeddings": ("createEmbedding", EmbeddingsRequest, "the vectors, in input order"),
}


def _post(operation: str, model: str, answers: str, auth: Any) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model}"}
    return {
        "post": {
            "operationId": operation,
            "security": auth,
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
            "responses": {
                "200": {
                    "description": answers,
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                **_errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
            },
        }
    }


def openapi_document(version: str) -> dict[str, Any]:
    template = "#/components/schemas/{model}"
    schema = ChatCompletionRequest.model_json_schema(ref_template=template)
    components = schema.pop("$defs", {})
    components["ChatCompletionRequest"] = schema
    components["Error"] = _ERROR
    more: dict[str, Any] = {}
    auth: list[dict[str, list[str]]] = [{"bearer": []}]
    for path, (operation, model, answers) in _MORE.items():
        extra = model.model_json_schema(ref_template=template)
        components.update(extra.pop("$defs", {}))
        components[model.__name__] = extra
        more[path] = _post(operation, model.__name__, answers, auth)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mixstack gateway",
            "version": version,
            "description": "OpenAI-compatible Chat Completions, Responses, Completions and "
            "Embeddings (and Anthropic Messages at /v1/messages) in front of local and rented "
            "models, with routing, keys, budgets and limits.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "security": auth,
                    "parameters": [
                        {
                            "name": "x-mixstack-workload",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "x-mixstack-rephrase",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "a completion, or an SSE stream when `stream` is true",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
                    },
                }
            },
            **more,
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "security": auth,
                    "responses": {
                        "200": {
                            "description": "the catalog in OpenAI's list shape",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(401),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "responses": {
                        "200": {
                            "description": "the gateway is up",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
    }
