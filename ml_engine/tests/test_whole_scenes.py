"""Scenes drawn whole for a caption category: every object is named, captions stay true, pools keep them."""

from collections import Counter

import numpy as np
import pytest
import torch

from ml_engine.data.captions import canonical_text, requirement_from_scene
from ml_engine.data.render import render
from ml_engine.data.scene import sample_scene
from ml_engine.data.whole_scenes import OBJECT_COUNTS, planned_categories, whole_scene
from ml_engine.evaluation.parse import detect_objects
from ml_engine.evaluation.rules import passes
from ml_engine.training.data import ScenePool


def named_objects(req) -> int:
    """How many objects a caption names: a count names that many, every other item one."""
    return req.count if req.count else len(req.items)


@pytest.mark.parametrize("category", sorted(OBJECT_COUNTS))
def test_a_caption_of_the_category_names_every_object_of_its_whole_scene(category):
    rng = np.random.default_rng(1)
    for _ in range(40):
        scene = whole_scene(category, rng)
        req = requirement_from_scene(category, scene, rng)
        assert len(scene.objects) in OBJECT_COUNTS[category]
        assert named_objects(req) == len(scene.objects), (canonical_text(req), scene.objects)


def test_whole_scenes_render_to_images_their_captions_describe():
    rng = np.random.default_rng(2)
    for category in OBJECT_COUNTS:
        for _ in range(15):
            scene = whole_scene(category, rng)
            found = detect_objects(render(scene))
            assert len(found) == len(scene.objects)
            assert passes(requirement_from_scene(category, scene, rng), found)


def test_counting_scenes_cover_every_number_and_the_pair_categories_differ_where_the_caption_says():
    rng = np.random.default_rng(3)
    counts = Counter(len(whole_scene("counting", rng).objects) for _ in range(300))
    assert set(counts) == {2, 3, 4} and min(counts.values()) > 60
    for _ in range(50):
        a, b = whole_scene("color_attr", rng).objects
        assert a.shape != b.shape and a.color != b.color


def test_planned_share_and_weights():
    rng = np.random.default_rng(4)
    planned = planned_categories(20_000, 0.6, rng, {"counting": 3.0, "position": 1.0, "size": 0.0, "bogus": 5.0})
    tally = Counter(planned)
    assert tally[None] == pytest.approx(8_000, rel=0.05)
    assert set(tally) == {None, "counting", "position"}  # zero weights and unknown names are never planned
    assert tally["counting"] / tally["position"] == pytest.approx(3.0, rel=0.1)


def test_a_pool_gives_a_whole_scene_its_whole_caption_and_other_scenes_any_true_one():
    rng = np.random.default_rng(5)
    scenes = [whole_scene("counting", rng) for _ in range(8)] + [sample_scene(rng) for _ in range(8)]
    pool = ScenePool(scenes, torch.randn(16, 16, 8, 8), planned=["counting"] * 8 + [None] * 8)
    weights = {"single_object": 1.0}  # a random scene then always gets "a <shape>"
    picked = np.random.default_rng(6).integers(0, 16, size=32)  # the batch's own draw of scene ids comes first
    _, captions, _ = pool.batch(np.random.default_rng(6), 32, 0.0, 0.0, weights)
    for i, caption in zip(picked, captions, strict=True):
        assert (caption.split()[0] in ("two", "three", "four")) == (i < 8), (i, caption)


def test_a_pool_without_whole_scenes_draws_the_scenes_of_earlier_runs(tmp_path):
    from ml_engine.models.autoencoder import load_autoencoder

    autoencoder = load_autoencoder("ml_engine/weights/diffusion")
    rng = np.random.default_rng([11, 7])
    earlier = [sample_scene(rng) for _ in range(4)]
    pool = ScenePool.build(autoencoder, 4, 11, cache_dir=str(tmp_path))
    assert pool.scenes == earlier and pool.planned == [None] * 4
    whole = ScenePool.build(autoencoder, 4, 11, cache_dir=str(tmp_path), whole_share=1.0, weights={"position": 1.0})
    assert whole.planned == ["position"] * 4 and all(len(s.objects) == 2 for s in whole.scenes)
    assert len(list(tmp_path.iterdir())) == 2  # a whole pool is cached apart from the plain one
