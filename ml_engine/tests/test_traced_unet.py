"""The sampler's traced UNet call (pipelines/traced_unet.py): the same outputs as the eager UNet, whatever the batch,
the weights' updates, the attention processors or a failure to trace."""

import logging

import pytest
import torch

from ml_engine.models.unet import unet_output
from ml_engine.pipelines.tiny import build_tiny_ranked_pipeline
from ml_engine.pipelines.traced_unet import TracedUNet


@pytest.fixture()
def pipe():
    return build_tiny_ranked_pipeline()


def inputs(pipe, batch: int, prompt: str = "a red circle above two squares"):
    states, mask = pipe.encode_prompts([prompt] * batch)
    channels = pipe.unet.config.out_channels
    latents = torch.randn(batch, channels, 8, 8, generator=torch.Generator().manual_seed(batch))
    return latents, torch.tensor(600), states, mask


def test_one_trace_gives_the_eager_outputs_at_every_batch_size(pipe):
    runner = TracedUNet(pipe.unet)
    with torch.no_grad():
        for batch in (4, 2, 7, 1):  # traced at 4, run at the others
            x = inputs(pipe, batch)
            assert torch.equal(runner(*x), unet_output(pipe.unet, *x))
    assert len(runner._traces) == 1 and None not in runner._traces.values()


def test_weights_updated_in_place_show_through_the_trace(pipe):
    runner = TracedUNet(pipe.unet)
    x = inputs(pipe, 2)
    with torch.no_grad():
        before = runner(*x)
        runner(*x)  # now from the trace
        for p in pipe.unet.parameters():  # as an EMA update or an optimiser step would
            p.mul_(0.9)
        after = runner(*x)
        assert not torch.equal(before, after)
        assert torch.equal(after, unet_output(pipe.unet, *x))


def test_a_processor_set_after_tracing_is_not_bypassed(pipe):
    class Silent:
        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
            return torch.zeros_like(hidden_states)

    runner = TracedUNet(pipe.unet)
    x = inputs(pipe, 2)
    with torch.no_grad():
        runner(*x), runner(*x)
        original = dict(pipe.unet.attn_processors)
        pipe.unet.set_attn_processor({k: Silent() if k.endswith("attn2.processor") else p for k, p in original.items()})
        try:
            assert torch.equal(runner(*x), unet_output(pipe.unet, *x))
        finally:
            pipe.unet.set_attn_processor(dict(original))
        assert torch.equal(runner(*x), unet_output(pipe.unet, *x))


def test_a_unet_that_cannot_be_traced_runs_eagerly(pipe, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise RuntimeError("no tracing today")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    runner = TracedUNet(pipe.unet)
    x = inputs(pipe, 3)
    with torch.no_grad(), caplog.at_level(logging.WARNING):
        assert torch.equal(runner(*x), unet_output(pipe.unet, *x))
        assert torch.equal(runner(*x), unet_output(pipe.unet, *x))
    assert "runs eagerly" in caplog.text and list(runner._traces.values()) == [None]


@pytest.mark.parametrize("attention", [False, True])
def test_a_traced_generation_matches_the_eager_one_pixel_for_pixel(pipe, attention):
    options = {"candidates": 4, "pruning": "2@1,1@3", "num_inference_steps": 5, "output_type": "pt"}
    prompts = ["a red circle", "two squares left of a cross"]
    results = {}
    for traced in (False, True, True):  # the second traced call runs from the traces the first one made
        pipe.trace_unet = traced
        results.setdefault(traced, []).append(pipe(prompts, seed=3, return_attention=attention, **options))
    eager = results[False][0]
    assert all(r.images.shape == (2, 3, 64, 64) for r in results[True])
    assert all(torch.equal(r.images, eager.images) for r in results[True])
    if attention:
        for r in results[True]:
            for got, expected in zip(r.attention, eager.attention, strict=True):
                assert got.words == expected.words
                assert torch.allclose(torch.as_tensor(got.maps), torch.as_tensor(expected.maps), atol=1e-5)
