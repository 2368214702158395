"""Constants of the Shapes domain (v1), exactly as docs/shapes-domain.md describes them.

Every other module (renderer, captions, evaluator) reads the domain from here, so that they
cannot drift apart.
"""

CANVAS = 64
BACKGROUND = (235, 235, 235)
MIN_OBJECTS, MAX_OBJECTS = 1, 4
MIN_GAP = 2  # px between bounding boxes, and between a box and the canvas edge
FILL_JITTER = 12  # per channel

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "orange": (245, 140, 25),
    "yellow": (240, 205, 30),
    "green": (40, 160, 60),
    "cyan": (30, 185, 200),
    "blue": (40, 80, 210),
    "purple": (135, 55, 185),
    "pink": (240, 110, 180),
}
COLORS = tuple(PALETTE)
SHAPES = ("circle", "square", "triangle", "cross")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}

SIZES = ("small", "large")
SIZE_RANGE = {"small": (12, 16), "large": (22, 28)}  # d in px, inclusive
SMALL_BELOW = 19  # evaluator: longer bbox side under this is small

FOREGROUND_DISTANCE = 80  # evaluator: RGB distance to the background above which a pixel is foreground

RELATIONS = ("left of", "right of", "above", "below")
RELATION_PHRASES = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}
RELATION_MIN_OFFSET = 6  # evaluator: a relation holds from this centre offset
RELATION_RENDER_OFFSET = 8  # renderer/captions: a named relation has at least this offset on its axis

NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}

CATEGORIES = (
    "single_object",
    "two_object",
    "counting",
    "colors",
    "position",
    "color_attr",
    "size",
    "composite",
)
CORE_CATEGORIES = CATEGORIES[:6]  # the overall score is their mean; size and composite are reported beside it


def triangle_height(d: float) -> float:
    return 0.87 * d
