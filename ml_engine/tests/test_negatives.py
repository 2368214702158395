"""Hard negative captions for the GAN's matching-aware discriminator: near misses that are really false."""

import numpy as np
import torch

from ml_engine.data.captions import Item, Requirement, canonical_text, passes, requirement_from_scene
from ml_engine.data.negatives import near_miss
from ml_engine.data.scene import Scene, SceneObject, sample_scene
from ml_engine.training.data import ScenePool
from ml_engine.training.gan import mismatched_captions


def obj(shape, color, x0, y0, size="small", d=14):
    return SceneObject(shape, color, size, d, x0, y0, (0, 0, 0))


def test_every_near_miss_is_false_of_its_scene_and_changes_one_claim():
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(600):
        scene = sample_scene(rng)
        for category in ("counting", "position", "color_attr", "composite", "two_object", "size", "colors"):
            req = requirement_from_scene(category, scene, rng)
            if req is None:
                continue
            assert passes(req, scene.objects)
            false = near_miss(req, scene, rng)
            if false is None:
                continue
            found += 1
            assert not passes(false, scene.objects), (canonical_text(req), canonical_text(false))
            assert false.category == req.category and len(false.items) == len(req.items)
            assert canonical_text(false) != canonical_text(req)
            if len(false.items) == 2 and false.relation is None:
                assert false.items[0] != false.items[1]
    assert found > 2500  # nearly every requirement the 600 scenes allow


def test_a_binding_near_miss_can_swap_the_colours_between_two_objects():
    scene = Scene([obj("circle", "red", 4, 20), obj("square", "blue", 40, 20)])
    req = Requirement("color_attr", (Item("circle", "red"), Item("square", "blue")))
    seen = {canonical_text(near_miss(req, scene, np.random.default_rng(s))) for s in range(40)}
    assert "a blue circle and a red square" in seen


def test_a_relation_near_miss_can_turn_the_relation_round():
    scene = Scene([obj("circle", "red", 4, 20), obj("square", "blue", 40, 20)])
    req = Requirement("position", (Item("circle"), Item("square")), relation="left of")
    seen = {canonical_text(near_miss(req, scene, np.random.default_rng(s))) for s in range(40)}
    assert "a circle to the right of a square" in seen


def test_no_near_miss_when_every_change_stays_true():
    # two circles side by side: "a circle left of a circle" turned round is still true, and so on
    scene = Scene([obj("circle", "red", 4, 20), obj("circle", "red", 40, 20)])
    req = Requirement("position", (Item("circle"), Item("circle")), relation="left of")
    results = [near_miss(req, scene, np.random.default_rng(s)) for s in range(30)]
    assert all(r is None or not passes(r, scene.objects) for r in results)


def test_the_mismatch_is_the_near_miss_where_there_is_one_else_the_previous_caption():
    texts = ["a circle", "two squares", "a red cross"]
    assert mismatched_captions(texts, [None, "three squares", None]) == ["a red cross", "three squares", "two squares"]


def test_a_batch_has_near_misses_only_when_asked():
    scenes = [sample_scene(np.random.default_rng(i)) for i in range(16)]
    pool = ScenePool(scenes, torch.randn(16, 16, 8, 8))
    _, captions, negatives = pool.batch(np.random.default_rng(3), 8, 0.1, 0.3, None)
    assert negatives == [None] * 8 and len(captions) == 8
    _, captions, negatives = pool.batch(np.random.default_rng(3), 8, 0.0, 0.0, None, negative_prob=1.0)
    assert sum(n is not None for n in negatives) >= 6 and all(n != c for n, c in zip(negatives, captions, strict=True))


def test_the_near_miss_share_ramps_up_over_the_warmup():
    from ml_engine.config import GANConfig
    from ml_engine.training.gan import hard_negative_share

    config = GANConfig(hard_negative_prob=0.6, hard_negative_warmup=100)
    assert [hard_negative_share(s, config) for s in (0, 50, 100, 500)] == [0.0, 0.3, 0.6, 0.6]
    assert hard_negative_share(0, GANConfig(hard_negative_prob=0.6)) == 0.6
