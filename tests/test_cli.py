"""The real `mixstack` command in a subprocess: output shapes, stdin, exit codes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image


def test_models_json_lists_embedded_models(cli: Any) -> None:
    res = cli("models", "--json")
    assert res.code == 0, res.err
    rows = {row["name"]: row for row in res.json()}
    smol = rows["local/smollm2-135m-instruct"]
    assert smol["provider"] == "local"
    assert smol["locality"] == "local"
    assert "chat" in smol["capabilities"]
    assert smol["context_window"] == 8192
    assert smol["available"] is True
    assert rows["local/gemma3-270m"]["capabilities"] == ["completion", "json"]


def test_models_table_runs(cli: Any) -> None:
    res = cli("models")
    assert res.code == 0, res.err
    assert "smollm2" in res.out


def test_run_json_from_stdin_on_fake(cli: Any, fake_config_file: Path) -> None:
    res = cli("run", "-m", "fake/echo", "--json", "-c", str(fake_config_file), stdin="from stdin")
    assert res.code == 0, res.err
    out = res.json()
    assert out["text"] == "echo: from stdin"
    assert out["model"] == "fake/echo"
    assert set(out["usage"]) >= {"prompt_tokens", "completion_tokens"}
    assert out["request_id"].startswith("req_")
    assert out["latency_ms"] >= 0
    logs = cli("logs", "--json", "-n", "5")
    assert logs.code == 0, logs.err
    assert [r["request_id"] for r in logs.json()] == [out["request_id"]]
    row = logs.json()[0]
    for key in ("model", "locality", "prompt_tokens", "completion_tokens", "latency_ms", "error"):
        assert key in row


@pytest.mark.model
def test_run_streams_the_local_default(cli: Any) -> None:
    res = cli("run", "--max-tokens", "12", "--temperature", "0", "Name a color.")
    assert res.code == 0, res.err
    assert res.out.strip()
    logs = cli("logs", "--json")
    assert logs.json()[0]["model"] == "local/smollm2-135m-instruct"
    assert logs.json()[0]["completion_tokens"] > 0


def test_logs_newest_first(cli: Any, fake_config_file: Path) -> None:
    for word in ("first", "second"):
        assert cli("run", "-m", "fake/echo", "-c", str(fake_config_file), word).code == 0
    rows = cli("logs", "--json").json()
    assert [r["response"] for r in rows] == ["echo: second", "echo: first"]


def test_run_caps_the_answer_and_says_when_it_cut_it(cli: Any, fake_config_file: Path) -> None:
    """Without --max-tokens an answer stops at 256 tokens (fake/echo: one per word), and
    a cut answer says so: finish_reason in the JSON, a note on stderr, stdout only JSON."""
    long = " ".join(f"w{i}" for i in range(400))
    res = cli("run", "-m", "fake/echo", "-c", str(fake_config_file), "--json", stdin=long)
    assert res.code == 0, res.err
    out = res.json()
    assert out["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 256
    assert len(out["text"].split()) == 256
    assert "answer cut at --max-tokens 256" in res.err
    short = cli("run", "-m", "fake/echo", "-c", str(fake_config_file), "--max-tokens", "5", "hi")
    assert short.code == 0, short.err
    assert short.out == "echo: hi\n"
    assert short.err == ""
    cut = cli(
        "chat",
        "-m",
        "fake/echo",
        "-c",
        str(fake_config_file),
        "--max-tokens",
        "2",
        stdin="one two three\n",
    )
    assert cut.out.splitlines() == ["echo: one"]
    assert "answer cut at --max-tokens 2" in cut.err


def test_run_and_chat_show_the_default_cap_in_help(cli: Any) -> None:
    for command in ("run", "chat"):
        res = cli(command, "--help")
        assert res.code == 0, res.err
        assert "default: 256" in " ".join(res.out.split()), res.out


def test_chat_keeps_the_conversation(cli: Any, fake_config_file: Path) -> None:
    res = cli("chat", "-m", "fake/echo", "-c", str(fake_config_file), stdin="one\n/reset\ntwo\n")
    assert res.code == 0, res.err
    assert res.out.splitlines() == ["echo: one", "echo: two"]


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["run", "-m", "nope/x", "hi"], None, 2, "unknown model 'nope/x'; known models:"),
        (["run", "   "], None, 2, "prompt is empty"),
        (["run"], "", 2, "prompt is empty"),
        (["run", "--image", "/no/such.png", "hi"], None, 2, "does not exist"),
        (["run", "--max-tokens", "0", "hi"], None, 2, "max-tokens"),
        (["models", "-c", "/no/such.yaml"], None, 2, "not found"),
    ],
)
def test_bad_input_is_one_clear_line(
    cli: Any, args: list[str], stdin: str | None, code: int, message: str
) -> None:
    res = cli(*args, stdin=stdin)
    assert res.code == code
    assert message in res.err
    assert "Traceback" not in res.err


def test_not_an_image(cli: Any, tmp_path: Path) -> None:
    fake = tmp_path / "x.png"
    fake.write_text("not really")
    res = cli("run", "--image", str(fake), "what is this")
    assert res.code == 2
    assert "is not an image" in res.err


def test_corrupt_gguf_names_the_problem(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"models:\n  - {{name: local/bad, provider: local, path: '{bad}'}}\n")
    res = cli("run", "-c", str(cfg), "-m", "local/bad", "hi")
    assert res.code == 5
    assert "could not be loaded as a GGUF model" in res.err
    assert "Traceback" not in res.err


def test_missing_gguf(cli: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("models:\n  - {name: local/gone, provider: local, path: /no/model.gguf}\n")
    res = cli("run", "-c", str(cfg), "-m", "local/gone", "hi")
    assert res.code == 5
    assert "not found" in res.err
    listing = cli("models", "--json", "-c", str(cfg)).json()
    assert next(r for r in listing if r["name"] == "local/gone")["available"] is False


@pytest.mark.model
def test_image_is_read_by_ocr_for_the_text_only_model(cli: Any, tmp_path: Path) -> None:
    from PIL import ImageDraw, ImageFont

    img = Image.new("RGB", (640, 160), "white")
    ImageDraw.Draw(img).text(
        (20, 50), "INVOICE 4711", fill="black", font=ImageFont.load_default(48)
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    path = tmp_path / "shot.png"
    path.write_bytes(buf.getvalue())
    res = cli("run", "--image", str(path), "--max-tokens", "8", "--json", "What does it say?")
    assert res.code == 0, res.err
    prompt = cli("logs", "--json").json()[0]["prompt"]
    assert "INVOICE 4711" in prompt
    assert "text read by OCR" in prompt
