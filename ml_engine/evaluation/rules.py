"""GenEval-style pass/fail rules of the Shapes spec: does a parsed image satisfy a requirement?"""

from __future__ import annotations

from ml_engine.data import spec
from ml_engine.data.captions import Item, Requirement
from ml_engine.evaluation.parse import DetectedObject


def holds(relation: str, a: DetectedObject, b: DetectedObject) -> bool:
    """`a <relation> b` by centre offsets (image y grows downwards)."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    m = spec.RELATION_MIN_OFFSET
    return {"left of": dx >= m, "right of": -dx >= m, "above": dy >= m, "below": -dy >= m}[relation]


def _matches(item: Item, obj: DetectedObject) -> bool:
    return item.matches(obj.shape, obj.color, obj.size)


def passes(req: Requirement, objects: list[DetectedObject]) -> bool:
    if req.count is not None:
        return sum(o.shape == req.items[0].shape for o in objects) == req.count
    if req.relation is not None:
        first, second = req.items
        return any(
            a is not b and _matches(first, a) and _matches(second, b) and holds(req.relation, a, b)
            for a in objects
            for b in objects
        )
    return _assign(list(req.items), objects)


def _assign(items: list[Item], objects: list[DetectedObject]) -> bool:
    """True when each item is matched by a distinct object (tiny backtracking search)."""
    if not items:
        return True
    head, rest = items[0], items[1:]
    return any(_matches(head, o) and _assign(rest, [x for x in objects if x is not o]) for o in objects)
