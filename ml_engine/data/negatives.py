"""Hard negative captions: a true requirement changed in one detail until the scene no longer satisfies it.

A discriminator that only ever sees another image's caption as the mismatch learns to check which
shapes are present, and nothing else: a random caption almost always names a missing shape. The
GAN's generator then gets no gradient toward binding, relations or counts, the categories where it
was weakest. A near miss of the true caption (the colours swapped between two objects, the relation
turned round, the count off by one) is mismatched only in that detail, so telling it apart is the
skill the discriminator has to learn (cf. the hard negatives of Radenovic et al., 2023, and the
swapped-attribute negatives of compositional benchmarks such as ARO, Yuksekgonul et al., 2023).
Every negative is checked against the scene graph with the spec's own rule, so it is really false.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ml_engine.data import spec
from ml_engine.data.captions import INVERSE, Item, Requirement, passes
from ml_engine.data.scene import Scene

TRIES = 6


def other_than(options, current, rng: np.random.Generator):
    """One of `options` other than `current`, drawn uniformly."""
    choices = [o for o in options if o != current]
    return choices[int(rng.integers(len(choices)))]


def swap_colors(a: Item, b: Item) -> tuple[Item, Item]:
    """Two items with their colours exchanged (the binding near miss: the same words in another order)."""
    return dataclasses.replace(a, color=b.color), dataclasses.replace(b, color=a.color)


def _recolor(item: Item, rng: np.random.Generator) -> Item:
    return dataclasses.replace(item, color=other_than(spec.COLORS, item.color, rng))


def _reshape(item: Item, rng: np.random.Generator) -> Item:
    return dataclasses.replace(item, shape=other_than(spec.SHAPES, item.shape, rng))


def _near_miss(req: Requirement, rng: np.random.Generator) -> Requirement:
    """One detail of the requirement changed; which detail depends on what the category claims."""
    items = list(req.items)
    if req.count is not None:
        if rng.random() < 0.75:
            return dataclasses.replace(req, count=other_than(tuple(spec.NUMBER_WORDS), req.count, rng))
        return dataclasses.replace(req, items=(_reshape(items[0], rng),))
    if req.relation is not None:
        roll = rng.random()
        if roll < 0.5:
            return dataclasses.replace(req, relation=INVERSE[req.relation])
        if roll < 0.7:
            return dataclasses.replace(req, relation=other_than(spec.RELATIONS, req.relation, rng))
        if items[0].color and roll < 0.85:  # the colours swapped between the related objects
            return dataclasses.replace(req, items=swap_colors(*items))
        i = int(rng.integers(len(items)))
        items[i] = _recolor(items[i], rng) if items[i].color else _reshape(items[i], rng)
        return dataclasses.replace(req, items=tuple(items))
    colored = [i for i, item in enumerate(items) if item.color]
    if len(colored) >= 2 and rng.random() < 0.6:  # binding: two objects' colours swapped
        i, j = rng.choice(colored, size=2, replace=False)
        items[i], items[j] = swap_colors(items[i], items[j])
        return dataclasses.replace(req, items=tuple(items))
    i = int(rng.integers(len(items)))
    item = items[i]
    roll = rng.random()
    if item.size and roll < 0.3:
        items[i] = dataclasses.replace(item, size=other_than(spec.SIZES, item.size, rng))
    elif item.color and roll < 0.8:
        items[i] = _recolor(item, rng)
    else:
        items[i] = _reshape(item, rng)
    return dataclasses.replace(req, items=tuple(items))


def near_miss(req: Requirement, scene: Scene, rng: np.random.Generator) -> Requirement | None:
    """A requirement like `req` but false of the scene, or None when a few tries find none."""
    for _ in range(TRIES):
        candidate = _near_miss(req, rng)
        distinct = len(set(candidate.items)) == len(candidate.items)  # "a circle and a circle" is no caption
        if (distinct or candidate.relation) and not passes(candidate, scene.objects):
            return candidate
    return None
