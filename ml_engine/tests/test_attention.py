"""Attention heat maps: DAAM capture in the diffusion pipeline, word maps, real-image DAAM and the IoU report."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ml_engine.attention import AttentionMaps, prompt_words, supports_attention
from ml_engine.attention.daam import CrossAttentionRecorder, attention_for_images, capture_cross_attention
from ml_engine.attention.iou import (
    caption_targets,
    captioned_scenes,
    generated_iou,
    mask_iou,
    render_iou,
    summarize,
)
from ml_engine.cli import main
from ml_engine.data.captions import Item, Requirement
from ml_engine.data.render import object_mask, render
from ml_engine.data.scene import Scene, SceneObject
from ml_engine.pipelines.base import GenerationResult

PROMPT = "a red circle to the left of a blue square"


def assert_normalised(maps: AttentionMaps, words: list[str]):
    assert maps.words == words
    assert maps.maps.shape == (len(words), 64, 64) and maps.maps.dtype == np.float32
    assert maps.maps.min() >= 0
    # each word is scaled by its own maximum, so every word map peaks at exactly 1
    np.testing.assert_allclose(maps.maps.reshape(len(words), -1).max(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("guidance", [4.0, 1.0])  # with and without the classifier-free-guidance batch
def test_generation_returns_one_normalised_map_per_prompt_word(tiny_pipeline, guidance):
    result = tiny_pipeline(PROMPT, seed=0, num_inference_steps=3, guidance_scale=guidance, return_attention=True)
    assert len(result.attention) == 1
    assert_normalised(result.attention[0], PROMPT.split())


def test_each_image_of_a_batch_gets_its_own_prompts_words(tiny_pipeline):
    result = tiny_pipeline(
        ["two red crosses", "a green triangle above a cyan circle"],
        seed=1,
        num_images_per_prompt=2,
        num_inference_steps=2,
        return_attention=True,
    )
    assert [m.words for m in result.attention] == [["two", "red", "crosses"]] * 2 + [
        ["a", "green", "triangle", "above", "a", "cyan", "circle"]
    ] * 2
    for maps in result.attention:
        assert_normalised(maps, maps.words)
    # the two images of one prompt start from different noise, so their maps differ
    assert not np.array_equal(result.attention[0].maps, result.attention[1].maps)


def test_return_attention_leaves_the_pixels_and_the_processors_unchanged(tiny_pipeline):
    processors = dict(tiny_pipeline.unet.attn_processors)
    before = tiny_pipeline(PROMPT, seed=5, num_inference_steps=4, output_type="pt").images
    with_maps = tiny_pipeline(PROMPT, seed=5, num_inference_steps=4, output_type="pt", return_attention=True)
    after = tiny_pipeline(PROMPT, seed=5, num_inference_steps=4, output_type="pt")
    assert torch.equal(before, after.images) and torch.equal(before, with_maps.images)
    assert after.attention is None and with_maps.attention is not None
    assert all(tiny_pipeline.unet.attn_processors[name] is p for name, p in processors.items())


def test_processors_come_back_when_the_run_is_cancelled(tiny_pipeline):
    from ml_engine.pipelines import GenerationCancelled

    processors = dict(tiny_pipeline.unet.attn_processors)

    def cancel(info):
        raise GenerationCancelled

    with pytest.raises(GenerationCancelled):
        tiny_pipeline(PROMPT, seed=0, num_inference_steps=3, callback_on_step_end=cancel, return_attention=True)
    assert all(tiny_pipeline.unet.attn_processors[name] is p for name, p in processors.items())


def test_the_recorder_sees_every_cross_attention_layer_at_every_step(tiny_pipeline):
    layers = sum(name.endswith("attn2.processor") for name in tiny_pipeline.unet.attn_processors)
    unet = tiny_pipeline.unet
    states, mask = tiny_pipeline.encode_prompts(["a cross"])
    latents = torch.randn(1, 16, 8, 8)
    with capture_cross_attention(unet, slice(0, 1), (8, 8)) as recorder:
        for t in (10, 500):
            unet(latents, t, encoder_hidden_states=states, encoder_attention_mask=mask)
    assert recorder.calls == 2 * layers
    # each position's probabilities sum to 1 over the tokens, per head, layer and step: the sums keep that
    # mass, the same whole number of (layer, head, step) at every position of a resolution
    for sums in recorder.sums.values():
        mass = sums.sum(1)  # [1, h*w]
        assert torch.allclose(mass, torch.full_like(mass, round(float(mass[0, 0]))), rtol=1e-4)


def test_padding_tokens_get_no_attention(tiny_pipeline):
    states, mask = tiny_pipeline.encode_prompts(["a cross"])
    with capture_cross_attention(tiny_pipeline.unet, slice(0, 1), (8, 8)) as recorder:
        tiny_pipeline.unet(torch.randn(1, 16, 8, 8), 100, encoder_hidden_states=states, encoder_attention_mask=mask)
    used = int(mask.sum())  # [CLS] a cross [SEP]
    for sums in recorder.sums.values():
        assert sums[0, used:].max() < 1e-3 * sums[0, :used].max()


def test_words_group_their_word_pieces():
    from ml_engine.text.encoder import MAX_TOKENS, TextEncoder

    words, index = prompt_words(TextEncoder.load().tokenizer, "two turquoise crosses", MAX_TOKENS)
    assert words == ["two", "turquoise", "crosses"]
    assert index[0] == [1] and all(len(i) >= 1 for i in index)
    assert [p for i in index for p in i] == list(range(1, 1 + sum(len(i) for i in index)))  # contiguous, no [CLS]


def test_maps_survive_their_compact_json_form():
    maps = AttentionMaps(["a", "cross"], np.random.default_rng(0).random((2, 64, 64), dtype=np.float32))
    back = AttentionMaps.from_json(json.loads(json.dumps(maps.to_json())))
    assert back.words == ["a", "cross"] and back.maps.shape == (2, 64, 64)
    assert np.abs(back.maps - maps.maps).max() <= 0.5 / 255 + 1e-6  # quantised to 8 bits


def test_maps_survive_their_png_sprite_form():
    maps = AttentionMaps(["two", "red", "crosses"], np.random.default_rng(1).random((3, 64, 64), dtype=np.float32))
    sprite = maps.to_sprite()
    assert sprite.mode == "L" and sprite.size == (64, 3 * 64)
    back = AttentionMaps.from_sprite(maps.words, sprite)
    assert back.maps.shape == (3, 64, 64) and np.abs(back.maps - maps.maps).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="does not hold"):
        AttentionMaps.from_sprite(["a", "b", "c"], Image.new("L", (64, 2 * 64)))


def test_only_pipelines_that_take_return_attention_are_asked_for_maps(tiny_pipeline):
    class WithoutCrossAttention:  # a wrapper that takes the argument, but whose model cannot honour it
        makes_attention_maps = False

        def __call__(self, prompt, return_attention=False): ...

    assert supports_attention(tiny_pipeline)
    assert not supports_attention(WithoutCrossAttention())
    assert not supports_attention(lambda prompt, **kwargs: None)


def test_daam_on_a_render_gives_a_map_per_caption_word(tiny_pipeline):
    scene = Scene([SceneObject("circle", "red", "large", 24, 6, 6, (215, 40, 40))])
    maps = attention_for_images(tiny_pipeline, [render(scene), Image.new("RGB", (64, 64))], ["a red circle", "a"])
    assert_normalised(maps[0], ["a", "red", "circle"])
    assert_normalised(maps[1], ["a"])


def test_caption_targets_find_each_items_words_in_order():
    requirement = Requirement("composite", (Item("circle", "red"), Item("circle", "blue")), relation="left of")
    words = ["a", "red", "circle", "to", "the", "left", "of", "a", "blue", "circle"]
    targets = [(t.index, t.kind, t.item) for t in caption_targets(words, requirement)]
    assert targets == [(1, "color", 0), (2, "shape", 0), (8, "color", 1), (9, "shape", 1)]


def test_iou_is_one_for_a_map_that_is_the_mask_and_zero_for_a_disjoint_one():
    mask = np.zeros((64, 64), bool)
    mask[10:20, 10:20] = True
    assert mask_iou(mask.astype(np.float32), mask, 0.5) == 1.0
    assert mask_iou(np.roll(mask, 30, axis=1).astype(np.float32), mask, 0.5) == 0.0


def test_render_report_scores_shape_and_colour_words(tiny_pipeline):
    records = render_iou(tiny_pipeline, 7, seed=3, batch_size=4, timesteps=(300,))
    kinds = {r["kind"] for r in records}
    assert {"shape", "color"} <= kinds
    summary = summarize(records)
    assert summary["all"]["words"] == len(records)
    assert all(0 <= v <= 1 for kind in ("shape", "color", "all") for v in summary[kind]["iou"].values())
    assert sum(c["words"] for c in summary["by_category"].values()) == len(records)


class PerfectAttentionPipeline:
    """Stands in for any generator with word attention (the GAN): draws the scene it is asked for and
    returns each word's map as exactly the mask of its object, so the report must score IoU 1 and hit 1."""

    default_steps, default_guidance = 1, 1.0

    def __init__(self, scenes):
        self.scenes = {text: (scene, requirement) for scene, requirement, text in scenes}

    def __call__(self, prompts, return_attention=False, **kwargs):
        images, attention = [], []
        for prompt in prompts:
            scene, requirement = self.scenes[prompt]
            targets = caption_targets(prompt.split(), requirement)
            maps = np.zeros((len(prompt.split()), 64, 64), np.float32)
            for target in targets:
                item = requirement.items[target.item]
                for obj in scene.objects:
                    if item.matches(obj.shape, obj.color, obj.size):
                        maps[target.index] = np.maximum(maps[target.index], object_mask(obj))
            images.append(Image.fromarray(render(scene)))
            attention.append(AttentionMaps(prompt.split(), maps))
        return GenerationResult(images, [0] * len(prompts), list(prompts), attention if return_attention else None)


def test_generated_report_scores_a_pipelines_own_maps_against_the_parsed_objects(monkeypatch):
    from ml_engine.attention import iou
    from ml_engine.evaluation.prompts import EvalPrompt

    # the prompts are captions of scenes the stand-in pipeline draws
    scenes = captioned_scenes(12, seed=11)
    prompts = [EvalPrompt(text, requirement) for _, requirement, text in scenes]
    monkeypatch.setattr("ml_engine.evaluation.prompts.prompt_set", lambda per_category, seed: prompts)
    records, missing = iou.generated_iou(PerfectAttentionPipeline(scenes), per_category=1, batch_size=5)
    assert missing == 0 and records
    summary = summarize(records)
    # the parse sees exactly the rendered objects (renders pass the evaluator's ceiling), so the maps match
    assert summary["all"]["iou_at_headline"] > 0.9 and summary["all"]["pointing"] == 1.0


def test_generated_report_refuses_a_pipeline_without_maps():
    class NoMaps:
        def __call__(self, prompts, **kwargs):
            return GenerationResult([Image.new("RGB", (64, 64))] * len(prompts), [0] * len(prompts), list(prompts))

    with pytest.raises(ValueError, match="no attention maps"):
        generated_iou(NoMaps(), per_category=1)


def test_attention_iou_command_writes_its_report(tiny_pipeline_dir, tmp_path, capsys):
    out = tmp_path / "iou.json"
    code = main(
        [
            "attention-iou",
            "--model",
            tiny_pipeline_dir,
            "--renders",
            "4",
            "--generated-per-category",
            "1",
            "--steps",
            "2",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["renders"]["images"] == 4 and "all" in report["renders"]["summary"]
    assert "generated" in report and report["generated"]["steps"] == 2
    assert "IoU@0.5" in capsys.readouterr().out


def test_a_layer_that_spreads_a_word_evenly_adds_nothing_to_its_map():
    recorder = CrossAttentionRecorder(slice(0, 1), (2, 2))
    # one head, 2x2 positions, 2 tokens: position 0 attends to token 1, the rest mostly to token 0
    peaked = torch.tensor([[[0.1, 0.9], [0.7, 0.3], [0.7, 0.3], [0.7, 0.3]]])
    recorder.record(peaked, heads=1)
    recorder.record(torch.full((1, 4, 2), 0.5), heads=1)  # even: no position stands out
    excess = recorder.above_mean[4][0]  # [tokens, positions]
    assert torch.allclose(excess[0], torch.tensor([0.0, 0.15, 0.15, 0.15]), atol=1e-6)
    assert torch.allclose(excess[1], torch.tensor([0.45, 0.0, 0.0, 0.0]), atol=1e-6)
    raw = recorder.sums[4][0]  # the raw sums keep every call's probability mass
    assert torch.allclose(raw.sum(0), torch.full((4,), 2.0))
    maps = recorder.token_maps(2)[0]
    assert maps[1, 0, 0] > 0 and maps[1, 1, 1] < maps[1, 0, 0]  # token 1 lights where it was attended to
