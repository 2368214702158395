"""Counterfactual scenes: a scene edited in one detail until a caption that was true of it is false.

Near-miss captions (data/negatives.py) hold the picture fixed and change the words. Ranking does the opposite: it
holds the caption fixed and compares pictures, the diffusion model's candidates, which differ in where the
objects went, how many there are and which colour landed on which shape. A counterfactual is that comparison
as a training pair: the same objects mirrored or swapped in place, one object dropped, added or recoloured, so
the only thing that tells the true picture from the false one is the detail the caption names (cf. the
counterfactual image pairs of Winoground, Thrush et al., 2022). Each edit keeps the spec's placement rules and
is checked false against the caption with the spec's own rule; the edited graph is rendered like any scene.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ml_engine.data import spec
from ml_engine.data.captions import Requirement, passes
from ml_engine.data.negatives import other_than
from ml_engine.data.scene import Scene, SceneObject, boxes_apart, free_spot, jittered_fill

Edit = Callable[[list[SceneObject], np.random.Generator], list[SceneObject] | None]


def _moved(obj: SceneObject, cx: float, cy: float) -> SceneObject:
    return dataclasses.replace(obj, x0=int(round(cx - obj.width / 2)), y0=int(round(cy - obj.height / 2)))


def _pair(objects: list[SceneObject], rng: np.random.Generator) -> tuple[int, int] | None:
    if len(objects) < 2:
        return None
    i, j = rng.choice(len(objects), size=2, replace=False)
    return int(i), int(j)


def mirror_x(objects, rng):
    return [_moved(o, spec.CANVAS - o.cx, o.cy) for o in objects]


def mirror_y(objects, rng):
    return [_moved(o, o.cx, spec.CANVAS - o.cy) for o in objects]


def _swapped(objects, rng, exchange):
    """Two objects drawn at random, each given what `exchange(mine, theirs)` takes from the other."""
    pair = _pair(objects, rng)
    if pair is None:
        return None
    i, j = pair
    edited = list(objects)
    edited[i], edited[j] = exchange(objects[i], objects[j]), exchange(objects[j], objects[i])
    return edited


def swap_places(objects, rng):
    return _swapped(objects, rng, lambda mine, theirs: _moved(mine, theirs.cx, theirs.cy))


def swap_colors(objects, rng):
    return _swapped(objects, rng, lambda mine, theirs: dataclasses.replace(mine, color=theirs.color, fill=theirs.fill))


def recolor_one(objects, rng):
    i = int(rng.integers(len(objects)))
    color = other_than(spec.COLORS, objects[i].color, rng)
    recolored = dataclasses.replace(objects[i], color=color, fill=jittered_fill(color, rng))
    return [*objects[:i], recolored, *objects[i + 1 :]]


def reshape_one(objects, rng):
    i = int(rng.integers(len(objects)))
    obj = objects[i]
    reshaped = dataclasses.replace(obj, shape=other_than(spec.SHAPES, obj.shape, rng))
    return [*objects[:i], _moved(reshaped, obj.cx, obj.cy), *objects[i + 1 :]]


def resize_one(objects, rng):
    i = int(rng.integers(len(objects)))
    obj = objects[i]
    size = other_than(spec.SIZES, obj.size, rng)
    lo, hi = spec.SIZE_RANGE[size]
    resized = dataclasses.replace(obj, size=size, d=int(rng.integers(lo, hi + 1)))
    return [*objects[:i], _moved(resized, obj.cx, obj.cy), *objects[i + 1 :]]


def move_one(objects, rng):
    """One object put somewhere else that is free."""
    i = int(rng.integers(len(objects)))
    obj, others = objects[i], [*objects[:i], *objects[i + 1 :]]
    spot = free_spot(obj.shape, obj.d, others, rng)
    return None if spot is None else [*others, dataclasses.replace(obj, x0=spot[0], y0=spot[1])]


def drop_one(objects, rng):
    if len(objects) <= spec.MIN_OBJECTS:
        return None
    i = int(rng.integers(len(objects)))
    return [*objects[:i], *objects[i + 1 :]]


def add_one(objects, rng):
    """Another object like one already there (the count of its shape goes up by one)."""
    if len(objects) >= spec.MAX_OBJECTS:
        return None
    like = objects[int(rng.integers(len(objects)))]
    color = spec.COLORS[int(rng.integers(len(spec.COLORS)))]
    size = spec.SIZES[int(rng.integers(2))]
    d = int(rng.integers(spec.SIZE_RANGE[size][0], spec.SIZE_RANGE[size][1] + 1))
    spot = free_spot(like.shape, d, objects, rng)
    if spot is None:
        return None
    return [*objects, SceneObject(like.shape, color, size, d, spot[0], spot[1], jittered_fill(color, rng))]


# the edits that change what each category's caption names, tried first; then any edit that makes it false
FIRST: dict[str, tuple[Edit, ...]] = {
    "counting": (drop_one, add_one, reshape_one),
    "position": (mirror_x, mirror_y, swap_places, move_one),
    "composite": (mirror_x, mirror_y, swap_places, move_one, swap_colors),
    "color_attr": (swap_colors, recolor_one),
    "colors": (recolor_one, swap_colors),
    "size": (resize_one,),
    "two_object": (reshape_one, drop_one),
    "single_object": (reshape_one,),
}
ALL_EDITS: tuple[Edit, ...] = (
    mirror_x,
    mirror_y,
    swap_places,
    move_one,
    swap_colors,
    recolor_one,
    reshape_one,
    resize_one,
    drop_one,
    add_one,
)
TRIES = 12


def valid(objects: list[SceneObject]) -> bool:
    """The spec's placement: every box at least MIN_GAP inside the canvas and apart from every other box."""
    gap, far = spec.MIN_GAP, spec.CANVAS - spec.MIN_GAP
    inside = all(o.x0 >= gap and o.y0 >= gap and o.x0 + o.width <= far and o.y0 + o.height <= far for o in objects)
    return inside and all(boxes_apart(a.box(), b.box()) for k, a in enumerate(objects) for b in objects[k + 1 :])


def counterfactual(req: Requirement, scene: Scene, rng: np.random.Generator) -> Scene | None:
    """`scene` edited in one detail so that `req` (true of it) is false, or None when a few tries find none."""
    first = list(FIRST.get(req.category, ()))
    rng.shuffle(first)
    rest = [ALL_EDITS[int(k)] for k in rng.permutation(len(ALL_EDITS))]
    for edit in [*first, *first, *rest][:TRIES]:  # the category's own edits get two tries each (they are random)
        edited = edit(scene.objects, rng)
        if edited is not None and valid(edited) and not passes(req, edited):
            return Scene(edited)
    return None
