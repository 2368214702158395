"""Captions of the Shapes domain: structured requirements and their wordings.

A `Requirement` is what a caption claims about an image (objects with optional colour and size,
an exact count, or a relation between two objects). The same structure is (1) drawn from a
scene's graph to caption training images, always truthfully, (2) drawn from the grammar to make
fresh evaluation prompts, and (3) checked by the evaluator against the objects it parses from an
image. Text is produced from it in the spec's canonical form or in richer paraphrases
(synonyms, "on the left of", "next to", "big", "tiny", ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ml_engine.data import spec
from ml_engine.data.scene import Scene, SceneObject, clear_relation


@dataclass(frozen=True)
class Item:
    shape: str
    color: str | None = None
    size: str | None = None

    def matches(self, shape: str, color: str, size: str) -> bool:
        return self.shape == shape and self.color in (None, color) and self.size in (None, size)


@dataclass(frozen=True)
class Requirement:
    category: str  # one of spec.CATEGORIES, or "scene" for a whole-scene description
    items: tuple[Item, ...]
    count: int | None = None  # counting: exactly this many of items[0].shape
    relation: str | None = None  # items[0] <relation> items[1]

    def to_json(self) -> dict:
        return {
            "category": self.category,
            "items": [asdict(i) for i in self.items],
            "count": self.count,
            "relation": self.relation,
        }

    @classmethod
    def from_json(cls, data: dict) -> Requirement:
        items = tuple(Item(**i) for i in data["items"])
        return cls(data["category"], items, data.get("count"), data.get("relation"))


# ---------------------------------------------------------------- wording

SHAPE_WORDS = {
    "circle": ("circle", "disc"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "cross": ("cross", "plus sign"),
}
PLURAL_WORDS = {
    "circle": "circles",
    "disc": "discs",
    "square": "squares",
    "box": "boxes",
    "triangle": "triangles",
    "cross": "crosses",
    "plus sign": "plus signs",
}
COLOR_WORDS = {"purple": ("purple", "violet"), "cyan": ("cyan", "turquoise")}
SIZE_WORDS = {"small": ("small", "tiny", "little"), "large": ("large", "big")}
RELATION_WORDS = {
    "left of": ("to the left of", "on the left of", "left of"),
    "right of": ("to the right of", "on the right of", "right of"),
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
}
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
DIGITS = {2: "2", 3: "3", 4: "4"}


def _noun_phrase(item: Item) -> str:
    return " ".join(w for w in (item.size, item.color, item.shape) if w)


def canonical_text(req: Requirement) -> str:
    """The spec's canonical caption form (note: always "a", even before "orange")."""
    return canonical_parts(req)[0]


def canonical_parts(req: Requirement) -> tuple[str, list[tuple[int, str]]]:
    """The canonical caption, and each item's index and noun phrase (no article) in the order the text names them
    (none for a count)."""
    if req.count is not None:
        return f"{spec.NUMBER_WORDS[req.count]} {spec.PLURALS[req.items[0].shape]}", []
    nouns = [_noun_phrase(i) for i in req.items]
    phrases = [f"a {n}" for n in nouns]
    named = list(enumerate(nouns))
    if req.relation is not None:
        return f"{phrases[0]} {spec.RELATION_PHRASES[req.relation]} {phrases[1]}", named
    if len(phrases) <= 2:
        return " and ".join(phrases), named
    return ", ".join(phrases[:-1]) + " and " + phrases[-1], named


def _pick(options, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _paraphrase_item(item: Item, rng: np.random.Generator) -> str:
    shape = _pick(SHAPE_WORDS[item.shape], rng)
    color = _pick(COLOR_WORDS.get(item.color, (item.color,)), rng) if item.color else None
    size = _pick(SIZE_WORDS[item.size], rng) if item.size else None
    if color and rng.random() < 0.25:  # "a circle that is red"
        head = " ".join(w for w in (size, shape) if w)
        return f"{_article(head)} {head} that is {color}"
    words = " ".join(w for w in (size, color, shape) if w)
    return f"{_article(words)} {words}"


def paraphrase_text(req: Requirement, rng: np.random.Generator) -> str:
    """A true rewording of the requirement outside the canonical grammar."""
    return paraphrase_parts(req, rng)[0]


def paraphrase_parts(req: Requirement, rng: np.random.Generator) -> tuple[str, list[tuple[int, str]]]:
    """A true rewording, and each item's index and noun phrase (no article) in the order the text names them."""
    if req.count is not None:
        word = _pick(SHAPE_WORDS[req.items[0].shape], rng)
        plural = PLURAL_WORDS[word]
        forms = [f"{DIGITS[req.count]} {plural}", f"exactly {spec.NUMBER_WORDS[req.count]} {plural}"]
        if req.count == 2:
            forms.append(f"a pair of {plural}")
        return _pick(forms, rng), []
    order, relation = list(range(len(req.items))), req.relation
    if len(order) == 2 and rng.random() < 0.5:  # say it the other way round
        order.reverse()
        relation = INVERSE[relation] if relation else None
    phrases = [_paraphrase_item(req.items[i], rng) for i in order]
    named = [(i, p.split(" ", 1)[1]) for i, p in zip(order, phrases, strict=True)]
    if relation is not None:
        if relation in ("left of", "right of") and rng.random() < 0.25:
            return f"{phrases[0]} next to {phrases[1]}", named
        return f"{phrases[0]} {_pick(RELATION_WORDS[relation], rng)} {phrases[1]}", named
    if len(phrases) == 1:
        return _pick([phrases[0], f"one {named[0][1]}", f"there is {phrases[0]}"], rng), named
    if len(phrases) == 2:
        return _pick([f"{phrases[0]} and {phrases[1]}", f"{phrases[0]} with {phrases[1]}"], rng), named
    return ", ".join(phrases[:-1]) + " and " + phrases[-1], named


def item_spans(text: str, named: list[tuple[int, str]]) -> list[tuple[int, int, int]]:
    """(item index, start, end) of each named noun phrase in the text, found in the order the text names them."""
    spans, cursor = [], 0
    for index, phrase in named:
        start = text.index(phrase, cursor)
        spans.append((index, start, start + len(phrase)))
        cursor = start + len(phrase)
    return spans


# ---------------------------------------------------------------- truthful requirements from a scene


def _item(obj: SceneObject, color: bool = False, size: bool = False) -> Item:
    return Item(obj.shape, obj.color if color else None, obj.size if size else None)


def requirement_from_scene(category: str, scene: Scene, rng: np.random.Generator) -> Requirement | None:
    """A requirement of `category` that the scene satisfies, or None when the scene has none."""
    objs = scene.objects
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    if category == "single_object":
        return Requirement(category, (_item(pick(objs)),))
    if category == "colors":
        return Requirement(category, (_item(pick(objs), color=True),))
    if category == "size":
        return Requirement(category, (_item(pick(objs), color=True, size=True),))
    if category == "counting":
        counts = {s: sum(o.shape == s for o in objs) for s in spec.SHAPES}
        options = [s for s, n in counts.items() if n >= 2]
        if not options:
            return None
        shape = pick(options)
        return Requirement(category, (Item(shape),), count=counts[shape])
    if category in ("two_object", "color_attr"):
        pairs = [(a, b) for a in objs for b in objs if a.shape != b.shape]
        if category == "color_attr":
            pairs = [(a, b) for a, b in pairs if a.color != b.color]
        if not pairs:
            return None
        a, b = pick(pairs)
        colored = category == "color_attr"
        return Requirement(category, (_item(a, color=colored), _item(b, color=colored)))
    if category in ("position", "composite"):
        related = [(a, b, r) for a in objs for b in objs if a is not b and (r := clear_relation(a, b))]
        if not related:
            return None
        a, b, rel = pick(related)
        colored = category == "composite"
        return Requirement(category, (_item(a, color=colored), _item(b, color=colored)), relation=rel)
    if category == "scene":
        keys = [(o.shape, o.color) for o in objs]
        if len(objs) < 2 or len(set(keys)) < len(keys):
            return None
        order = rng.permutation(len(objs))
        return Requirement(category, tuple(_item(objs[i], color=True) for i in order))
    raise ValueError(f"unknown category {category!r}")


# The hard categories (counting, position, binding) are drawn more often.
TRAINING_CATEGORY_WEIGHTS = {
    "single_object": 0.5,
    "two_object": 1.0,
    "counting": 1.5,
    "colors": 1.0,
    "position": 1.5,
    "color_attr": 1.5,
    "size": 1.0,
    "composite": 1.5,
    "scene": 0.5,
}


def training_requirement(
    scene: Scene, rng: np.random.Generator, weights: dict[str, float] | None = None
) -> Requirement:
    """A requirement the scene satisfies, its category drawn by weight among those the scene allows."""
    weights = weights or TRAINING_CATEGORY_WEIGHTS
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    while p.sum() > 0:
        idx = int(rng.choice(len(names), p=p / p.sum()))
        req = requirement_from_scene(names[idx], scene, rng)
        if req is not None:
            return req
        p[idx] = 0
    raise RuntimeError("scene allows no caption")  # single_object always applies, so never reached


def caption_text(req: Requirement, rng: np.random.Generator, paraphrase_prob: float) -> str:
    return caption_parts(req, rng, paraphrase_prob)[0]


def caption_parts(
    req: Requirement, rng: np.random.Generator, paraphrase_prob: float
) -> tuple[str, list[tuple[int, int, int]]]:
    """A caption of the requirement, reworded for a `paraphrase_prob` share, and where in it each item is named."""
    text, named = paraphrase_parts(req, rng) if rng.random() < paraphrase_prob else canonical_parts(req)
    return text, item_spans(text, named)


def training_caption(
    scene: Scene,
    rng: np.random.Generator,
    weights: dict[str, float] | None = None,
    paraphrase_prob: float = 0.3,
) -> tuple[str, str]:
    """(category, caption) for a training image, drawn by category weight among those the scene allows."""
    req = training_requirement(scene, rng, weights)
    return req.category, caption_text(req, rng, paraphrase_prob)


# ---------------------------------------------------------------- truth of a requirement
# The spec's pass rules, on anything with shape, colour, size and a centre: the objects of a scene
# graph (to caption and to find false captions) and the objects the evaluator parses from an image.


def holds(relation: str, a, b) -> bool:
    """`a <relation> b` by centre offsets (image y grows downwards)."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    m = spec.RELATION_MIN_OFFSET
    return {"left of": dx >= m, "right of": -dx >= m, "above": dy >= m, "below": -dy >= m}[relation]


def _matches(item: Item, obj) -> bool:
    return item.matches(obj.shape, obj.color, obj.size)


def passes(req: Requirement, objects: list) -> bool:
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


def _assign(items: list[Item], objects: list) -> bool:
    """True when each item is matched by a distinct object (tiny backtracking search)."""
    if not items:
        return True
    head, rest = items[0], items[1:]
    return any(_matches(head, o) and _assign(rest, [x for x in objects if x is not o]) for o in objects)
