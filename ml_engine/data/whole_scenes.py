"""Scenes drawn for a caption category, so that a caption of that category describes the whole scene.

A random scene of 1-4 objects is mostly captioned in part: "a circle to the left of a square" may sit
among two more objects, and "three crosses" beside a circle. Every such caption is true (the spec allows
partial captions), but a caption that names every object ties each word to a region far more directly:
the layout a model must learn for "a circle to the left of a square" is then the whole image, not one
pair among several. Both models stayed near 0.5 on counting and position with partial captions alone.

`whole_scene(category, rng)` draws a scene with exactly the objects a caption of `category` names (one
for single_object, colors and size; two for the pair categories; two to four of one shape for counting)
and keeps drawing until such a caption exists (two different shapes, two colours, a clear relation).
The scene is still a scene of the spec, rendered and captioned truthfully by the same code; nothing here
reads a caption.
"""

from __future__ import annotations

import numpy as np

from ml_engine.data.captions import TRAINING_CATEGORY_WEIGHTS, requirement_from_scene
from ml_engine.data.scene import Scene, sample_scene

OBJECT_COUNTS = {
    "single_object": (1,),
    "colors": (1,),
    "size": (1,),
    "two_object": (2,),
    "color_attr": (2,),
    "position": (2,),
    "composite": (2,),
    "counting": (2, 3, 4),
    "scene": (2, 3, 4),
}


def whole_scene(category: str, rng: np.random.Generator) -> Scene:
    """A scene that a caption of `category` describes whole (every object it holds is named)."""
    counts = OBJECT_COUNTS[category]
    while True:
        n = counts[int(rng.integers(len(counts)))]
        # counting wants every object of one shape; the pair categories want (mostly) different shapes
        scene = sample_scene(rng, n_objects=n, repeat_shape_prob=1.0 if category == "counting" else 0.0)
        if requirement_from_scene(category, scene, rng) is not None:
            return scene


def planned_categories(
    size: int, share: float, rng: np.random.Generator, weights: dict[str, float] | None = None
) -> list[str | None]:
    """For each scene of a pool: the category it is drawn whole for (a `share` of them, by weight), or None."""
    weights = weights or TRAINING_CATEGORY_WEIGHTS
    names = [n for n in weights if n in OBJECT_COUNTS and weights[n] > 0]
    p = np.array([weights[n] for n in names], dtype=np.float64)
    drawn = rng.choice(len(names), size=size, p=p / p.sum())
    planned = rng.random(size) < share
    return [names[k] if keep else None for k, keep in zip(drawn, planned, strict=True)]
