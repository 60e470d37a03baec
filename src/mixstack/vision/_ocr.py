"""Images for text-only models: local OCR (`rapidocr-onnxruntime`, models inside the package).

The text comes back as lines in reading order with layout hints (where on the image a line
sits, and wide gaps between columns shown as ` | `), so a text-only model can still answer
questions about a screenshot or a scanned page.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from mixstack._cpu import default_threads
from mixstack._types import ContentPart, ImagePart, Request, TextPart
from mixstack.errors import InvalidRequestError, ModelUnavailableError

__all__ = ["MAX_PIXELS", "OcrLine", "image_to_text", "inline_images", "ocr_texts", "read_lines"]

#: images larger than this are refused before their pixels are decoded (4096 x 4096): a
#: small compressed file can unpack to gigabytes and minutes of OCR
MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    top: float  # 0..1 of the image height
    left: float  # 0..1 of the image width


#: text detection enlarges an image until its short side is this long. RapidOCR's default
#: (736) made an 80-pixel-high screenshot 4784 x 736 and its OCR 10-19 s on 2 busy cores;
#: at 320 it takes 0.6-1.7 s and reads the same text (PaddleOCR enlarges nothing).
DETECTION_SHORT_SIDE = 320


@functools.cache
def _engine() -> Any:
    """The OCR engine, created once per process on first use (its models load then), with
    as many threads as the CPUs not busy with other work (`mixstack._cpu`)."""
    try:
        from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ModelUnavailableError(
            "local OCR needs the package rapidocr-onnxruntime; "
            "run `pip install rapidocr-onnxruntime` (or `make demo`)."
        ) from exc
    return RapidOCR(det_limit_side_len=DETECTION_SHORT_SIDE, intra_op_num_threads=default_threads())


def _decode(image: ImagePart) -> Any:
    if image.data is None:
        raise InvalidRequestError(
            f"image {image.source or image.url!r} is a remote URL and the chosen model is "
            "text-only; mixstack does not download images: attach the file instead."
        )
    from PIL import Image, UnidentifiedImageError

    name = image.source or ""
    try:
        # `open` reads the header only: the size is known before any pixel is decoded. The
        # limit below is ours (PIL's own warns at 89 MP and refuses past 179 MP)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image.data)) as img:
                _check_size(name, *img.size)
                return img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise _too_large(name, str(exc)) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidRequestError(
            f"image {name!r} could not be decoded ({exc}); pass a valid image file.",
            code="invalid_image",
        ) from exc


def _check_size(name: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise _too_large(name, f"{width}x{height} pixels")


def _too_large(name: str, size: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"image {name!r} is too large ({size}); local OCR reads at most {MAX_PIXELS} pixels: "
        "scale it down to 4096x4096 or less.",
        code="image_too_large",
    )


#: OCR results by the image's content hash: the guard reads an image's text before routing
#: and the adapt stage again for a text-only model (and an agent resends it every step)
_READ: OrderedDict[bytes, tuple[list[OcrLine], tuple[int, int]]] = OrderedDict()
_READ_LOCK = threading.Lock()
_READ_KEPT = 64


def read_lines(image: ImagePart) -> tuple[list[OcrLine], tuple[int, int]]:
    """OCR boxes merged into lines, top to bottom, left to right (read once per content)."""
    key = hashlib.sha256(image.data).digest() if image.data is not None else None
    if key is not None:
        with _READ_LOCK:
            found = _READ.get(key)
            if found is not None:
                _READ.move_to_end(key)
                return list(found[0]), found[1]
    read = _read_lines(image)
    if key is not None:
        with _READ_LOCK:
            _READ[key] = read
            while len(_READ) > _READ_KEPT:
                _READ.popitem(last=False)
    return list(read[0]), read[1]


def _read_lines(image: ImagePart) -> tuple[list[OcrLine], tuple[int, int]]:
    import numpy as np

    picture = _decode(image)
    width, height = picture.size
    result, _elapsed = _engine()(np.asarray(picture))
    boxes = []
    for box, text, _score in result or []:
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        boxes.append((min(ys), max(ys), min(xs), max(xs), str(text)))
    boxes.sort(key=lambda b: ((b[0] + b[1]) / 2, b[2]))
    lines: list[list[tuple[float, float, float, float, str]]] = []
    for box in boxes:
        center = (box[0] + box[1]) / 2
        if lines:
            last = lines[-1]
            top = min(b[0] for b in last)
            bottom = max(b[1] for b in last)
            if top <= center <= bottom:
                last.append(box)
                continue
        lines.append([box])
    out = []
    for line in lines:
        line.sort(key=lambda b: b[2])
        pieces = [line[0][4]]
        char_w = max((line[0][3] - line[0][2]) / max(len(line[0][4]), 1), 1.0)
        for prev, cur in itertools.pairwise(line):
            gap = cur[2] - prev[3]
            pieces.append(" | " if gap > 3 * char_w else " ")
            pieces.append(cur[4])
        out.append(OcrLine("".join(pieces), line[0][0] / height, line[0][2] / width))
    return out, (width, height)


def _region(top: float) -> str:
    return "top" if top < 1 / 3 else "middle" if top < 2 / 3 else "bottom"


def image_to_text(image: ImagePart) -> str:
    lines, (width, height) = read_lines(image)
    name = image.source or "image"
    header = f"[image {name}, {width}x{height} px; text read by OCR, top to bottom]"
    if not lines:
        return header + "\n(no text found in the image)"
    body = [f"({_region(line.top)}) {line.text}" for line in lines]
    return "\n".join([header, *body, "[end of image text]"])


def inline_images(request: Request) -> Request:
    """The request with every image replaced by its OCR text (for text-only models)."""
    messages = []
    for message in request.messages:
        if not message.images:
            messages.append(message)
            continue
        parts: list[ContentPart] = []
        for part in message.content:
            if isinstance(part, ImagePart):
                parts.append(TextPart(text=image_to_text(part)))
            else:
                parts.append(part)
        messages.append(message.model_copy(update={"content": tuple(parts)}))
    return request.with_changes(messages=tuple(messages))


def ocr_texts(original: Request, adapted: Request) -> tuple[str, ...]:
    """The texts that replaced the images (same message and part positions)."""
    out = []
    for before, after in zip(original.messages, adapted.messages, strict=True):
        for part, text in zip(before.content, after.content, strict=True):
            if isinstance(part, ImagePart) and isinstance(text, TextPart):
                out.append(text.text)
    return tuple(out)
