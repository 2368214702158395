"""Scene graphs of the Shapes domain and their random sampler.

A scene is a list of objects (shape, colour, size class, diameter d, top-left corner, fill
colour); the renderer draws it and the caption generator describes it. Placement follows the
spec: 1-4 objects, bounding boxes at least 2 px apart and at least 2 px inside the canvas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ml_engine.data import spec


@dataclass(frozen=True)
class SceneObject:
    shape: str
    color: str
    size: str  # "small" | "large"
    d: int  # the shape's nominal diameter in px
    x0: int  # top-left corner of the bounding box
    y0: int
    fill: tuple[int, int, int]  # the jittered fill colour actually drawn

    @property
    def width(self) -> float:
        return float(self.d)

    @property
    def height(self) -> float:
        return spec.triangle_height(self.d) if self.shape == "triangle" else float(self.d)

    @property
    def cx(self) -> float:
        return self.x0 + self.width / 2

    @property
    def cy(self) -> float:
        return self.y0 + self.height / 2

    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x0 + self.width, self.y0 + self.height)


@dataclass
class Scene:
    objects: list[SceneObject] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"objects": [asdict(o) for o in self.objects]}

    @classmethod
    def from_json(cls, data: dict) -> Scene:
        return cls([SceneObject(**{**o, "fill": tuple(o["fill"])}) for o in data["objects"]])


def boxes_apart(a: tuple[float, ...], b: tuple[float, ...], gap: float = spec.MIN_GAP) -> bool:
    """True when two boxes (x0, y0, x1, y1) are at least `gap` apart along some axis."""
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def clear_relation(a: SceneObject, b: SceneObject) -> str | None:
    """The relation of a to b that a caption may name: >= 8 px on its axis, dominant over the other axis."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    if abs(dx) >= spec.RELATION_RENDER_OFFSET and abs(dy) <= abs(dx):
        return "left of" if dx > 0 else "right of"
    if abs(dy) >= spec.RELATION_RENDER_OFFSET and abs(dx) <= abs(dy):
        return "above" if dy > 0 else "below"
    return None


def jittered_fill(color: str, rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(spec.PALETTE[color])
    jitter = rng.integers(-spec.FILL_JITTER, spec.FILL_JITTER + 1, size=3)
    return tuple(int(v) for v in np.clip(base + jitter, 0, 255))


def free_spot(
    shape: str, d: int, placed: list[SceneObject], rng: np.random.Generator, tries: int = 60
) -> tuple[int, int] | None:
    height = spec.triangle_height(d) if shape == "triangle" else d
    lo = spec.MIN_GAP
    hi_x = spec.CANVAS - spec.MIN_GAP - d
    hi_y = int(np.floor(spec.CANVAS - spec.MIN_GAP - height))
    for _ in range(tries):
        x0, y0 = int(rng.integers(lo, hi_x + 1)), int(rng.integers(lo, hi_y + 1))
        box = (x0, y0, x0 + d, y0 + height)
        if all(boxes_apart(box, o.box()) for o in placed):
            return x0, y0
    return None


def sample_scene(
    rng: np.random.Generator,
    n_objects: int | None = None,
    repeat_shape_prob: float = 0.35,
) -> Scene:
    """A random scene. `repeat_shape_prob` draws extra objects from shapes already present,
    so that counting captions ("three crosses") have scenes to describe."""
    while True:
        n = n_objects or int(rng.integers(spec.MIN_OBJECTS, spec.MAX_OBJECTS + 1))
        objects: list[SceneObject] = []
        for _ in range(n):
            if objects and rng.random() < repeat_shape_prob:
                shape = objects[int(rng.integers(len(objects)))].shape
            else:
                shape = spec.SHAPES[int(rng.integers(len(spec.SHAPES)))]
            color = spec.COLORS[int(rng.integers(len(spec.COLORS)))]
            size = spec.SIZES[int(rng.integers(2))]
            lo, hi = spec.SIZE_RANGE[size]
            d = int(rng.integers(lo, hi + 1))
            spot = free_spot(shape, d, objects, rng)
            if spot is None:
                break
            objects.append(SceneObject(shape, color, size, d, spot[0], spot[1], jittered_fill(color, rng)))
        if len(objects) == n:
            return Scene(objects)
