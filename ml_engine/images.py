"""Conversions between uint8 images and the model range [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_model_range(pixels_255: torch.Tensor) -> torch.Tensor:
    return pixels_255 / 127.5 - 1


def from_model_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] float, rounded and clamped like a saved PNG."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round()


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    """A batch [B, 3, H, W] in [-1, 1] -> PIL images."""
    arrays = from_model_range(x.float()).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(np.ascontiguousarray(a)) for a in arrays]


def grid(images: list[Image.Image], columns: int) -> Image.Image:
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * w, rows * h), (255, 255, 255))
    for i, img in enumerate(images):
        sheet.paste(img, ((i % columns) * w, (i // columns) * h))
    return sheet
