"""Parse a Shapes image into objects, by the spec's evaluator rules.

Foreground = RGB distance to the background over 80; objects = 4-connected foreground regions
(specks under MIN_AREA px are noise); colour = the palette colour nearest the region's median;
size = small when the longer bbox side is under 19 px; shape from three mask features:
  - vertical asymmetry (a triangle pointing up has ~3/4 of its area in the lower half),
  - fill ratio of the bbox (square ~1.0, disc ~0.79, cross ~0.56),
  - corner-quadrant occupancy (a cross leaves the four corner ninths empty, a disc does not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ml_engine.data import spec

MIN_AREA = 20

_PALETTE_NAMES = list(spec.PALETTE)
_PALETTE = np.array([spec.PALETTE[n] for n in _PALETTE_NAMES], dtype=np.float32)
_BACKGROUND = np.array(spec.BACKGROUND, dtype=np.float32)


@dataclass(frozen=True)
class DetectedObject:
    shape: str
    color: str
    size: str
    cx: float
    cy: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    area: int


def foreground_mask(image: np.ndarray) -> np.ndarray:
    distance = np.linalg.norm(image.astype(np.float32) - _BACKGROUND, axis=-1)
    return distance > spec.FOREGROUND_DISTANCE


def classify_shape(mask: np.ndarray) -> str:
    """Shape of one object's cropped boolean mask."""
    h, w = mask.shape
    area = mask.sum()
    rows = mask.sum(axis=1)
    top, bottom = rows[: h // 2].sum(), rows[(h + 1) // 2 :].sum()
    asymmetry = (bottom - top) / max(area, 1)
    if asymmetry > 0.22:
        return "triangle"
    fill = area / (h * w)
    if fill > 0.9:
        return "square"
    corners = [
        mask[: h // 3, : w // 3],
        mask[: h // 3, -(w // 3) :],
        mask[-(h // 3) :, : w // 3],
        mask[-(h // 3) :, -(w // 3) :],
    ]
    corner_fill = np.mean([c.mean() for c in corners]) if h >= 3 and w >= 3 else 1.0
    if corner_fill < 0.12 and fill < 0.7:
        return "cross"
    return "circle"


def nearest_color(rgb: np.ndarray) -> str:
    return _PALETTE_NAMES[int(np.argmin(np.linalg.norm(_PALETTE - rgb, axis=1)))]


def detect_objects(image: np.ndarray | object) -> list[DetectedObject]:
    """Objects in a 64x64 RGB image (uint8 array or PIL image)."""
    image = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    mask = foreground_mask(image)
    labels, n = ndimage.label(mask)  # 4-connectivity: a 2 px gap never joins two objects
    objects = []
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is None:
            continue
        region = labels[window] == index
        area = int(region.sum())
        if area < MIN_AREA:
            continue
        ys, xs = window
        color = nearest_color(np.median(image[window][region].astype(np.float32), axis=0))
        height, width = region.shape
        size = "small" if max(height, width) < spec.SMALL_BELOW else "large"
        objects.append(
            DetectedObject(
                shape=classify_shape(region),
                color=color,
                size=size,
                cx=(xs.start + xs.stop) / 2,
                cy=(ys.start + ys.stop) / 2,
                box=(xs.start, ys.start, xs.stop, ys.stop),
                area=area,
            )
        )
    return objects
