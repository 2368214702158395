"""Fresh evaluation prompts drawn from the spec's canonical grammar (and their paraphrases).

Each prompt is a `Requirement` (what must be in the image) plus its text; the canonical text is
the spec's form, the paraphrase a true rewording outside it ("a violet plus sign on the left of
a big box"). Prompts within a category are distinct; the set is fixed by its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_engine.data import spec
from ml_engine.data.captions import Item, Requirement, canonical_text, paraphrase_text


@dataclass(frozen=True)
class EvalPrompt:
    text: str
    requirement: Requirement
    repeat: int = 0  # > 0 when the grammar ran out of distinct prompts: the same prompt again, with other seeds


def _two(options, rng) -> tuple:
    a, b = rng.choice(len(options), size=2, replace=False)
    return options[int(a)], options[int(b)]


def sample_requirement(category: str, rng: np.random.Generator) -> Requirement:
    shapes, colors = spec.SHAPES, spec.COLORS
    one = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    if category == "single_object":
        return Requirement(category, (Item(one(shapes)),))
    if category == "two_object":
        s1, s2 = _two(shapes, rng)
        return Requirement(category, (Item(s1), Item(s2)))
    if category == "counting":
        return Requirement(category, (Item(one(shapes)),), count=int(rng.integers(2, 5)))
    if category == "colors":
        return Requirement(category, (Item(one(shapes), one(colors)),))
    if category == "position":
        s1, s2 = _two(shapes, rng)
        return Requirement(category, (Item(s1), Item(s2)), relation=one(spec.RELATIONS))
    if category == "color_attr":
        (s1, s2), (c1, c2) = _two(shapes, rng), _two(colors, rng)
        return Requirement(category, (Item(s1, c1), Item(s2, c2)))
    if category == "size":
        return Requirement(category, (Item(one(shapes), one(colors), one(spec.SIZES)),))
    if category == "composite":
        (s1, s2), (c1, c2) = _two(shapes, rng), _two(colors, rng)
        return Requirement(category, (Item(s1, c1), Item(s2, c2)), relation=one(spec.RELATIONS))
    raise ValueError(f"unknown category {category!r}")


def _reworded(req: Requirement, rng: np.random.Generator) -> str:
    """A paraphrase that differs from the canonical text (some rewordings happen to coincide with it)."""
    canonical = canonical_text(req)
    for _ in range(50):
        text = paraphrase_text(req, rng)
        if text != canonical:
            return text
    return text


def prompt_set(
    per_category: int,
    seed: int = 0,
    categories: tuple[str, ...] = spec.CATEGORIES,
    paraphrase: bool = False,
) -> list[EvalPrompt]:
    """`per_category` prompts per category, distinct while the grammar allows (it has only 4 single-object
    prompts, 12 two-object and 12 counting ones); after that the distinct ones repeat, to be run with other
    seeds, so that every category is scored on the same number of images."""
    rng = np.random.default_rng(seed)
    prompts = []
    for category in categories:
        distinct: list[EvalPrompt] = []
        seen: set[Requirement] = set()
        for _ in range(per_category * 100):
            if len(distinct) == per_category:
                break
            req = sample_requirement(category, rng)
            if req not in seen:
                seen.add(req)
                distinct.append(EvalPrompt(_reworded(req, rng) if paraphrase else canonical_text(req), req))
        repeats = [
            EvalPrompt(p.text, p.requirement, repeat=1 + i // len(distinct))
            for i, p in enumerate(distinct * (per_category // len(distinct) + 1))
        ][: per_category - len(distinct)]
        prompts.extend(distinct + repeats)
    return prompts
