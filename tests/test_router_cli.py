"""`mixstack route`, offline mode, local takeover when a remote endpoint is down, replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mixstack._types import Request
from mixstack.config import parse_config
from mixstack.pipeline import Pipeline
from tests.upstream_servers import free_port

MODELS: list[dict[str, Any]] = [
    {"name": "fake/local", "provider": "fake"},
    {
        "name": "fake/cloud",
        "provider": "fake",
        "locality": "remote",
        "price": {"input_per_1m": 1.0, "output_per_1m": 4.0},
    },
]
WORKLOADS: dict[str, Any] = {
    "support": {"privacy": "auto", "prefer": ["fake/cloud"]},
    "private": {"privacy": "local-only"},
}


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_route_json_explains_without_calling(cli: Any, tmp_path: Path, home: Path) -> None:
    cfg = write(tmp_path, "a.yaml", {"models": MODELS, "workloads": WORKLOADS})
    out = cli("route", "--config", str(cfg), "--workload", "support", "--json", "Hi there")
    assert out.code == 0, out.err
    d = out.json()
    assert (d["workload"], d["model"], d["locality"]) == ("support", "fake/cloud", "remote")
    assert d["pii"] == []
    assert "fake/local" in d["candidates"]
    pii = cli("route", "-c", str(cfg), "-w", "support", "--json", "SSN 536-90-4399 please")
    d = pii.json()
    assert d["model"] == "fake/local"
    assert d["pii"] == [{"type": "US_SSN", "count": 1}]
    assert {"model": "fake/cloud", "reason": "remote: the prompt contains PII (US_SSN:1)"} in d[
        "excluded"
    ]
    text = cli("route", "-c", str(cfg), "-w", "support", "SSN 536-90-4399 please")
    assert "fake/local" in text.out
    assert "US_SSN:1" in text.out
    assert "536-90" not in text.out + text.err
    # nothing was called: the store was not even opened
    assert not (home / "mixstack.db").exists()


def test_offline_env_makes_local_models_take_over(cli: Any, tmp_path: Path) -> None:
    cfg = write(tmp_path, "a.yaml", {"models": MODELS, "workloads": WORKLOADS})
    env = {"MIXSTACK_OFFLINE": "1"}
    out = cli("run", "-c", str(cfg), "-w", "support", "--json", "Hi there", env=env)
    assert out.code == 0, out.err
    route = out.json()["route"]
    assert route["model"] == "fake/local"
    assert route["offline"] is True
    assert any("took over" in n for n in route["notes"])
    assert any("MIXSTACK_OFFLINE=1" in e["reason"] for e in route["excluded"])


async def test_local_model_takes_over_when_the_remote_endpoint_is_down() -> None:
    dead = {
        "name": "cloud/down",
        "provider": "openai",
        "locality": "remote",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "retries": 0,
    }
    config = parse_config(
        {
            "models": [*MODELS, dead],
            "workloads": {"support": {"privacy": "auto", "prefer": ["cloud/down"]}},
        }
    )
    async with Pipeline(config) as pipeline:
        out = await pipeline.complete(Request.from_prompt("Hi there", workload="support"))
    assert out.route is not None
    assert out.route["fallbacks"][0] == "fake/local"
    assert out.model == "fake/local"
    assert any("took over" in note for note in out.route["notes"])


async def test_replay_shows_how_a_new_policy_changes_routing(cli: Any, tmp_path: Path) -> None:
    old = parse_config({"models": MODELS, "workloads": WORKLOADS,
                        "routing": {"default_workload": "support"}})  # fmt: skip
    async with Pipeline(old) as pipeline:
        for prompt in ("Summarise our roadmap", "Draft a welcome email", "Mail bob@example.com"):
            await pipeline.complete(Request.from_prompt(prompt))
    stricter = {**WORKLOADS, "support": {"privacy": "local-only"}}
    new = write(tmp_path, "new.yaml", {"models": MODELS, "workloads": stricter,
                                      "routing": {"default_workload": "support"}})  # fmt: skip
    out = cli("route", "replay", "--config", str(new), "--json")
    assert out.code == 0, out.err
    report = out.json()
    assert report["calls"] == 3
    assert report["before"]["share_by_model"] == {"fake/cloud": 0.6667, "fake/local": 0.3333}
    assert report["after"]["share_by_model"] == {"fake/local": 1.0}
    assert report["before"]["share_remote"] == 0.6667
    assert report["after"]["share_remote"] == 0.0
    assert report["before"]["estimated_cost_usd"] > 0
    assert report["after"]["estimated_cost_usd"] == 0
    assert report["changed"] == 2
    human = cli("route", "replay", "--config", str(new), "--since", "2000-01-01")
    assert "66.7% → 0.0%" in human.out
    bad = cli("route", "replay", "--config", str(new), "--since", "yesterday")
    assert bad.code == 2
    assert "YYYY-MM-DD" in bad.err


async def test_replay_under_the_same_config_reproduces_every_decision(
    cli: Any, tmp_path: Path
) -> None:
    """Refusals of a named model, named workloads, rules and defaults, long answers: the
    same config decides the same again (0 changes); another lists each changed call."""
    import pytest

    from mixstack.errors import PolicyError

    data = {"models": MODELS, "workloads": WORKLOADS,
            "routing": {"default_workload": "support",
                        "rules": [{"workload": "private", "keywords": ["salary"]}]}}  # fmt: skip
    same = write(tmp_path, "same.yaml", data)
    requests = [
        Request.from_prompt("Summarise our roadmap"),
        Request.from_prompt("What is my salary band?"),  # the rule picks `private`
        Request.from_prompt("Mail bob@example.com", workload="support"),
        Request.from_prompt("Plain question", model="workload/private"),
    ]
    refused = [
        Request.from_prompt("SSN 536-90-4399", model="fake/cloud", workload="private"),
        Request.from_prompt("SSN 536-90-4399 again", model="fake/cloud", workload="support"),
    ]
    async with Pipeline(parse_config(data)) as pipeline:
        ids = [(await pipeline.complete(r)).request_id for r in requests]
        for r in refused:
            with pytest.raises(PolicyError):
                await pipeline.complete(r)
    out = cli("route", "replay", "--config", str(same), "--json")
    assert out.code == 0, out.err
    report = out.json()
    assert report["calls"] == 6
    assert report["before"]["refused"] == report["after"]["refused"] == 2
    assert report["changed"] == 0, report["changes"]
    assert report["changes"] == []
    assert report["before"]["share_by_model"] == report["after"]["share_by_model"]

    everything_local = {**data, "workloads": {**WORKLOADS, "support": {"privacy": "local-only"}}}
    new = write(tmp_path, "new.yaml", everything_local)
    changed = cli("route", "replay", "--config", str(new), "--json").json()
    # the support call that went to fake/cloud now stays local (the one with an email
    # address stayed local already); nothing else changes
    moved = {c["request_id"]: c for c in changed["changes"]}
    assert set(moved) == {ids[0]}
    assert all(c["before"] == "fake/cloud" and c["after"] == "fake/local" for c in moved.values())
    assert all(c["reason"] for c in moved.values())
    human = cli("route", "replay", "--config", str(new))
    assert "changed calls" in human.out
    assert ids[0] in human.out
    assert ids[2] not in human.out


def test_route_bad_input_is_one_line(cli: Any, tmp_path: Path) -> None:
    cfg = write(tmp_path, "a.yaml", {"models": MODELS, "workloads": WORKLOADS})
    out = cli("route", "-c", str(cfg), "-w", "nope", "hi")
    assert out.code == 2
    assert "known workloads: default, private, support" in out.err
    assert "Traceback" not in out.err
    broken = write(
        tmp_path, "b.yaml", {"models": MODELS, "workloads": {"p": {"privacy": "local-only",
                                                                    "prefer": ["fake/cloud"]}}}
    )  # fmt: skip
    out = cli("route", "-c", str(broken), "hi")
    assert out.code == 2
    assert "workloads.p.prefer[0]: fake/cloud cannot serve workload 'p'" in out.err
    assert "Traceback" not in out.err
