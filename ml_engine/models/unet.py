"""The conditional denoiser: diffusers' UNet2DConditionModel on 8x8x16 latents, with
cross-attention over the MiniLM token states at every level (Rombach et al., 2022)."""

from __future__ import annotations

from diffusers import UNet2DConditionModel

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
