"""LangChain's `ChatOpenAI` against the gateway on the embedded SmolLM2 (real model)."""

from __future__ import annotations

import pytest
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from tests.interop.conftest import SMOL, Served

pytestmark = pytest.mark.model


def chat(served: Served, **kwargs: object) -> ChatOpenAI:
    return ChatOpenAI(
        model=SMOL,
        base_url=served.v1,
        api_key=SecretStr("k"),
        max_retries=0,
        timeout=600,
        temperature=0,
        **kwargs,  # type: ignore[arg-type]
    )


@tool
def get_weather(city: str) -> str:
    """Current weather of a city."""
    return f"sunny in {city}"


class Person(BaseModel):
    name: str
    age: int


def test_invoke_and_stream(served: Served) -> None:
    llm = chat(served, max_completion_tokens=12)
    answer = llm.invoke("Say hello.")
    assert isinstance(answer.content, str)
    assert answer.content.strip()
    assert answer.response_metadata["model_name"] == SMOL
    pieces = [c.content for c in chat(served, max_completion_tokens=8).stream("Name a fruit.")]
    assert "".join(str(p) for p in pieces).strip()


def test_bind_tools_gives_tool_calls(served: Served) -> None:
    llm = chat(served, max_completion_tokens=60).bind_tools([get_weather], tool_choice="any")
    answer = llm.invoke("What is the weather in Paris?")
    assert answer.tool_calls  # type: ignore[attr-defined]
    call = answer.tool_calls[0]  # type: ignore[attr-defined]
    assert call["name"] == "get_weather"
    assert isinstance(call["args"].get("city"), str)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_with_structured_output(served: Served, method: str) -> None:
    llm = chat(served, max_completion_tokens=60).with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = llm.invoke("Alice is 30 years old. Extract the person.")
    assert isinstance(person, Person)
