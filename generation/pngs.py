"""Image encoding: PNGs with AUTOMATIC1111-style infotext in a `parameters` tEXt chunk; previews as small WebP
data: URLs (a fraction of the PNG's bytes, for a picture the browser only shows while it paints)."""

from __future__ import annotations

import base64
import io

from PIL import Image
from PIL.PngImagePlugin import PngInfo


def infotext(
    *,
    prompt: str,
    negative_prompt: str,
    steps: int,
    sampler: str,
    guidance: float,
    seed: int,
    width: int,
    height: int,
    model: str,
) -> str:
    """`<prompt>\\nNegative prompt: ...\\nSteps: 20, Sampler: ..., CFG scale: 4, Seed: 7, Size: 64x64, Model: ...`"""
    lines = [prompt]
    if negative_prompt:
        lines.append(f"Negative prompt: {negative_prompt}")
    settings = [
        f"Steps: {steps}",
        f"Sampler: {sampler}",
        f"CFG scale: {guidance:g}",
        f"Seed: {seed}",
        f"Size: {width}x{height}",
        f"Model: {model}",
    ]
    lines.append(", ".join(settings))
    return "\n".join(lines)


def image_infotext(image) -> str:
    """The infotext of a GeneratedImage (saved or not): its prompt's settings, its own seed and size, its model."""
    prompt, version = image.prompt, image.model_version
    return infotext(
        prompt=prompt.text_content,
        negative_prompt=prompt.negative_prompt,
        steps=prompt.steps,
        sampler=prompt.sampler or version.sampler_name,
        guidance=prompt.guidance,
        seed=image.seed,
        width=image.width,
        height=image.height,
        model=version.version_name,
    )


def png_bytes(image: Image.Image, *, parameters: str | None = None) -> bytes:
    info = PngInfo()
    if parameters is not None:
        info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=1)  # the fastest zlib level
    return buffer.getvalue()


def preview_data_url(image: Image.Image | None) -> str:
    if image is None:
        return ""
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=80, method=0)  # method 0: the fastest encoder setting
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
