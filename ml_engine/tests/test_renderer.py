"""The renderer obeys the Shapes spec: canvas, palette, sizes, gaps, relations, anti-aliasing."""

import numpy as np
import pytest

from ml_engine.data import spec
from ml_engine.data.captions import requirement_from_scene
from ml_engine.data.render import object_mask, render
from ml_engine.data.scene import Scene, SceneObject, boxes_apart, sample_scene


@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(42)
    return [sample_scene(rng) for _ in range(400)]


def test_canvas_is_64x64_rgb_on_the_spec_background(scenes):
    image = render(scenes[0])
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert tuple(image[0, 0]) == spec.BACKGROUND  # corners stay background: objects keep 2 px inside


def test_scenes_hold_one_to_four_objects_of_known_shapes_colours_and_sizes(scenes):
    counts = {len(s.objects) for s in scenes}
    assert counts == {1, 2, 3, 4}
    for obj in (o for s in scenes for o in s.objects):
        assert obj.shape in spec.SHAPES and obj.color in spec.COLORS
        lo, hi = spec.SIZE_RANGE[obj.size]
        assert lo <= obj.d <= hi
        jitter = np.abs(np.array(obj.fill) - np.array(spec.PALETTE[obj.color]))
        assert jitter.max() <= spec.FILL_JITTER


def test_boxes_are_2px_apart_and_2px_inside_the_canvas(scenes):
    for scene in scenes:
        for i, a in enumerate(scene.objects):
            x0, y0, x1, y1 = a.box()
            assert x0 >= 2 and y0 >= 2 and x1 <= 62 and y1 <= 62
            for b in scene.objects[i + 1 :]:
                assert boxes_apart(a.box(), b.box())


def test_every_palette_colour_is_far_from_the_background():
    for rgb in spec.PALETTE.values():
        assert np.linalg.norm(np.array(rgb) - np.array(spec.BACKGROUND)) >= 130


def test_fill_colour_is_drawn_inside_and_edges_are_anti_aliased():
    square = SceneObject("square", "blue", "large", 24, 20, 20, (40, 80, 210))
    circle = SceneObject("circle", "red", "large", 25, 10, 10, (215, 40, 40))
    image = render(Scene([circle]))
    assert tuple(image[22, 22]) == (215, 40, 40)
    distances = np.linalg.norm(image.astype(float) - spec.BACKGROUND, axis=-1)
    partial = (distances > 5) & (distances < np.linalg.norm(np.subtract((215, 40, 40), spec.BACKGROUND)) - 5)
    assert partial.sum() > 10  # a disc's rim blends with the background
    square_image = render(Scene([square]))
    assert (np.all(square_image[20:44, 20:44] == (40, 80, 210), axis=-1)).all()


@pytest.mark.parametrize("shape", spec.SHAPES)
def test_shape_area_matches_its_geometry(shape):
    d = 24
    obj = SceneObject(shape, "green", "large", d, 20, 20, spec.PALETTE["green"])
    area = object_mask(obj).sum()
    expected = {
        "circle": np.pi * d * d / 4,
        "square": d * d,
        "triangle": d * 0.87 * d / 2,
        "cross": 2 * d * d / 3 - d * d / 9,
    }[shape]
    assert abs(area - expected) / expected < 0.08


def test_named_relations_have_8px_on_their_axis_and_dominate_the_other(scenes):
    rng = np.random.default_rng(0)
    checked = 0
    for scene in scenes:
        req = requirement_from_scene("composite", scene, rng)
        if req is None:
            continue
        (first, second), relation = req.items, req.relation
        pairs = [
            (a, b)
            for a in scene.objects
            for b in scene.objects
            if a is not b and first.matches(a.shape, a.color, a.size) and second.matches(b.shape, b.color, b.size)
        ]
        ok = False
        for a, b in pairs:
            dx, dy = b.cx - a.cx, b.cy - a.cy
            named, other = {"left of": (dx, dy), "right of": (-dx, dy), "above": (dy, dx), "below": (-dy, dx)}[relation]
            ok |= named >= 8 and abs(other) <= named
        assert ok, (req, scene)
        checked += 1
    assert checked > 100


def test_same_seed_renders_the_same_scenes():
    a = [render(sample_scene(np.random.default_rng(5))) for _ in range(3)]
    b = [render(sample_scene(np.random.default_rng(5))) for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
