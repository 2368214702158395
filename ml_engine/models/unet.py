"""The conditional denoiser: diffusers' UNet2DConditionModel on 8x8x16 latents, with
cross-attention over the MiniLM token states at every level (Rombach et al., 2022)."""

from __future__ import annotations

import re

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.embeddings import get_timestep_embedding
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


COORDINATES = 2  # (x, y) channels


def with_coordinates(latents: torch.Tensor, unet: UNet2DConditionModel) -> torch.Tensor:
    """The UNet's input: the latents, followed by (x, y) in [-1, 1] per cell when the UNet takes them (its input
    has COORDINATES more channels than its output). Without them a query in the latent grid knows where it is only
    through zero padding, and a caption's "left" has nowhere to land (docs/shapes-model.md, session 10)."""
    if unet.config.in_channels != unet.config.out_channels + COORDINATES:
        return latents
    batch, _, height, width = latents.shape
    y, x = torch.meshgrid(
        torch.linspace(-1, 1, height, device=latents.device),
        torch.linspace(-1, 1, width, device=latents.device),
        indexing="ij",
    )
    grid = torch.stack([x, y]).to(latents.dtype).expand(batch, -1, -1, -1)
    return torch.cat([latents, grid], dim=1)


def takes_guidance(unet: UNet2DConditionModel) -> bool:
    """Whether `unet` is guidance-distilled: it takes the guidance scale and paints the guided prediction itself."""
    return bool(unet.config.get("time_cond_proj_dim"))


def guidance_embedding(scale: torch.Tensor, dim: int) -> torch.Tensor:
    """Guidance scales [B] -> [B, dim]: sinusoidal features of the scale, as LCM embeds it (Luo et al., 2023), less
    those of scale 1, so that "no guidance" is the zero vector and a guidance-distilled UNet called without a scale
    (diffusers then adds nothing to the time embedding) is the conditional prediction it was grown from."""
    scale = scale.float().reshape(-1)
    return get_timestep_embedding((scale - 1) * 100, dim, flip_sin_to_cos=True, downscale_freq_shift=0) - (
        get_timestep_embedding(torch.zeros_like(scale), dim, flip_sin_to_cos=True, downscale_freq_shift=0)
    )


def unet_output(
    unet: UNet2DConditionModel,
    latents: torch.Tensor,
    t,
    states: torch.Tensor,
    mask: torch.Tensor,
    guidance: torch.Tensor | None = None,
    context_rows: torch.Tensor | None = None,
):
    """The UNet's prediction for `latents` at step(s) `t` under token states `states`, its input built with the
    coordinates when it takes them: the one call shared by training and sampling. A guidance-distilled UNet also
    takes `guidance`, the scale per row (none: scale 1, the conditional prediction). With `context_rows` [batch],
    `states` and `mask` hold one row per distinct caption and batch row b reads row context_rows[b] (the UNet's
    attention layers must take it: models/shared_context.py)."""
    unet_input = with_coordinates(latents, unet)
    condition = None
    if guidance is not None and takes_guidance(unet):
        scale = guidance.to(latents.device).expand(latents.shape[0])
        condition = guidance_embedding(scale, unet.config.time_cond_proj_dim).to(latents.dtype)
    shared = None if context_rows is None else {"context_rows": context_rows}
    return unet(
        unet_input,
        t,
        encoder_hidden_states=states,
        encoder_attention_mask=mask,
        timestep_cond=condition,
        cross_attention_kwargs=shared,
    ).sample


GUIDANCE_DIM = 64  # sinusoidal features of the guidance scale


def add_guidance_input(unet: UNet2DConditionModel, dim: int = GUIDANCE_DIM) -> UNet2DConditionModel:
    """A copy of `unet` that also takes a guidance scale (`unet_output(..., guidance=w)`), computing the same
    function: the scale's projection into the time embedding starts at zero, so the copy begins as the conditional
    prediction and guidance distillation (training/diffusion.py) teaches it what each scale adds."""
    if takes_guidance(unet):
        raise ValueError("this UNet already takes a guidance scale")
    # without the private keys: `_use_default_values` would have from_config drop the new value as a default
    config = {k: v for k, v in unet.config.items() if not k.startswith("_")}
    grown = UNet2DConditionModel.from_config({**config, "time_cond_proj_dim": dim})
    missing, unexpected = grown.load_state_dict(unet.state_dict(), strict=False)
    if unexpected or missing != ["time_embedding.cond_proj.weight"]:
        raise ValueError(f"weights do not carry over: unexpected {unexpected[:3]}, missing {missing[:3]}")
    nn.init.zeros_(grown.time_embedding.cond_proj.weight)
    return grown.to(unet.device)


def add_coordinates(unet: UNet2DConditionModel) -> UNet2DConditionModel:
    """A copy of `unet` that also takes (x, y) channels, computing the same function: their input weights start at
    zero, so a trained UNet carries over and learns to use where each cell is."""
    if unet.config.in_channels != unet.config.out_channels:
        raise ValueError("this UNet already takes more than its latents")
    grown = UNet2DConditionModel.from_config({**unet.config, "in_channels": unet.config.in_channels + COORDINATES})
    state = unet.state_dict()
    weight = state["conv_in.weight"]
    state["conv_in.weight"] = torch.cat([weight, weight.new_zeros(weight.shape[0], COORDINATES, *weight.shape[2:])], 1)
    grown.load_state_dict(state)
    return grown.to(unet.device)
