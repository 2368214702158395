"""Reading A1111 infotext, the `parameters` text chunk every studio PNG carries (generation/pngs.py writes it):

    <prompt>
    Negative prompt: <negative>
    Steps: 8, Sampler: UniPC, CFG scale: 4, Seed: 7, Size: 64x64, Model: diffusion

parsed as A1111's `parse_generation_parameters` does: {"Prompt", "Negative prompt", "Steps", ..., "Size-1",
"Size-2"}. Only the PNG's text chunks are read, never its pixels, so a huge or hostile image costs nothing.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image, UnidentifiedImageError

_SETTING = re.compile(r'\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def image_bytes(value: str) -> bytes:
    """A base64 image as A1111 takes it: bare base64 or a data: URL."""
    if not isinstance(value, str) or not value:
        raise ValueError("image must be a base64 string or a data: URL")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    if len(value) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ValueError(f"image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("image is not valid base64") from None


def image_parameters(data: bytes) -> str:
    """The image's infotext ("" when it has none); a ValueError for bytes that are no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            text = image.info.get("parameters", "")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValueError("image is not a picture PIL can read") from None
    return text if isinstance(text, str) else ""


def parse_infotext(text: str) -> dict[str, str]:
    if not text:
        return {}
    lines = text.strip().split("\n")
    settings_line = lines.pop() if lines and _SETTING.findall(lines[-1]) and ":" in lines[-1] else ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative, line = True, line.removeprefix("Negative prompt:").strip()
        (negative if in_negative else prompt).append(line)
    parsed = {"Prompt": "\n".join(prompt), "Negative prompt": "\n".join(negative)}
    for key, value in _SETTING.findall(settings_line):
        key, value = key.strip(), value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        size = re.fullmatch(r"(\d+)x(\d+)", value)
        if size:
            parsed[f"{key}-1"], parsed[f"{key}-2"] = size.groups()
        else:
            parsed[key] = value
    return parsed
