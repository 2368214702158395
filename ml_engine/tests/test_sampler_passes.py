"""How many UNet rows each sampler step runs (two passes under classifier-free guidance, one without), which steps run
in bfloat16 (`bf16_candidates`: the candidates' steps before the last pruning), and the negative prompt's states,
encoded once and kept between calls."""

import pytest
import torch

from ml_engine.pipelines.shapes import ShapesDiffusionPipeline
from ml_engine.pipelines.tiny import build_tiny_ranked_pipeline

OPTIONS = {"seed": 2, "num_inference_steps": 4, "candidates": 4, "pruning": "1@2", "output_type": "latent"}


@pytest.fixture()
def pipe():
    return build_tiny_ranked_pipeline()


def spy_on_the_unet(pipe, monkeypatch) -> list[tuple[int, bool]]:
    """The (batch rows, bf16) of every UNet call the sampler makes."""
    calls, runner = [], pipe.unet_runner

    def spy(latents, t, states, mask, recorder=None, bf16=False, **options):
        calls.append((latents.shape[0], bf16))
        return runner(latents, t, states, mask, recorder, bf16, **options)

    monkeypatch.setattr(type(pipe), "unet_runner", property(lambda self: spy))
    return calls


def test_guidance_runs_two_passes_every_step_and_a_scale_of_one_runs_one(pipe, monkeypatch):
    calls = spy_on_the_unet(pipe, monkeypatch)
    guided = pipe(["a red circle", "two squares"], return_attention=True, **OPTIONS)
    assert [rows for rows, _ in calls] == [16, 16, 4, 4]  # 4 candidates, then the best one; two passes each step
    assert [a.words[-1] for a in guided.attention] == ["circle", "squares"]  # the prompts' rows were recorded
    calls.clear()
    plain = pipe(["a red circle", "two squares"], guidance_scale=1.0, return_attention=True, **OPTIONS)
    assert [rows for rows, _ in calls] == [8, 8, 2, 2]  # the prompts' rows alone
    assert [a.words[-1] for a in plain.attention] == ["circle", "squares"]
    assert not torch.equal(plain.images, guided.images)


def test_only_the_candidates_steps_before_the_last_pruning_run_in_bf16(pipe, monkeypatch):
    calls = spy_on_the_unet(pipe, monkeypatch)
    float32 = pipe(["a red circle"], **OPTIONS)
    assert [bf16 for _, bf16 in calls] == [False] * 4
    calls.clear()
    pipe.register_to_config(bf16_candidates=True)
    pipe(["a red circle"], **OPTIONS)
    assert [bf16 for _, bf16 in calls] == [False] * 4  # the model has a bf16 path, its precision is float32
    calls.clear()
    pipe.precision = "bfloat16"
    mixed = pipe(["a red circle"], **OPTIONS)
    assert [bf16 for _, bf16 in calls] == [True, True, False, False]
    assert mixed.images.dtype == torch.float32
    assert not torch.equal(mixed.images, float32.images)  # bf16 ran: close to the float32 image, not equal to it
    assert (mixed.images - float32.images).norm() < 0.1 * float32.images.norm()


def test_bf16_steps_traced_match_them_run_eagerly(pipe):
    pipe.register_to_config(bf16_candidates=True)
    pipe.precision = "bfloat16"
    results = {}
    for traced in (False, True, True):
        pipe.trace_unet = traced
        results.setdefault(traced, []).append(pipe(["a red circle", "a cross"], return_attention=True, **OPTIONS))
    assert all(torch.equal(r.images, results[False][0].images) for r in results[True])
    traces = pipe.unet_runner._traces
    assert any(key[1] for key in traces) and all(trace is not None for trace in traces.values())


def test_bf16_steps_are_saved_with_the_model(pipe, tmp_path):
    pipe.register_to_config(bf16_candidates=True)
    pipe.save_pretrained(tmp_path, safe_serialization=True)
    loaded = ShapesDiffusionPipeline.from_pretrained(tmp_path, text_encoder=pipe.text)
    assert loaded.bf16_candidates


def test_a_negative_prompt_is_encoded_once_and_kept(pipe, monkeypatch):
    calls, encode = [], type(pipe.text).__call__

    def spy(self, captions, *args, **kwargs):
        calls.append(list(captions))
        return encode(self, captions, *args, **kwargs)

    monkeypatch.setattr(type(pipe.text), "__call__", spy)
    first = pipe(["a red circle", "a cross"], **OPTIONS)
    again = pipe(["a red circle", "a cross"], **OPTIONS)
    pipe(["a red circle"], negative_prompt="blue", **OPTIONS)
    assert calls == [["a red circle", "a cross"], [""], ["a red circle", "a cross"], ["a red circle"], ["blue"]]
    assert torch.equal(first.images, again.images)
    states, mask = pipe.encode_negatives(["", "blue", ""])
    assert torch.equal(states[0], states[2]) and not torch.equal(states[0], states[1]) and mask.shape == (3, 24)
