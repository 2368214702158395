"""Growing the UNet: added transformer layers start as the identity and then learn."""

import dataclasses

import pytest
import torch

from ml_engine.config import DiffusionConfig
from ml_engine.models.unet import build_unet, deepen_attention


def tiny_unet():
    torch.manual_seed(0)
    return build_unet(block_out_channels=(32, 64), layers_per_block=1, attention_head_dim=32)


def inputs(batch: int = 3):
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(batch, 16, 8, 8, generator=generator)
    words = torch.randn(batch, 5, 384, generator=generator)
    return latents, torch.tensor([10, 500, 990][:batch]), words


def test_a_deepened_unet_computes_what_the_shallow_one_did():
    unet = tiny_unet().eval()
    deeper = deepen_attention(unet, 2).eval()
    with torch.no_grad():
        assert torch.equal(unet(*inputs()).sample, deeper(*inputs()).sample)
    assert sum(p.numel() for p in deeper.parameters()) > sum(p.numel() for p in unet.parameters())
    assert deeper.config.transformer_layers_per_block == 2


def test_the_added_layers_learn():
    deeper = deepen_attention(tiny_unet(), 2)
    added = deeper.down_blocks[0].attentions[0].transformer_blocks[1]
    optimizer = torch.optim.SGD(deeper.parameters(), lr=0.1)
    loss = deeper(*inputs()).sample.pow(2).mean()
    loss.backward()
    optimizer.step()
    assert added.attn2.to_out[0].weight.abs().sum() > 0 and added.ff.net[-1].weight.abs().sum() > 0


def test_deepening_only_adds_layers():
    with pytest.raises(ValueError, match="can only add layers"):
        deepen_attention(tiny_unet(), 1)


def test_a_run_continued_with_more_layers_starts_from_the_deepened_unet(tmp_path):
    from ml_engine.pipelines.tiny import save_tiny_pipeline
    from ml_engine.training.diffusion import _load_unet

    folder = save_tiny_pipeline(str(tmp_path / "tiny"))
    config = dataclasses.replace(DiffusionConfig(), init_from=folder)
    same = _load_unet(config)
    deeper = _load_unet(dataclasses.replace(config, transformer_layers=same.config.transformer_layers_per_block + 1))
    latents = torch.randn(2, same.config.in_channels, 8, 8)
    words = torch.randn(2, 4, same.config.cross_attention_dim)
    with torch.no_grad():
        assert torch.equal(
            same(latents, torch.tensor([5, 700]), words).sample, deeper(latents, torch.tensor([5, 700]), words).sample
        )
