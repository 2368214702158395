"""Pre-training the critic's caption reader: captions say where each object is named, word pieces get that object's
attributes, and a short run learns them."""

import dataclasses

import numpy as np
import pytest

from ml_engine.config import CaptionReaderConfig
from ml_engine.data.captions import SHAPE_WORDS, Item, Requirement, caption_parts, training_requirement
from ml_engine.data.scene import sample_scene
from ml_engine.training.caption_reader import ATTRIBUTES, IGNORE, item_attributes, token_labels

RED_CIRCLE_LEFT_OF_BLUE_SQUARE = Requirement(
    "composite", (Item("circle", "red"), Item("square", "blue")), relation="left of"
)


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr("ml_engine.training.caption_reader.CACHE_ROOT", str(tmp_path / "cache"))


def test_caption_spans_name_each_item_whatever_the_wording():
    rng = np.random.default_rng(0)
    reversed_seen = 0
    for _ in range(400):
        req = training_requirement(sample_scene(rng), rng)
        text, spans = caption_parts(req, rng, paraphrase_prob=0.7)
        if req.count is not None:
            assert spans == []
            continue
        assert sorted(index for index, _, _ in spans) == list(range(len(req.items)))
        for index, start, end in spans:
            phrase, item = text[start:end], req.items[index]
            assert any(word in phrase for word in SHAPE_WORDS[item.shape])
            assert not phrase.startswith(("a ", "an "))  # the article is not part of the object's words
        reversed_seen += [i for i, _, _ in spans] == [1, 0]
    assert reversed_seen > 10  # paraphrases that name the second object first are followed


def test_word_pieces_of_an_object_get_its_colour_shape_and_side():
    from ml_engine.text.encoder import TextEncoder

    encoder = TextEncoder.load()
    text, spans = caption_parts(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, np.random.default_rng(0), paraphrase_prob=0.0)
    assert text == "a red circle to the left of a blue square"
    rows = item_attributes(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, text)
    labels = token_labels(encoder.token_offsets([text])[0], spans, rows, encoder.max_tokens)
    pieces = encoder.tokenizer.tokenize(text)  # the states' rows are [CLS] + these + [SEP]
    named = {pieces[row - 1]: labels[row].tolist() for row in range(1, len(pieces) + 1) if labels[row, 0] != IGNORE}
    red, circle, left = ATTRIBUTES["color"].index("red"), ATTRIBUTES["shape"].index("circle"), 0
    blue, square, right = ATTRIBUTES["color"].index("blue"), ATTRIBUTES["shape"].index("square"), 1
    assert named == {
        "red": [red, circle, IGNORE, left],
        "circle": [red, circle, IGNORE, left],
        "blue": [blue, square, IGNORE, right],
        "square": [blue, square, IGNORE, right],
    }
    assert (labels[0] == IGNORE).all() and (labels[len(pieces) + 1 :] == IGNORE).all()  # [CLS], [SEP], padding


def test_next_to_does_not_say_which_side():
    rows = item_attributes(RED_CIRCLE_LEFT_OF_BLUE_SQUARE, "a red circle next to a blue square")
    assert [row[3] for row in rows] == [IGNORE, IGNORE]


def tiny_reader_config(tmp_path, **overrides) -> CaptionReaderConfig:
    fields = dict(
        name="reader-test", layers=1, captions=512, held_out=128, batch_size=64, max_steps=40, warmup_steps=5,
        eval_every=20, checkpoint_every=20, log_every=10, mlflow=False, output_dir=str(tmp_path / "reader"),
        category_weights={"single_object": 0.2, "position": 1.0, "color_attr": 1.0, "composite": 1.0},
    )  # fmt: skip
    return dataclasses.replace(CaptionReaderConfig(), **{**fields, **overrides})


def test_a_short_run_learns_the_attributes(tmp_path):
    import json

    from ml_engine.models.caption_reader import CaptionReader
    from ml_engine.training.caption_reader import train_caption_reader

    output = train_caption_reader(tiny_reader_config(tmp_path))
    with open(f"{output}/training.json") as f:
        summary = json.load(f)
    last = summary["curve"][-1]
    assert last["step"] == 40 and last["color"] > 0.85 and last["side"] > 0.55  # a bag of words: 0.5
    assert "size" not in last  # no caption of these categories names a size: nothing to learn, nor NaN
    assert summary["added_norm"] > 1.0  # the heads read what the reader adds, so it must add something
    reader = CaptionReader.from_pretrained(output, use_safetensors=True)
    assert reader.project.weight.abs().sum() > 0
