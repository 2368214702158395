"""The evaluator's ceiling: fresh renders scored against their own true canonical captions.

The spec requires >= 0.99 in every category; it is the bound that generated images are measured
against, and the check that the evaluator is right.
"""

from __future__ import annotations

import numpy as np

from ml_engine.data import spec
from ml_engine.data.captions import requirement_from_scene
from ml_engine.data.render import render
from ml_engine.data.scene import sample_scene
from ml_engine.evaluation.scoring import score_images


def ceiling_scores(per_category: int = 200, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    images, requirements = [], []
    for category in spec.CATEGORIES:
        found = 0
        while found < per_category:
            scene = sample_scene(rng)
            req = requirement_from_scene(category, scene, rng)
            if req is None:
                continue
            images.append(render(scene))
            requirements.append(req)
            found += 1
    return score_images(images, requirements)
