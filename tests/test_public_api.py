from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import mixstack
from mixstack._api import build_request
from mixstack._shared import shared_pipeline
from mixstack.config import Config
from mixstack.errors import InvalidRequestError
from tests.conftest import FAKE_MODELS


def test_all_is_sorted_and_complete() -> None:
    assert mixstack.__all__ == sorted(mixstack.__all__)
    for name in mixstack.__all__:
        assert hasattr(mixstack, name), name
    public = {n for n in vars(mixstack) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(mixstack, n)).__name__ == "module"}
    assert public - modules == set(mixstack.__all__)


def test_import_is_cheap_and_side_effect_free() -> None:
    code = (
        "import sys, mixstack; heavy = [m for m in ('llama_cpp', 'rapidocr_onnxruntime', "
        "'numpy', 'openai', 'anthropic', 'torch') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_loads_no_subpackage_until_a_name_is_used() -> None:
    code = (
        "import sys, mixstack; print(sorted(m for m in sys.modules if m.startswith("
        "('mixstack.', 'pydantic', 'aiohttp', 'yaml')) and m != 'mixstack._version')); "
        "mixstack.rephrase; "
        "print(callable(mixstack.rephrase), 'mixstack.agents' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "True False"]


def test_every_public_name_resolves_and_has_a_docstring() -> None:
    def documented(name: str) -> bool:
        doc = (getattr(mixstack, name).__doc__ or "").strip()
        return bool(doc) and not doc.startswith(f"{name}(")  # a dataclass's generated doc

    undocumented = [n for n in mixstack.__all__ if not documented(n)]
    assert undocumented == []


def test_every_mixstack_error_is_drawn_in_the_tree() -> None:
    """Each subclass of MixstackError anywhere in the package appears in errors.py's tree
    under its real parent (the tree is the map users read)."""
    import importlib
    import pkgutil

    import mixstack.errors

    for info in pkgutil.walk_packages(mixstack.__path__, "mixstack."):
        if ".gateway.ui" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    tree = mixstack.errors.__doc__ or ""
    depth = {}
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in tree.splitlines():
        match = re.match(r"^\s*((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)\s", line)
        if not match or not match.group(2).endswith(
            (
                "Error",
                "Exceeded",
                "Blocked",
                "Limited",
                "Timeout",
                "Required",
                "Rejected",
                "Allowed",
                "Refused",
                "Busy",
                "Slow",
                "Large",
            )
        ):
            continue
        level = len(match.group(1)) // 4 + (1 if "──" in line else 0)
        name = match.group(2)
        while stack and stack[-1][0] >= level:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        depth[name] = level
        stack.append((level, name))

    def subclasses(cls: type) -> list[type]:
        found = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    for cls in subclasses(mixstack.errors.MixstackError):
        if cls.__module__.startswith("tests"):
            continue
        assert cls.__name__ in parents, f"{cls.__module__}.{cls.__name__} is not in the tree"
        assert parents[cls.__name__] == cls.__mro__[1].__name__, cls.__name__


def test_unknown_option_is_an_invalid_request_naming_the_valid_ones(fake_config: Config) -> None:
    with pytest.raises(
        InvalidRequestError, match=r"unknown option\(s\) max_tokns; use one of:.*max_tokens"
    ):
        mixstack.run("hi", model="fake/echo", config=fake_config, max_tokns=3)  # type: ignore[call-arg]


def test_a_bad_value_is_an_invalid_request_not_a_pydantic_error(fake_config: Config) -> None:
    with pytest.raises(InvalidRequestError, match=r"temperature: .*less than or equal to 2") as err:
        mixstack.run("hi", model="fake/echo", config=fake_config, temperature=5.0)
    assert err.value.param == "temperature"
    assert not isinstance(err.value.__cause__, ValidationError)


def test_sampling_options_reach_the_request_and_override_a_given_request(
    fake_config: Config,
) -> None:
    request = build_request("hi", {"max_tokens": 7, "stop": "x", "system": "be brief"})
    assert request.params.max_tokens == 7
    assert request.params.stop == ("x",)
    assert [m.role for m in request.messages] == ["system", "user"]
    again = build_request(request, {"temperature": 0.5, "model": "fake/echo"})
    assert again.params.max_tokens == 7
    assert again.params.temperature == 0.5
    assert again.model == "fake/echo"
    with pytest.raises(InvalidRequestError, match="put them in the Request's messages"):
        build_request(request, {"system": "other"})
    answer = mixstack.run(request, config=fake_config, model="fake/echo")
    assert answer.model == "fake/echo"
    assert answer.text == "echo: hi"


def test_the_default_pipeline_is_built_once_per_config(fake_config: Config, tmp_path: Path) -> None:
    first = shared_pipeline(fake_config)
    assert shared_pipeline(fake_config) is first
    path = tmp_path / "mixstack.yaml"
    path.write_text(yaml.safe_dump({"models": FAKE_MODELS}))
    from_file = shared_pipeline(path)
    assert shared_pipeline(str(path)) is from_file is not first
    path.write_text(yaml.safe_dump({"models": FAKE_MODELS[:1]}))
    assert shared_pipeline(path) is not from_file  # an edited file is a new config
    stream = list(mixstack.stream("one two", model="fake/echo", config=fake_config))
    assert "".join(c.text for c in stream) == "echo: one two"
    agent = mixstack.run_agent("say hi", config=fake_config, model="fake/echo")
    assert agent.result.startswith("echo:")


def test_unknown_agent_option_is_an_invalid_request(fake_config: Config) -> None:
    with pytest.raises(InvalidRequestError, match=r"unknown agent option.*max_step"):
        mixstack.run_agent("hi", config=fake_config, max_step=3)  # type: ignore[call-arg]
