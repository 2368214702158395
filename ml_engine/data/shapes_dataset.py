"""Write and read the captioned Shapes set (docs/shapes-domain.md) in the COCO captions layout.

`write_shapes_dataset(out_dir, n_images, seed)` renders `n_images` random scenes to
`out_dir/images/000000000001.png`... and writes `out_dir/captions.json` in the COCO captions
schema (Chen et al. 2015; see real/coco.py) with two additions: each image carries its scene
graph (`scene`), each caption its category (`category`). Image i's scene and its training
captions come from `np.random.default_rng([seed, i])`, so a set is the same, byte for byte,
for the same seed whatever the number of workers.

Captions: `captions_per_image` training captions (ml_engine.data.captions.training_caption:
weighted categories, canonical wordings and paraphrases), distinct where the scene allows,
plus at most one canonical caption an image, so that the set covers the spec's canonical grammar. A canonical form
is a category's template with its shape, count, size and relation slots filled: every text of
single_object, two_object, counting, colors, position and size (188 texts), each shape pair of
color_attr and each shape-relation-shape triple of composite, and each colour in each colour
slot of those two (whose full texts, 672 and 4096, are more than a few thousand images hold).
Images are walked in order, and an image whose scene allows a form not yet covered gets one
more caption: a truthful canonical one for such a form, from the rarest category first. A set
covers every form after a few hundred images (at most ~460 for seeds 0-5), so a set of 2000 or
more covers it with a wide margin.

Run: `python -m ml_engine data render --out data/shapes --n 20000 --seed 0`
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml_engine.data import spec
from ml_engine.data.captions import Item, Requirement, canonical_text, training_caption
from ml_engine.data.parallel import parallel_map
from ml_engine.data.real.coco import (
    CAPTIONS_FILE,
    IMAGES_DIR,
    caption_set_from_coco,
    create_coco_layout,
    read_coco_json,
    write_coco_json,
)
from ml_engine.data.render import render
from ml_engine.data.scene import Scene, clear_relation, sample_scene

TRIES_PER_CAPTION = 10  # draws per wanted caption before a scene with few distinct captions may repeat one
FULL_TEXT_CATEGORIES = ("single_object", "two_object", "counting", "colors", "position", "size")
# Rarest scenes first: a scene with four crosses must spend its one added caption on "four crosses".
COVERAGE_PRIORITY = ("counting", "composite", "position", "color_attr", "size", "two_object", "colors", "single_object")


@dataclass(frozen=True)
class ShapesExample:
    image_id: int
    image_path: Path
    scene: Scene
    captions: tuple[str, ...]
    categories: tuple[str, ...]  # one per caption: a spec category, or "scene" for a whole-scene description


@dataclass
class WrittenShapesSet:
    captions_file: Path
    n_images: int
    n_captions: int
    captions_by_category: dict[str, int]
    forms_covered: int
    forms_total: int


def image_file_name(image_id: int) -> str:
    return f"{image_id:012d}.png"


# ---------------------------------------------------------------- the canonical grammar and its coverage


def canonical_grammar() -> list[Requirement]:
    """Every requirement that the spec's canonical caption forms can express."""
    shapes, colors, relations = spec.SHAPES, spec.COLORS, spec.RELATIONS
    grammar = [Requirement("single_object", (Item(s),)) for s in shapes]
    grammar += [Requirement("two_object", (Item(a), Item(b))) for a, b in itertools.permutations(shapes, 2)]
    grammar += [Requirement("counting", (Item(s),), count=n) for n in spec.NUMBER_WORDS for s in shapes]
    grammar += [Requirement("colors", (Item(s, c),)) for c in colors for s in shapes]
    grammar += [
        Requirement("position", (Item(a), Item(b)), relation=r) for a in shapes for r in relations for b in shapes
    ]
    grammar += [
        Requirement("color_attr", (Item(a, ca), Item(b, cb)))
        for a, b in itertools.permutations(shapes, 2)
        for ca, cb in itertools.permutations(colors, 2)
    ]
    grammar += [Requirement("size", (Item(s, c, z),)) for z in spec.SIZES for c in colors for s in shapes]
    grammar += [
        Requirement("composite", (Item(a, ca), Item(b, cb)), relation=r)
        for a in shapes
        for b in shapes
        for ca in colors
        for cb in colors
        for r in relations
    ]
    return grammar


@functools.cache
def _canonical_by_text() -> dict[str, Requirement]:
    return {canonical_text(req): req for req in canonical_grammar()}


def coverage_keys(req: Requirement) -> frozenset[tuple]:
    """The canonical forms a canonical requirement covers (see the module docstring)."""
    if req.category in FULL_TEXT_CATEGORIES:
        return frozenset({(req.category, canonical_text(req))})
    colorless = Requirement(req.category, tuple(Item(i.shape) for i in req.items), relation=req.relation)
    slots = {(req.category, f"color {slot}", item.color) for slot, item in enumerate(req.items, start=1)}
    return frozenset({(req.category, canonical_text(colorless)), *slots})


@functools.cache
def all_coverage_keys() -> frozenset[tuple]:
    return frozenset().union(*map(coverage_keys, canonical_grammar()))


def truthful_canonical_requirements(scene: Scene) -> list[Requirement]:
    """Every canonical requirement that the scene satisfies by construction, in a fixed order."""
    objs = scene.objects
    pairs = [(a, b) for a in objs for b in objs if a is not b]
    found = [Requirement("single_object", (Item(o.shape),)) for o in objs]
    found += [Requirement("colors", (Item(o.shape, o.color),)) for o in objs]
    found += [Requirement("size", (Item(o.shape, o.color, o.size),)) for o in objs]
    counts = Counter(o.shape for o in objs)
    found += [Requirement("counting", (Item(s),), count=n) for s, n in counts.items() if n >= 2]
    for a, b in pairs:
        if a.shape != b.shape:
            found.append(Requirement("two_object", (Item(a.shape), Item(b.shape))))
            if a.color != b.color:
                found.append(Requirement("color_attr", (Item(a.shape, a.color), Item(b.shape, b.color))))
        if relation := clear_relation(a, b):
            found.append(Requirement("position", (Item(a.shape), Item(b.shape)), relation=relation))
            found.append(Requirement("composite", (Item(a.shape, a.color), Item(b.shape, b.color)), relation=relation))
    return list(dict.fromkeys(found))  # requirements are frozen dataclasses: equal ones collapse


# ---------------------------------------------------------------- planning, rendering and writing


def _training_captions(scene: Scene, rng: np.random.Generator, k: int) -> list[tuple[str, str]]:
    captions: dict[str, str] = {}  # text -> category
    for _ in range(k * TRIES_PER_CAPTION):
        if len(captions) == k:
            break
        category, text = training_caption(scene, rng)
        captions.setdefault(text, category)
    drawn = [(category, text) for text, category in captions.items()]
    # a one-object scene can have fewer than k distinct captions: then some repeat, so every image has k
    return drawn + [training_caption(scene, rng) for _ in range(k - len(drawn))]


def plan_captions(n_images: int, seed: int, captions_per_image: int) -> list[tuple[Scene, list[tuple[str, str]]]]:
    """(scene, [(category, caption), ...]) for images 1..n: k training captions, and at most one canonical
    caption for a form not yet covered. Walked in order, so coverage never depends on workers."""
    covered: set[tuple] = set()
    plan = []
    for image_id in range(1, n_images + 1):
        rng = np.random.default_rng([seed, image_id])
        scene = sample_scene(rng)
        captions = _training_captions(scene, rng, captions_per_image)
        for _, text in captions:
            if (req := _canonical_by_text().get(text)) is not None:
                covered |= coverage_keys(req)
        open_forms = [req for req in truthful_canonical_requirements(scene) if not coverage_keys(req) <= covered]
        if open_forms:
            req = min(open_forms, key=lambda r: COVERAGE_PRIORITY.index(r.category))
            covered |= coverage_keys(req)
            captions.append((req.category, canonical_text(req)))
        plan.append((scene, captions))
    return plan


def _render_image(job: tuple[Scene, str]) -> None:
    scene, path = job
    Image.fromarray(render(scene)).save(path, format="PNG")


def write_shapes_dataset(
    out_dir: str | Path,
    n_images: int,
    seed: int,
    captions_per_image: int = 5,
    workers: int | None = None,
    progress: bool = True,
) -> WrittenShapesSet:
    """Render and caption `n_images` scenes into the new folder `out_dir` (see the module docstring)."""
    if n_images < 1 or captions_per_image < 1:
        raise ValueError(f"need n_images >= 1 and captions_per_image >= 1, got {n_images} and {captions_per_image}")
    captions_file, images_dir = create_coco_layout(out_dir)
    plan = plan_captions(n_images, seed, captions_per_image)
    jobs = [(scene, str(images_dir / image_file_name(i))) for i, (scene, _) in enumerate(plan, start=1)]
    parallel_map(_render_image, jobs, workers=workers, desc="render", progress=progress)

    images, annotations, covered = [], [], set()
    for image_id, (scene, captions) in enumerate(plan, start=1):
        images.append(
            {
                "id": image_id,
                "file_name": image_file_name(image_id),
                "width": spec.CANVAS,
                "height": spec.CANVAS,
                "scene": scene.to_json(),
            }
        )
        for category, text in captions:
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "caption": text, "category": category}
            )
            if (req := _canonical_by_text().get(text)) is not None:
                covered |= coverage_keys(req)
    info = {
        "description": "Shapes v1: rendered scenes with truthful captions (docs/shapes-domain.md)",
        "version": "1.0",
        "seed": seed,
        "captions_per_image": captions_per_image,
    }
    write_coco_json(captions_file, info=info, images=images, annotations=annotations)
    by_category = Counter(a["category"] for a in annotations)
    return WrittenShapesSet(
        captions_file=captions_file,
        n_images=len(images),
        n_captions=len(annotations),
        captions_by_category=dict(sorted(by_category.items())),
        forms_covered=len(covered),
        forms_total=len(all_coverage_keys()),
    )


def load_shapes_dataset(root: str | Path) -> list[ShapesExample]:
    """The images of a set written by `write_shapes_dataset`, with their scenes, captions and categories."""
    root = Path(root)
    data = read_coco_json(root / CAPTIONS_FILE)
    caption_set = caption_set_from_coco(data, root / CAPTIONS_FILE, root / IMAGES_DIR)
    categories: dict[int, list[str]] = {}
    for annotation in data["annotations"]:
        if "category" not in annotation:
            raise ValueError(f"{root / CAPTIONS_FILE}: annotation {annotation.get('id')} has no 'category'")
        categories.setdefault(annotation["image_id"], []).append(annotation["category"])
    captions = caption_set.captions_by_image()
    examples = []
    for image, entry in zip(data["images"], caption_set.images, strict=True):
        if "scene" not in image:
            raise ValueError(f"{root / CAPTIONS_FILE}: image {image['id']} has no 'scene'; not a Shapes set")
        examples.append(
            ShapesExample(
                image_id=image["id"],
                image_path=caption_set.image_path(entry),
                scene=Scene.from_json(image["scene"]),
                captions=tuple(captions.get(image["id"], ())),
                categories=tuple(categories.get(image["id"], ())),
            )
        )
    return examples
