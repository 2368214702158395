"""A small deterministic convolutional autoencoder: 64x64x3 pixels <-> 8x8x16 latents (f = 8).

It plays the part of Stable Diffusion's VAE (Rombach et al., 2022, "High-Resolution Image
Synthesis with Latent Diffusion Models"): it makes flat colour and crisp edges cheap, so that the
diffusion UNet only has to learn layout, on 8x8 instead of 64x64. Deterministic (no KL term):
the diffusion model sees latents normalised per channel by `latent_mean` / `latent_std`, which
are measured on the training set after the autoencoder is trained and stored in its config.
The input is pixel-unshuffled x2 first (cheap, lossless), and the decoder upsamples by nearest
neighbour + conv, which avoids checkerboard artefacts (Odena et al., 2016).

Saved and loaded with diffusers' `save_pretrained` / `from_pretrained` (safetensors).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


def _stage(c_in: int, c_out: int, blocks: int) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1)] if c_in != c_out else []
    return layers + [ResBlock(c_out) for _ in range(blocks)]


class ShapesAutoencoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        latent_channels: int = 16,
        encoder_widths: tuple[int, ...] = (48, 96, 128),  # at 32, 16, 8 px
        decoder_widths: tuple[int, ...] = (160, 112, 64),  # at 8, 16, 32 px: the decoder carries the detail
        decoder_blocks: int = 2,
        latent_mean: list[float] | None = None,
        latent_std: list[float] | None = None,
    ):
        super().__init__()
        e = encoder_widths
        self.encoder = nn.Sequential(
            nn.Conv2d(12, e[0], 3, padding=1),
            ResBlock(e[0]),
            nn.Conv2d(e[0], e[1], 3, stride=2, padding=1),
            ResBlock(e[1]),
            nn.Conv2d(e[1], e[2], 3, stride=2, padding=1),
            ResBlock(e[2]),
            nn.GroupNorm(8, e[2]),
            nn.SiLU(),
            nn.Conv2d(e[2], latent_channels, 3, padding=1),
        )
        d = decoder_widths
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, d[0], 3, padding=1),
            *_stage(d[0], d[0], decoder_blocks),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_stage(d[0], d[1], decoder_blocks),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_stage(d[1], d[2], decoder_blocks),
            nn.GroupNorm(8, d[2]),
            nn.SiLU(),
            nn.Conv2d(d[2], 12, 3, padding=1),
        )
        n = latent_channels
        self.register_buffer("_mean", torch.tensor(latent_mean or [0.0] * n).view(1, n, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(latent_std or [1.0] * n).view(1, n, 1, 1), persistent=False)

    # pixels are in [-1, 1], NCHW
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encoder(F.pixel_unshuffle(pixels, 2))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.decoder(latents), 2)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(pixels))

    # The diffusion model works in normalised latent space.
    def normalize(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents - self._mean) / self._std

    def denormalize(self, latents: torch.Tensor) -> torch.Tensor:
        return latents * self._std + self._mean

    def decode_normalized(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (what the generators paint) -> images in [-1, 1]."""
        return self.decode(self.denormalize(latents.to(self.dtype))).clamp(-1, 1)

    def set_latent_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.register_to_config(latent_mean=[float(v) for v in mean], latent_std=[float(v) for v in std])
        self._mean.copy_(mean.view_as(self._mean))
        self._std.copy_(std.view_as(self._std))


def load_autoencoder(path: str) -> ShapesAutoencoder:
    """A trained autoencoder folder, or a whole pipeline folder (its `autoencoder` subfolder)."""
    import os

    path = os.path.expanduser(path)
    if os.path.isfile(os.path.join(path, "model_index.json")):
        path = os.path.join(path, "autoencoder")
    return ShapesAutoencoder.from_pretrained(path, use_safetensors=True)
