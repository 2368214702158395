"""A text-conditional GAN for the Shapes domain: DF-GAN fusion blocks with AttnGAN word attention.

Generator (Tao et al., 2022, "DF-GAN: A Simple and Effective Baseline for Text-to-Image
Synthesis"): noise -> 4x4 features -> fusion blocks, each modulating its features by per-channel
affine transforms predicted from the condition (noise + sentence embedding), instead of stacked
generators. Word attention (Xu et al., 2018, "AttnGAN"): at the 8x8 stages every region attends
over the caption's word states and mixes in a word context vector; the attention weights are the
per-word heatmaps shown to users.

The generator paints the same 8x8x16 normalised latents that the diffusion model denoises, and
the shared frozen autoencoder decodes them to 64x64 pixels: the adversarial game is played on 1/48
of the pixels, which is what makes it trainable on a 2-core CPU (as latent diffusion does for
diffusion). The discriminator judges (latent, sentence) pairs and is trained with the hinge loss
and DF-GAN's matching-aware zero-centred gradient penalty (MA-GP).

Text: MiniLM token states [B, T, 384] with their mask; the sentence embedding is their masked mean,
L2-normalised (how all-MiniLM-L6-v2 builds its own sentence vector).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

WORD_DIM = 384


def sentence_embedding(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean of token states, L2-normalised: [B, T, D], [B, T] -> [B, D]."""
    weights = mask.to(states.dtype).unsqueeze(-1)
    pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
    return F.normalize(pooled, dim=-1)


class Affine(nn.Module):
    """Per-channel scale and shift predicted from the condition (starts as the identity)."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(), nn.Linear(channels, channels))
        self.beta = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(), nn.Linear(channels, channels))
        for head, bias in ((self.gamma[-1], 1.0), (self.beta[-1], 0.0)):
            nn.init.zeros_(head.weight)
            nn.init.constant_(head.bias, bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.gamma(cond)[:, :, None, None] * x + self.beta(cond)[:, :, None, None]


class FusionBlock(nn.Module):
    """DF-GAN's generator block: (affine, LeakyReLU) x 2 -> conv, twice, plus a learned shortcut."""

    def __init__(self, cond_dim: int, c_in: int, c_out: int, upsample: bool):
        super().__init__()
        self.upsample = upsample
        self.fuse1 = nn.ModuleList([Affine(cond_dim, c_in), Affine(cond_dim, c_in)])
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.fuse2 = nn.ModuleList([Affine(cond_dim, c_out), Affine(cond_dim, c_out)])
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = x
        for affine in self.fuse1:
            h = F.leaky_relu(affine(h, cond), 0.2)
        h = self.conv1(h)
        for affine in self.fuse2:
            h = F.leaky_relu(affine(h, cond), 0.2)
        return self.shortcut(x) + self.conv2(h)


class WordAttention(nn.Module):
    """AttnGAN's attention: each region queries the words; returns features and weights [B, H*W, T]."""

    def __init__(self, channels: int, word_dim: int = WORD_DIM):
        super().__init__()
        self.query = nn.Conv2d(channels, channels, 1)
        self.key = nn.Linear(word_dim, channels)
        self.value = nn.Linear(word_dim, channels)
        self.mix = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, h: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, height, width = h.shape
        query = self.query(h).flatten(2).transpose(1, 2)  # [B, HW, C]
        logits = query @ self.key(words).transpose(1, 2) / math.sqrt(c)  # [B, HW, T]
        logits = logits.masked_fill(~mask.bool()[:, None, :], torch.finfo(logits.dtype).min)
        weights = logits.softmax(dim=-1)
        context = (weights @ self.value(words)).transpose(1, 2).reshape(b, c, height, width)
        return h + self.mix(torch.cat([h, context], dim=1)), weights


class GANGenerator(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        noise_dim: int = 64,
        latent_channels: int = 16,
        widths: tuple[int, ...] = (256, 192, 128),  # at 4x4, then 8x8 (each followed by word attention)
        word_dim: int = WORD_DIM,
        cond_dim: int = 128,
    ):
        super().__init__()
        self.sentence = nn.Linear(word_dim, cond_dim)
        cond = noise_dim + cond_dim  # DF-GAN v2 conditions the affines on noise and sentence together
        self.stem = nn.Linear(noise_dim, widths[0] * 16)
        self.block4 = FusionBlock(cond, widths[0], widths[0], upsample=False)
        self.blocks8 = nn.ModuleList()
        self.attention = nn.ModuleList()
        c_in = widths[0]
        for i, c_out in enumerate(widths[1:]):
            self.blocks8.append(FusionBlock(cond, c_in, c_out, upsample=i == 0))
            self.attention.append(WordAttention(c_out, word_dim))
            c_in = c_out
        self.out = nn.Conv2d(c_in, latent_channels, 3, padding=1)

    def forward(
        self, noise: torch.Tensor, words: torch.Tensor, mask: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        cond = torch.cat([noise, self.sentence(sentence_embedding(words, mask))], dim=1)
        h = self.stem(noise).view(noise.shape[0], -1, 4, 4)
        h = self.block4(h, cond)
        maps = []
        for block, attention in zip(self.blocks8, self.attention, strict=True):
            h, weights = attention(block(h, cond), words, mask)
            maps.append(weights)
        latents = self.out(F.leaky_relu(h, 0.2))
        return (latents, maps) if return_attention else latents


class GANDiscriminator(ModelMixin, ConfigMixin):
    """Judges whether a latent is real and matches the sentence.

    Three conditional terms: DF-GAN's head over the features concatenated with the sentence; a
    projection term (Miyato & Koyama, 2018), the inner product of the pooled features with an
    embedding of the sentence; and a word-level term: each 4x4 region attends over the words and
    scores its features against its own word context. A mean-pooled sentence cannot tell "a red
    circle and a blue square" from "a blue circle and a red square", nor "left of" from "right of"
    between swapped objects; region-word matching can (the role AttnGAN's DAMSM loss plays).
    Optional spectral normalisation (Miyato et al., 2018).
    """

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 16,
        widths: tuple[int, ...] = (128, 256),
        word_dim: int = WORD_DIM,
        spectral_norm: bool = True,
    ):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.stem = sn(nn.Conv2d(latent_channels, widths[0], 3, padding=1))
        self.down = nn.Sequential(
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(widths[0], widths[1], 4, stride=2, padding=1)),  # 8x8 -> 4x4
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(widths[1], widths[1], 3, padding=1)),
            nn.LeakyReLU(0.2),
        )
        self.joint = nn.Sequential(
            sn(nn.Conv2d(widths[1] + word_dim, widths[1], 3, padding=1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(widths[1], 1, 4)),  # 4x4 -> one logit
        )
        self.projection = sn(nn.Linear(word_dim, widths[1]))
        self.word_query = nn.Conv2d(widths[1], widths[1], 1)
        self.word_key = nn.Linear(word_dim, widths[1])
        self.word_value = sn(nn.Linear(word_dim, widths[1]))

    def word_match(self, features: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sum over regions of <region features, the region's attended word context>."""
        query = self.word_query(features).flatten(2).transpose(1, 2)  # [B, 16, C]
        logits = query @ self.word_key(words).transpose(1, 2) / math.sqrt(query.shape[-1])
        weights = logits.masked_fill(~mask.bool()[:, None, :], torch.finfo(logits.dtype).min).softmax(-1)
        context = weights @ self.word_value(words)  # [B, 16, C]
        return (features.flatten(2).transpose(1, 2) * context).sum(dim=(1, 2)) / features.shape[2]

    def features(self, latents: torch.Tensor) -> torch.Tensor:
        return self.down(self.stem(latents))

    def judge(self, features: torch.Tensor, sentence: torch.Tensor, words=None, mask=None) -> torch.Tensor:
        tiled = sentence[:, :, None, None].expand(-1, -1, features.shape[2], features.shape[3])
        concat = self.joint(torch.cat([features, tiled], dim=1)).flatten()
        projection = (features.sum(dim=(2, 3)) * self.projection(sentence)).sum(dim=1)
        if words is None:
            return concat + projection
        return concat + projection + self.word_match(features, words, mask)

    def forward(self, latents: torch.Tensor, sentence: torch.Tensor, words=None, mask=None) -> torch.Tensor:
        return self.judge(self.features(latents), sentence, words, mask)

    def score(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The ranking interface that the pipelines call on a critic (models/critic.py has the other)."""
        return self(latents, sentence_embedding(words, mask), words, mask)


class GANPair(nn.Module):
    """Generator and discriminator under one module, so one checkpoint and one optimiser hold both."""

    def __init__(self, generator: GANGenerator, discriminator: GANDiscriminator):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
