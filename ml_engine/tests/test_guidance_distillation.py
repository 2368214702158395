"""Guidance distillation: a UNet that takes the guidance scale, grown from a trained one, and the pipeline that then
paints the guided prediction in one UNet pass a step (a tiny distillation run is in test_training.py)."""

import pytest
import torch

from ml_engine.models.unet import add_guidance_input, build_unet, guidance_embedding, takes_guidance, unet_output
from ml_engine.pipelines.tiny import build_tiny_pipeline


def small_pipeline():
    """The tiny pipeline with a UNet of two channels a norm group: with one, as in the tiny UNet, GroupNorm takes
    away the per-channel shift by which the time embedding (and so the guidance scale) reaches the features."""
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    plain = build_tiny_pipeline()
    torch.manual_seed(3)
    unet = build_unet(block_out_channels=(64,), layers_per_block=1, attention_head_dim=32).eval()
    pipe = ShapesDiffusionPipeline(plain.autoencoder, unet, plain.scheduler, text_encoder=plain.text)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def inputs(pipe, batch: int = 3):
    states, mask = pipe.encode_prompts(["two red circles left of a cross"] * batch)
    latents = torch.randn(batch, pipe.unet.config.out_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    return latents, torch.tensor(700), states, mask


def test_scale_one_embeds_as_nothing_and_other_scales_differ():
    embedded = guidance_embedding(torch.tensor([1.0, 1.5, 4.0, 8.0]), 64)
    assert embedded.shape == (4, 64)
    assert embedded[0].abs().max() == 0
    assert all(embedded[i].norm() > 0.1 for i in (1, 2, 3))
    assert (embedded[2] - embedded[3]).norm() > 0.1


def test_a_grown_unet_starts_as_the_conditional_prediction_at_every_scale():
    pipe = small_pipeline()
    grown = add_guidance_input(pipe.unet)
    assert takes_guidance(grown) and not takes_guidance(pipe.unet)
    x = inputs(pipe)
    with torch.no_grad():
        expected = unet_output(pipe.unet, *x)
        for scale in (None, torch.tensor([1.0]), torch.tensor([4.0, 2.0, 7.5])):
            assert torch.allclose(unet_output(grown, *x, guidance=scale), expected, atol=1e-6)
        grown.time_embedding.cond_proj.weight.data.normal_()  # once trained, the scale matters; scale 1 still not
        assert torch.allclose(unet_output(grown, *x, guidance=torch.tensor([1.0])), unet_output(grown, *x), atol=1e-6)
        assert (unet_output(grown, *x, guidance=torch.tensor([4.0])) - unet_output(grown, *x)).abs().max() > 1e-2
    with pytest.raises(ValueError, match="already takes"):
        add_guidance_input(grown)


@pytest.fixture()
def distilled():
    """The tiny pipeline with a guidance-taking UNet whose scale projection is not zero (as after training)."""
    pipe = small_pipeline()
    torch.manual_seed(2)
    pipe.unet = add_guidance_input(pipe.unet).eval()
    pipe.unet.time_embedding.cond_proj.weight.data.normal_(std=0.5)
    return pipe


def test_a_distilled_pipeline_runs_one_pass_at_the_asked_scale_and_two_for_a_negative_prompt(distilled, monkeypatch):
    calls = []
    runner = distilled.unet_runner

    def spy(latents, t, states, mask, recorder=None, guidance=None, bf16=False, **options):
        calls.append((latents.shape[0], None if guidance is None else guidance.tolist()))
        return runner(latents, t, states, mask, recorder, guidance, bf16, **options)

    monkeypatch.setattr(type(distilled), "unet_runner", property(lambda self: spy))
    assert "guidance distilled" in distilled.sampler_name
    options = {"seed": 1, "num_inference_steps": 3, "output_type": "latent"}
    one_pass = distilled(["a red circle", "a cross"], guidance_scale=5.0, **options)
    assert calls == [(2, [5.0, 5.0])] * 3  # one row an image, at the asked scale
    calls.clear()
    distilled(["a red circle", "a cross"], guidance_scale=5.0, negative_prompt="blue", **options)
    assert calls == [(4, [1.0] * 4)] * 3  # the negative's rows too, at scale 1: classifier-free guidance
    calls.clear()
    other = distilled(["a red circle", "a cross"], guidance_scale=2.0, **options)
    assert calls == [(2, [2.0, 2.0])] * 3
    assert (one_pass.images - other.images).abs().max() > 1e-3  # the scale reaches the UNet


def test_a_distilled_pipeline_can_guide_its_first_steps_in_two_passes(distilled, monkeypatch):
    calls = []
    runner = distilled.unet_runner

    def spy(latents, t, states, mask, recorder=None, guidance=None, bf16=False, **options):
        calls.append((latents.shape[0], sorted(set(guidance.tolist()))))
        return runner(latents, t, states, mask, recorder, guidance, bf16, **options)

    monkeypatch.setattr(type(distilled), "unet_runner", property(lambda self: spy))
    distilled.register_to_config(guided_steps=2)
    try:
        result = distilled(["a red circle", "a cross"], seed=1, num_inference_steps=4, guidance_scale=5.0,
                           return_attention=True)  # fmt: skip
    finally:
        distilled.register_to_config(guided_steps=0)
    assert calls == [(4, [1.0])] * 2 + [(2, [5.0])] * 2  # the empty caption's rows go after the guided steps
    assert [a.words[-1] for a in result.attention] == ["circle", "cross"]  # the prompts' rows were recorded
