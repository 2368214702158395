"""Why an image fails its caption: the kind of error, so that a score also says what to fix.

- a count: `too few` or `too many` objects of the named shape;
- a relation (position, composite): `object missing` when either named object is not drawn as named,
  else `relation wrong`;
- objects with attributes (two objects, colours, binding, size): `object missing` when a named shape is
  not there at all, else `attribute wrong` (the shapes are there, a colour or a size is not).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from ml_engine.data.captions import Requirement, passes

TOO_FEW, TOO_MANY = "too few", "too many"
OBJECT_MISSING, RELATION_WRONG, ATTRIBUTE_WRONG = "object missing", "relation wrong", "attribute wrong"


def failure_kind(req: Requirement, objects: list) -> str | None:
    """None when the image passes, else what went wrong (one of the kinds above)."""
    if passes(req, objects):
        return None
    if req.count is not None:
        drawn = sum(o.shape == req.items[0].shape for o in objects)
        return TOO_FEW if drawn < req.count else TOO_MANY
    if req.relation is not None:
        drawn = all(passes(Requirement(req.category, (item,)), objects) for item in req.items)
        return RELATION_WRONG if drawn else OBJECT_MISSING
    shapes_only = tuple(dataclasses.replace(item, color=None, size=None) for item in req.items)
    return ATTRIBUTE_WRONG if passes(dataclasses.replace(req, items=shapes_only), objects) else OBJECT_MISSING


def failure_counts(requirements: list[Requirement], detections: list[list]) -> dict[str, dict[str, int]]:
    """Per category: how many images failed, by kind."""
    counts: dict[str, Counter] = {}
    for req, objects in zip(requirements, detections, strict=True):
        kind = failure_kind(req, objects)
        if kind is not None:
            counts.setdefault(req.category, Counter())[kind] += 1
    return {category: dict(kinds.most_common()) for category, kinds in counts.items()}
