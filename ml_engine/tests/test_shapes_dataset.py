"""The captioned Shapes set: COCO captions layout, determinism, canonical coverage and truthful captions."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from ml_engine.data import spec
from ml_engine.data.captions import Item, Requirement, canonical_text
from ml_engine.data.render import render
from ml_engine.data.shapes_dataset import load_shapes_dataset, write_shapes_dataset
from ml_engine.evaluation.parse import detect_objects
from ml_engine.evaluation.rules import passes
from ml_engine.tests.caption_fixtures import write_coco_fixture

N_IMAGES = 2000
K = 5


@pytest.fixture(scope="module")
def shapes_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    written = write_shapes_dataset(root, N_IMAGES, seed=11, captions_per_image=K, workers=2, progress=False)
    data = json.loads((root / "captions.json").read_text())
    return root, written, data


def _canonical_requirements_by_text() -> dict[str, Requirement]:
    """Every canonical caption text of the spec's table, regenerated from the grammar."""
    s, c, r = spec.SHAPES, spec.COLORS, spec.RELATIONS
    reqs = [Requirement("single_object", (Item(a),)) for a in s]
    reqs += [Requirement("two_object", (Item(a), Item(b))) for a, b in itertools.permutations(s, 2)]
    reqs += [Requirement("counting", (Item(a),), count=n) for n in (2, 3, 4) for a in s]
    reqs += [Requirement("colors", (Item(a, x),)) for a in s for x in c]
    reqs += [Requirement("position", (Item(a), Item(b)), relation=rel) for a in s for b in s for rel in r]
    reqs += [
        Requirement("color_attr", (Item(a, x), Item(b, y)))
        for a, b in itertools.permutations(s, 2)
        for x, y in itertools.permutations(c, 2)
    ]
    reqs += [Requirement("size", (Item(a, x, z),)) for a in s for x in c for z in ("small", "large")]
    reqs += [
        Requirement("composite", (Item(a, x), Item(b, y)), relation=rel)
        for a in s
        for b in s
        for x in c
        for y in c
        for rel in r
    ]
    return {canonical_text(req): req for req in reqs}


CANONICAL = _canonical_requirements_by_text()


def test_layout_follows_the_coco_captions_schema(shapes_set):
    root, written, data = shapes_set
    assert set(data) == {"info", "licenses", "images", "annotations"}
    assert sorted(p.name for p in (root / "images").iterdir()) == [f"{i:012d}.png" for i in range(1, N_IMAGES + 1)]
    assert [i["id"] for i in data["images"]] == list(range(1, N_IMAGES + 1))
    for image in data["images"][:50]:
        assert set(image) == {"id", "file_name", "width", "height", "scene"}
        assert (image["file_name"], image["width"], image["height"]) == (f"{image['id']:012d}.png", 64, 64)
    assert all(set(a) == {"id", "image_id", "caption", "category"} for a in data["annotations"])
    assert [a["id"] for a in data["annotations"]] == list(range(1, len(data["annotations"]) + 1))
    assert (written.n_images, written.n_captions) == (N_IMAGES, len(data["annotations"]))


def test_each_image_has_k_distinct_training_captions_where_the_scene_allows(shapes_set):
    _, _, data = shapes_set
    per_image = Counter(a["image_id"] for a in data["annotations"])
    # K training captions, and at most one canonical caption that completes coverage
    assert set(per_image.values()) == {K, K + 1}
    assert sum(per_image.values()) < N_IMAGES * K * 1.05
    n_objects = {i["id"]: len(i["scene"]["objects"]) for i in data["images"]}
    captions = {}
    for a in data["annotations"]:
        captions.setdefault(a["image_id"], []).append(a["caption"])
    for image_id, texts in captions.items():
        if n_objects[image_id] >= 2:  # a two-object scene has dozens of true captions
            assert len(set(texts)) == len(texts), texts


def _missing_canonical_forms(captions: list[str]) -> list:
    """Canonical forms that no caption takes; see shapes_dataset's docstring for what a form is."""
    present = [CANONICAL[c] for c in captions if c in CANONICAL]
    texts = {canonical_text(req) for req in present}
    # the six small grammars: every canonical text
    small = [t for t, req in CANONICAL.items() if req.category not in ("color_attr", "composite")]
    assert len(small) == 4 + 12 + 12 + 32 + 64 + 64
    missing = sorted(set(small) - texts)
    # color_attr (672 texts) and composite (4096): every shape/relation form, every colour in each slot
    for category in ("color_attr", "composite"):
        seen = [req for req in present if req.category == category]
        forms = {(req.items[0].shape, req.relation, req.items[1].shape) for req in seen}
        expected = (
            {(a, None, b) for a, b in itertools.permutations(spec.SHAPES, 2)}
            if category == "color_attr"
            else {(a, r, b) for a in spec.SHAPES for r in spec.RELATIONS for b in spec.SHAPES}
        )
        missing += [(category, form) for form in sorted(expected - forms, key=str)]
        for slot in (0, 1):
            missing += [(category, slot, c) for c in spec.COLORS if c not in {req.items[slot].color for req in seen}]
    return missing


def test_every_canonical_form_of_all_eight_categories_is_present(shapes_set):
    _, written, data = shapes_set
    assert _missing_canonical_forms([a["caption"] for a in data["annotations"]]) == []
    assert written.forms_covered == written.forms_total == 296


def test_canonical_captions_complete_the_coverage_that_training_captions_leave_open(tmp_path):
    # One training caption an image over 1000 images leaves ~50 forms uncovered (four crosses, ...):
    # the added canonical captions must close every gap.
    written = write_shapes_dataset(tmp_path, 1000, seed=3, captions_per_image=1, workers=1, progress=False)
    data = json.loads(written.captions_file.read_text())
    assert _missing_canonical_forms([a["caption"] for a in data["annotations"]]) == []
    assert set(Counter(a["image_id"] for a in data["annotations"]).values()) == {1, 2}


def test_canonical_captions_are_true_of_the_rendered_png(shapes_set):
    root, _, data = shapes_set
    captions = {}
    for a in data["annotations"]:
        if a["caption"] in CANONICAL:
            captions.setdefault(a["image_id"], []).append(a["caption"])
    assert sum(map(len, captions.values())) > N_IMAGES  # most images have canonical captions to check
    false = []
    for image_id, texts in captions.items():
        with Image.open(root / "images" / f"{image_id:012d}.png") as image:
            objects = detect_objects(image)
        false += [(image_id, t) for t in texts if not passes(CANONICAL[t], objects)]
    assert false == []


def test_categories_label_the_captions(shapes_set):
    _, _, data = shapes_set
    counts = Counter(a["category"] for a in data["annotations"])
    assert set(counts) == {*spec.CATEGORIES, "scene"}
    for a in data["annotations"]:
        if a["caption"] in CANONICAL:
            category = CANONICAL[a["caption"]].category
            # a two-object whole-scene description reads exactly like a color_attr caption
            assert a["category"] == category or (a["category"], category) == ("scene", "color_attr"), a


def test_loader_returns_scenes_that_render_to_the_saved_images(shapes_set):
    root, _, data = shapes_set
    examples = load_shapes_dataset(root)
    assert len(examples) == N_IMAGES
    first = examples[0]
    assert first.image_id == 1 and first.image_path == root / "images" / "000000000001.png"
    expected = [a["caption"] for a in data["annotations"] if a["image_id"] == 1]
    assert list(first.captions) == expected and len(first.categories) == len(expected)
    for example in examples[:: N_IMAGES // 20]:
        with Image.open(example.image_path) as image:
            np.testing.assert_array_equal(np.asarray(image), render(example.scene))


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_whatever_the_workers(tmp_path):
    write_shapes_dataset(tmp_path / "a", 24, seed=5, workers=1, progress=False)
    write_shapes_dataset(tmp_path / "b", 24, seed=5, workers=2, progress=False)
    write_shapes_dataset(tmp_path / "c", 24, seed=6, workers=1, progress=False)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(a) == 25 and a == b
    assert a["captions.json"] != c["captions.json"] and a["images/000000000001.png"] != c["images/000000000001.png"]


def test_a_one_object_scene_still_gets_k_captions(tmp_path):
    write_shapes_dataset(tmp_path, 30, seed=0, captions_per_image=12, workers=1, progress=False)
    examples = load_shapes_dataset(tmp_path)
    assert min(len(e.captions) for e in examples) >= 12
    assert any(len(e.scene.objects) == 1 for e in examples)


def test_loader_refuses_a_coco_set_that_is_not_a_shapes_set(tmp_path):
    fixture = write_coco_fixture(tmp_path)
    fixture.captions_file.rename(tmp_path / "captions.json")
    with pytest.raises(ValueError, match="not a Shapes set|no 'category'"):
        load_shapes_dataset(tmp_path)


def test_refuses_a_non_empty_output_folder_and_bad_sizes(tmp_path):
    (tmp_path / "keep.txt").write_text("earlier work")
    with pytest.raises(FileExistsError):
        write_shapes_dataset(tmp_path, 2, seed=0, progress=False)
    with pytest.raises(ValueError):
        write_shapes_dataset(tmp_path / "new", 0, seed=0, progress=False)
