"""Per-category pass rates, GenEval style: each image passes or fails; a category's score is the
share of its images that pass; `overall` is the mean of the six core categories."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ml_engine.data import spec
from ml_engine.data.captions import Requirement
from ml_engine.evaluation.parse import detect_objects
from ml_engine.evaluation.rules import passes


def pass_flags(images, requirements: list[Requirement]) -> list[bool]:
    return [passes(req, detect_objects(np.asarray(img))) for img, req in zip(images, requirements, strict=True)]


def summarize(flags: list[bool], requirements: list[Requirement]) -> dict[str, float]:
    by_category: dict[str, list[bool]] = defaultdict(list)
    for ok, req in zip(flags, requirements, strict=True):
        by_category[req.category].append(ok)
    scores = {c: float(np.mean(v)) for c, v in by_category.items()}
    core = [scores[c] for c in spec.CORE_CATEGORIES if c in scores]
    if core:
        scores["overall"] = float(np.mean(core))
    return scores


def score_images(images, requirements: list[Requirement]) -> dict[str, float]:
    return summarize(pass_flags(images, requirements), requirements)
