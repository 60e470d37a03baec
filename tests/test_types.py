from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from mixstack._types import ImagePart, Message, Request, TextPart, ToolCall
from mixstack.errors import InvalidRequestError


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format="PNG")
    return buf.getvalue()


def test_image_from_path_bytes_and_data_url_agree(tmp_path: Path) -> None:
    data = _png()
    path = tmp_path / "a.png"
    path.write_bytes(data)
    from_path = ImagePart.from_path(path)
    from_bytes = ImagePart.from_bytes(data)
    from_url = ImagePart.from_url("data:image/png;base64," + base64.b64encode(data).decode())
    assert from_path.data == from_bytes.data == from_url.data == data
    assert {from_path.media_type, from_bytes.media_type, from_url.media_type} == {"image/png"}
    assert from_url.data_url().startswith("data:image/png;base64,")


def test_remote_image_url_is_kept_as_reference() -> None:
    part = ImagePart.from_url("https://example.invalid/cat.jpg")
    assert part.data is None
    assert part.url == "https://example.invalid/cat.jpg"
    assert part.media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: ImagePart.from_path(p / "missing.png"), "does not exist"),
        (lambda p: ImagePart.from_bytes(b"just some text"), "is not an image"),
        (lambda p: ImagePart.from_url("data:image/png;base64,@@@"), "not valid base64"),
        (lambda p: ImagePart.from_url("ftp://x/y.png"), "unsupported image URL"),
    ],
)
def test_bad_images_fail_clearly(tmp_path: Path, make: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        make(tmp_path)  # type: ignore[operator]


def test_message_helpers_and_text() -> None:
    msg = Message.user("hello", ImagePart.from_bytes(_png()))
    assert msg.text == "hello"
    assert len(msg.images) == 1
    assert Message.system("be brief").content == (TextPart(text="be brief"),)
    call = ToolCall(id="c1", name="calc", arguments='{"x": 1}')
    assert Message.assistant("", (call,)).tool_calls[0].parsed_arguments() == {"x": 1}
    assert Message.tool("c1", "2", name="calc").tool_call_id == "c1"


def test_request_from_prompt_puts_system_first() -> None:
    req = Request.from_prompt("hi", system="sys", model="fake/echo")
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.model == "fake/echo"
    assert req.with_changes(model="x/y").model == "x/y"


def test_sampling_params_are_validated() -> None:
    with pytest.raises(ValueError, match="temperature"):
        Request.from_prompt("hi", params={"temperature": 5})
