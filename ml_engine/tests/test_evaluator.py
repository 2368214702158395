"""The evaluator parses renders correctly (its ceiling) and applies the spec's pass rules."""

import numpy as np
import pytest

from ml_engine.data import spec
from ml_engine.data.captions import Item, Requirement, canonical_text, paraphrase_text, requirement_from_scene
from ml_engine.data.render import render
from ml_engine.data.scene import Scene, SceneObject, sample_scene
from ml_engine.evaluation.ceiling import ceiling_scores
from ml_engine.evaluation.parse import detect_objects
from ml_engine.evaluation.prompts import prompt_set
from ml_engine.evaluation.rules import passes


def obj(shape, color, size, d, x0, y0):
    return SceneObject(shape, color, size, d, x0, y0, spec.PALETTE[color])


def test_ceiling_on_fresh_renders_is_at_least_099_in_every_category():
    scores = ceiling_scores(per_category=150, seed=11)
    for category in spec.CATEGORIES:
        assert scores[category] >= 0.99, (category, scores)


def test_parser_recovers_every_object_of_random_scenes():
    rng = np.random.default_rng(3)
    for _ in range(300):
        scene = sample_scene(rng)
        found = sorted((o.shape, o.color, o.size) for o in detect_objects(render(scene)))
        assert found == sorted((o.shape, o.color, o.size) for o in scene.objects)


def test_counting_needs_exactly_that_many():
    scene = Scene(
        [
            obj("cross", "red", "small", 14, 4, 4),
            obj("cross", "blue", "small", 14, 40, 4),
            obj("cross", "green", "small", 14, 4, 40),
        ]
    )
    found = detect_objects(render(scene))
    assert passes(Requirement("counting", (Item("cross"),), count=3), found)
    assert not passes(Requirement("counting", (Item("cross"),), count=2), found)


def test_relation_holds_from_6px_and_follows_image_axes():
    scene = Scene([obj("circle", "red", "small", 14, 4, 30), obj("square", "blue", "small", 14, 40, 4)])
    found = detect_objects(render(scene))
    left = Requirement("position", (Item("circle"), Item("square")), relation="left of")
    above = Requirement("position", (Item("square"), Item("circle")), relation="above")
    below = Requirement("position", (Item("square"), Item("circle")), relation="below")
    assert passes(left, found) and passes(above, found) and not passes(below, found)


def test_colour_binding_is_checked_per_object():
    scene = Scene([obj("circle", "red", "large", 24, 4, 4), obj("square", "blue", "large", 24, 36, 36)])
    found = detect_objects(render(scene))
    assert passes(Requirement("color_attr", (Item("circle", "red"), Item("square", "blue"))), found)
    assert not passes(Requirement("color_attr", (Item("circle", "blue"), Item("square", "red"))), found)


def test_blank_and_noisy_images_fail():
    blank = np.full((64, 64, 3), spec.BACKGROUND, dtype=np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    req = Requirement("colors", (Item("circle", "red"),))
    assert not passes(req, detect_objects(blank))
    assert not passes(req, detect_objects(noise))


@pytest.mark.parametrize("category", spec.CATEGORIES)
def test_canonical_text_follows_the_spec_form(category):
    patterns = {
        "single_object": r"a (circle|square|triangle|cross)",
        "two_object": r"a \w+ and a \w+",
        "counting": r"(two|three|four) (circles|squares|triangles|crosses)",
        "colors": r"a \w+ \w+",
        "position": r"a \w+ (to the left of|to the right of|above|below) a \w+",
        "color_attr": r"a \w+ \w+ and a \w+ \w+",
        "size": r"a (small|large) \w+ \w+",
        "composite": r"a \w+ \w+ (to the left of|to the right of|above|below) a \w+ \w+",
    }
    import re

    for prompt in prompt_set(10, seed=0, categories=(category,)):
        assert re.fullmatch(patterns[category], prompt.text), prompt.text


def test_training_captions_and_paraphrases_are_never_false():
    rng = np.random.default_rng(8)
    for _ in range(300):
        scene = sample_scene(rng)
        found = detect_objects(render(scene))
        for category in [*spec.CATEGORIES, "scene"]:
            req = requirement_from_scene(category, scene, rng)
            if req is not None:
                assert passes(req, found), (canonical_text(req), paraphrase_text(req, rng))


def test_paraphrase_set_avoids_the_canonical_wording():
    prompts = prompt_set(10, seed=0, paraphrase=True)
    differing = sum(p.text != canonical_text(p.requirement) for p in prompts)
    assert differing / len(prompts) > 0.9
