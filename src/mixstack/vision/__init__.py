"""Images on the local path: text-only models get the image's text through local OCR."""

from mixstack.vision._ocr import OcrLine, image_to_text, inline_images, ocr_texts, read_lines

__all__ = ["OcrLine", "image_to_text", "inline_images", "ocr_texts", "read_lines"]
