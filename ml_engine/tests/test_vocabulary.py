"""The Shapes vocabulary is exactly the training captions' words: the prompt check names no word the models read,
and lets through none they never did."""

import numpy as np

from ml_engine.data.captions import paraphrase_text, training_caption
from ml_engine.data.scene import sample_scene
from ml_engine.data.vocabulary import prompt_words, shapes_vocabulary, unknown_words, vocabulary_words
from ml_engine.data.whole_scenes import whole_scene


def test_every_training_caption_uses_only_vocabulary_words():
    rng = np.random.default_rng(0)
    vocabulary, seen = shapes_vocabulary(), set()
    for n in range(4000):
        scene = whole_scene("scene", rng) if n % 4 == 0 else sample_scene(rng)
        _, caption = training_caption(scene, rng, paraphrase_prob=0.5)
        assert unknown_words(caption, vocabulary) == [], caption
        seen.update(prompt_words(caption))
    # and no word is offered that the captions never use (the guide would suggest a word the model never read)
    offered = vocabulary_words({k: v for k, v in vocabulary.items() if k != "examples"})
    assert offered == seen, sorted(offered ^ seen)


def test_the_example_prompts_are_in_the_vocabulary():
    vocabulary = shapes_vocabulary()
    assert all(unknown_words(example, vocabulary) == [] for example in vocabulary["examples"])


def test_words_outside_the_captions_are_named_once_in_order():
    vocabulary = shapes_vocabulary()
    assert unknown_words("a photo of a cat on a sofa", vocabulary) == ["photo", "cat", "sofa"]
    assert unknown_words("A Red circle, a CAT and a cat!", vocabulary) == ["cat"]
    assert unknown_words("an orange square (tiny) above 2 boxes", vocabulary) == []


def test_an_open_vocabulary_names_nothing():
    assert unknown_words("a photo of a cat on a sofa", {}) == []


def test_a_paraphrase_is_never_flagged():
    rng = np.random.default_rng(1)
    from ml_engine.data.captions import training_requirement

    for _ in range(500):
        req = training_requirement(sample_scene(rng), rng)
        assert unknown_words(paraphrase_text(req, rng), shapes_vocabulary()) == []
