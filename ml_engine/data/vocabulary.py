"""The words the Shapes models know: every word their training captions use, grouped for a prompt guide.

A Shapes model learned from captions drawn by ml_engine/data/captions.py and nothing else, so a word outside
those captions ("cat", "photo", "sofa") reaches the text encoder as a direction the model never saw paired with
pixels: it still draws shapes, just not the ones asked for. The studio names such words before a job runs
(prompts.vocabulary) instead of letting someone wait for a picture the model cannot draw.

The groups are read from the caption tables (spec.py and captions.py's wordings), so a new synonym there is a
known word here; `GLUE_WORDS` are the caption templates' own words. ml_engine/tests/test_vocabulary.py checks
that thousands of sampled training captions use no word outside `shapes_vocabulary()`.

    python -c "from ml_engine.data.vocabulary import shapes_vocabulary; print(shapes_vocabulary())"
"""

from __future__ import annotations

import re

from ml_engine.data import captions, spec

# the templates' words around the shapes: "there is a ...", "a circle that is red", "exactly two ...",
# "a pair of ...", "one ...", "... with ...", "... next to ...", "... on the left of ..."
GLUE_WORDS = ("a", "an", "and", "the", "of", "to", "on", "is", "that", "there", "with", "exactly", "one", "pair")

# what the guide suggests to type, canonical wording first (the spec's), then the paraphrases the model also read
EXAMPLE_PROMPTS = (
    "a red circle to the left of a blue square",
    "three yellow triangles",
    "a large green cross above a small pink circle",
    "an orange square and a purple triangle",
    "a tiny cyan disc next to a big box",
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _unique(words) -> list[str]:
    return list(dict.fromkeys(words))


def shapes_vocabulary() -> dict[str, list[str]]:
    """The guide's groups: phrases someone can type (chips), and example prompts. Every word of every phrase is a
    word the model knows (`vocabulary_words`)."""
    relations = [phrase for phrases in captions.RELATION_WORDS.values() for phrase in phrases] + ["next to"]
    return {
        "shapes": _unique(
            [word for shape in spec.SHAPES for word in captions.SHAPE_WORDS[shape]]
            + list(captions.PLURAL_WORDS.values())
        ),
        "colours": _unique([word for color in spec.COLORS for word in captions.COLOR_WORDS.get(color, (color,))]),
        "sizes": _unique([word for size in spec.SIZES for word in captions.SIZE_WORDS[size]]),
        "relations": _unique(relations),
        "counts": _unique(
            [spec.NUMBER_WORDS[n] for n in sorted(spec.NUMBER_WORDS)]
            + [captions.DIGITS[n] for n in sorted(captions.DIGITS)]
        ),
        "other": list(GLUE_WORDS),
        "examples": list(EXAMPLE_PROMPTS),
    }


def prompt_words(text: str) -> list[str]:
    """A prompt's words, lower-cased, in order (punctuation and emphasis brackets are not words)."""
    return _WORD.findall(text.lower())


def vocabulary_words(vocabulary: dict[str, list[str]]) -> frozenset[str]:
    """Every word of every phrase in a vocabulary's groups; empty for an open vocabulary (a model that read the
    web's captions, such as Stable Diffusion, ships none)."""
    return frozenset(word for phrases in vocabulary.values() for phrase in phrases for word in prompt_words(phrase))


def unknown_words(text: str, vocabulary: dict[str, list[str]]) -> list[str]:
    """The words of `text` the model never read in a caption, each once, in the order written; none when the
    model's vocabulary is open."""
    known = vocabulary_words(vocabulary)
    if not known:
        return []
    return _unique(word for word in prompt_words(text) if word not in known)
