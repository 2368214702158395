"""Cross-attention over a shared context (models/shared_context.py): each caption's keys and values are projected once
for every batch row that reads it, with the outputs of the context repeated row by row."""

import torch

from ml_engine.attention.daam import SECOND_HALF, cross_attention_probs
from ml_engine.models.shared_context import share_context
from ml_engine.models.unet import unet_output
from ml_engine.pipelines.tiny import build_tiny_ranked_pipeline
from ml_engine.pipelines.traced_unet import TracedUNet


def setup():
    pipe = build_tiny_ranked_pipeline()
    context, mask = pipe.encode_prompts(["a red circle above two squares", ""])
    rows = torch.tensor([1, 1, 1, 0, 0, 0])  # three candidates under guidance: the empty caption's rows first
    latents = torch.randn(6, pipe.unet.config.out_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    return pipe, latents, context, mask, rows


def test_each_caption_is_projected_once_and_the_outputs_are_those_of_the_repeated_context():
    pipe, latents, context, mask, rows = setup()
    assert share_context(pipe.unet)
    projected = []
    layer = next(m for name, m in pipe.unet.named_modules() if name.endswith("attn2"))
    layer.to_k.register_forward_hook(lambda module, args, out: projected.append(args[0].shape[0]))
    with torch.no_grad():
        shared = unet_output(pipe.unet, latents, torch.tensor(500), context, mask, context_rows=rows)
        repeated = unet_output(pipe.unet, latents, torch.tensor(500), context[rows], mask[rows])
    assert projected == [2, 6]  # the two captions once, then every row
    assert torch.allclose(shared, repeated, atol=1e-6)


def test_attention_maps_read_the_shared_context_as_the_repeated_one():
    pipe, latents, context, mask, rows = setup()
    layer = next(m for name, m in pipe.unet.named_modules() if name.endswith("attn2"))
    hidden = torch.randn(6, 64, layer.to_q.in_features)
    bias = (1 - mask.float())[:, None, :] * -10000.0  # as the UNet hands it to its layers
    for half in (slice(None), SECOND_HALF):
        shared = cross_attention_probs(layer, hidden, context, bias, half, context_rows=rows)
        repeated = cross_attention_probs(layer, hidden, context[rows], bias[rows], half)
        assert torch.allclose(shared, repeated, atol=1e-6)
    assert cross_attention_probs(layer, hidden, context, bias, SECOND_HALF, rows).shape[0] == 3 * layer.heads


def test_a_unet_with_its_own_processors_is_given_the_repeated_context():
    class Scaled:  # a caller's processor that knows nothing of shared contexts
        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
            return hidden_states * 0.5

    pipe, latents, context, mask, rows = setup()
    runner = TracedUNet(pipe.unet)
    pipe.unet.set_attn_processor(Scaled())
    with torch.no_grad():
        got = runner(latents, torch.tensor(500), context, mask, context_rows=rows)
        expected = unet_output(pipe.unet, latents, torch.tensor(500), context[rows], mask[rows])
    assert torch.equal(got, expected)
