"""Failure kinds name what went wrong in an image that fails its caption."""

from ml_engine.data import spec
from ml_engine.data.captions import Item, Requirement
from ml_engine.data.render import render
from ml_engine.data.scene import Scene, SceneObject
from ml_engine.evaluation.failures import failure_counts, failure_kind
from ml_engine.evaluation.parse import detect_objects


def objects(*placed):
    scene = Scene(
        [SceneObject(shape, color, "small", 14, x0, y0, spec.PALETTE[color]) for shape, color, x0, y0 in placed]
    )
    return detect_objects(render(scene))


RED_CIRCLE_LEFT_OF_BLUE_SQUARE = objects(("circle", "red", 4, 30), ("square", "blue", 40, 4))


def test_a_count_is_too_few_or_too_many():
    three = objects(("cross", "red", 4, 4), ("cross", "blue", 40, 4), ("cross", "green", 4, 40))
    assert failure_kind(Requirement("counting", (Item("cross"),), count=3), three) is None
    assert failure_kind(Requirement("counting", (Item("cross"),), count=4), three) == "too few"
    assert failure_kind(Requirement("counting", (Item("cross"),), count=2), three) == "too many"


def test_a_relation_is_wrong_only_when_both_objects_are_drawn():
    found = RED_CIRCLE_LEFT_OF_BLUE_SQUARE
    assert failure_kind(Requirement("position", (Item("circle"), Item("square")), relation="left of"), found) is None
    turned = Requirement("position", (Item("circle"), Item("square")), relation="right of")
    assert failure_kind(turned, found) == "relation wrong"
    absent = Requirement("position", (Item("circle"), Item("triangle")), relation="left of")
    assert failure_kind(absent, found) == "object missing"


def test_binding_separates_a_wrong_colour_from_a_missing_shape():
    found = RED_CIRCLE_LEFT_OF_BLUE_SQUARE
    swapped = Requirement("color_attr", (Item("circle", "blue"), Item("square", "red")))
    assert failure_kind(swapped, found) == "attribute wrong"
    missing = Requirement("color_attr", (Item("circle", "red"), Item("cross", "blue")))
    assert failure_kind(missing, found) == "object missing"


def test_counts_group_the_failures_by_category():
    found = RED_CIRCLE_LEFT_OF_BLUE_SQUARE
    requirements = [
        Requirement("color_attr", (Item("circle", "blue"), Item("square", "red"))),
        Requirement("color_attr", (Item("circle", "red"), Item("square", "blue"))),
        Requirement("counting", (Item("circle"),), count=2),
    ]
    assert failure_counts(requirements, [found] * 3) == {
        "color_attr": {"attribute wrong": 1},
        "counting": {"too few": 1},
    }
