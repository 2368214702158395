"""The conditional denoiser: diffusers' UNet2DConditionModel on 8x8x16 latents, with
cross-attention over the MiniLM token states at every level (Rombach et al., 2022)."""

from __future__ import annotations

import re

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from torch import nn

from ml_engine.text.encoder import HIDDEN


def build_unet(
    latent_channels: int = 16,
    sample_size: int = 8,
    block_out_channels: tuple[int, ...] = (64, 128),
    layers_per_block: int = 2,
    attention_head_dim: int = 32,
    transformer_layers: int = 1,
) -> UNet2DConditionModel:
    levels = len(block_out_channels)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=latent_channels,
        out_channels=latent_channels,
        block_out_channels=tuple(block_out_channels),
        down_block_types=("CrossAttnDownBlock2D",) * levels,
        up_block_types=("CrossAttnUpBlock2D",) * levels,
        layers_per_block=layers_per_block,
        cross_attention_dim=HIDDEN,
        # diffusers' historical naming: `attention_head_dim` here is the number of heads per level
        attention_head_dim=tuple(c // attention_head_dim for c in block_out_channels),
        transformer_layers_per_block=transformer_layers,
        norm_num_groups=32,
    )


def deepen_attention(unet: UNet2DConditionModel, transformer_layers: int) -> UNet2DConditionModel:
    """A copy of `unet` with `transformer_layers` transformer layers in every attention block, computing
    the same function: each added layer's residual branches (self-attention, cross-attention,
    feed-forward) start with a zero output projection, so training resumes where the smaller model
    stood and the new layers grow in (function-preserving growth, as in Net2Net, Chen et al., 2016)."""
    old = unet.config.transformer_layers_per_block
    if not isinstance(old, int) or transformer_layers <= old:
        raise ValueError(f"can only add layers to a uniform depth: {old} -> {transformer_layers}")
    grown = UNet2DConditionModel.from_config({**unet.config, "transformer_layers_per_block": transformer_layers})
    missing, unexpected = grown.load_state_dict(unet.state_dict(), strict=False)
    new_layer = re.compile(r"\.transformer_blocks\.([0-9]+)\.")
    only_new_layers_missing = all((m := new_layer.search(k)) and int(m.group(1)) >= old for k in missing)
    if unexpected or not only_new_layers_missing:
        raise ValueError(f"weights do not carry over: unexpected {unexpected[:3]}, missing {missing[:3]}")
    for module in grown.modules():
        if isinstance(module, Transformer2DModel):
            for block in module.transformer_blocks[old:]:
                for projection in (block.attn1.to_out[0], block.attn2.to_out[0], block.ff.net[-1]):
                    nn.init.zeros_(projection.weight)
                    nn.init.zeros_(projection.bias)
    return grown.to(unet.device)


def unet_output(
    unet: UNet2DConditionModel,
    latents: torch.Tensor,
    t,
    states: torch.Tensor,
    mask: torch.Tensor,
    context_rows: torch.Tensor | None = None,
):
    """The UNet's prediction for `latents` at step(s) `t` under token states `states`: the one call shared by training
    and sampling. With `context_rows` [batch], `states` and `mask` hold one row per distinct caption and batch row b
    reads row context_rows[b] (the UNet's attention layers must take it: models/shared_context.py)."""
    shared = None if context_rows is None else {"context_rows": context_rows}
    return unet(
        latents, t, encoder_hidden_states=states, encoder_attention_mask=mask, cross_attention_kwargs=shared
    ).sample
