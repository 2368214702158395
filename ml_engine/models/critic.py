"""LatentCritic: how well an 8x8x16 autoencoder latent satisfies a caption, as one logit.

A small joint transformer (as in ViLT, Kim et al., 2021): the latent's 64 cells, each with a learned
position embedding, and the caption's MiniLM token states attend to each other through a few layers,
and a summary token reads the verdict. Every cell can look at every word and every other cell, so
the questions that a pooled sentence or a single cross-attention pass cannot answer are within reach:
which of two objects is left of the other (positions), how many crosses there are (a count over
cells), which colour belongs to which shape (binding). It is trained to tell a scene's true captions
from near misses of them (training/critic.py), and at sampling time it ranks the diffusion model's
candidates (pipelines/shapes.py): judging is easier to learn than drawing.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ml_engine.text.encoder import HIDDEN as WORD_DIM


class LatentCritic(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        latent_channels: int = 16,
        grid: int = 8,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        word_dim: int = WORD_DIM,
    ):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(latent_channels, width, 3, padding=1), nn.GELU(), nn.Conv2d(width, width, 3, padding=1)
        )
        self.cell_position = nn.Parameter(torch.randn(1, grid * grid, width) * 0.02)
        self.word_in = nn.Linear(word_dim, width)
        self.token_type = nn.Parameter(torch.randn(3, width) * 0.02)  # summary, cell, word
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 1)

    def forward(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised latents [B, C, 8, 8], caption states [B, T, 384] and their mask [B, T] -> logits [B]."""
        batch = latents.shape[0]
        cells = self.stem(latents).flatten(2).transpose(1, 2) + self.cell_position + self.token_type[1]
        words = self.word_in(words) + self.token_type[2]
        summary = self.token_type[0].expand(batch, 1, -1)
        tokens = torch.cat([summary, cells, words], dim=1)
        padding = torch.cat([mask.new_zeros(batch, 1 + cells.shape[1], dtype=torch.bool), ~mask.bool()], dim=1)
        out = self.encoder(tokens, src_key_padding_mask=padding)
        return self.head(self.norm(out[:, 0])).squeeze(-1)

    def score(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The pipeline's ranking interface (GANDiscriminator.score is the other)."""
        return self(latents, words, mask)


class JudgePanel(ModelMixin, ConfigMixin):
    """Several critics that rank together: each one's scores are standardised over an image's candidates
    (pipelines/shapes.py) and summed, so judges with different scales and strengths weigh alike. Measured: the
    GAN's discriminator judges colour binding best and LatentCritic v2 counting (docs/shapes-model.md)."""

    @register_to_config
    def __init__(self, judges: tuple[tuple[str, dict], ...] = ()):
        super().__init__()
        # not `self.judges`: diffusers resolves an attribute named like a config entry to the config value
        self.members = nn.ModuleList([judge_classes()[name](**config) for name, config in judges])

    @classmethod
    def of(cls, critics: list[nn.Module]) -> JudgePanel:
        settings = [(type(c).__name__, {k: v for k, v in c.config.items() if not k.startswith("_")}) for c in critics]
        panel = cls(judges=tuple(settings))
        for mine, theirs in zip(panel.members, critics, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return panel

    def score(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Every judge's scores, [judges, B]."""
        return torch.stack([judge.score(latents, words, mask).float() for judge in self.members])


def judge_classes() -> dict[str, type]:
    from ml_engine.models.gan import GANDiscriminator

    return {"LatentCritic": LatentCritic, "GANDiscriminator": GANDiscriminator}
