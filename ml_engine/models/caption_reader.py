"""CaptionReader: gives the frozen text encoder's token states back their word order before the critic reads them.

The frozen MiniLM was trained for mean-pooled sentence embeddings, and its last-layer token states hardly depend
on where a word stands: in "a circle to the left of a square" and "a square to the left of a circle" the state of
"circle" agrees to cosine 0.96. A model that reads such states reads a caption as a bag of words, so which shape
is left of which, and which colour goes with which shape, cannot be told. The reader is a small transformer over
those states with a learned embedding per token index (started as sinusoids, Vaswani et al., 2017), so each word
can take in where it stands and what the words around it say.
Its output is added to the states through a zero-initialised projection: a new reader passes them through as they
are and grows in as it learns. The shipped critic reads the words through one pre-trained on captions alone
(training/caption_reader.py) and frozen (models/critic.py).

    reader = CaptionReader()
    states = reader(states, mask)  # [B, T, 384] -> [B, T, 384]; padding rows stay zero
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ml_engine.models.positions import sinusoids
from ml_engine.text.encoder import HIDDEN, MAX_TOKENS


class CaptionReader(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        width: int = HIDDEN,
        layers: int = 2,
        heads: int = 6,
        ff_mult: int = 2,
        max_tokens: int = MAX_TOKENS,
        position_scale: float = 0.5,
    ):
        super().__init__()
        self.norm_in = nn.LayerNorm(width)
        # a LayerNorm'd state has norm sqrt(width); the positions start at `position_scale` of that, large enough
        # that the layers see them from the first step (a zero start hardly grew in the critic)
        self.word_order = nn.Parameter(sinusoids(max_tokens, width) * position_scale * width**0.5)
        layer = nn.TransformerEncoderLayer(
            width,
            heads,
            dim_feedforward=ff_mult * width,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm_out = nn.LayerNorm(width)
        self.project = nn.Linear(width, width)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def read(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the reader adds to each token state [B, T, width] (padding rows included: `forward` zeroes them)."""
        words = self.norm_in(states) + self.word_order[:, : states.shape[1]].to(states.dtype)
        read = self.blocks(words, src_key_padding_mask=mask == 0)
        return self.project(self.norm_out(read))

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states [B, T, width] and their attention mask [B, T] (1 = a real token) -> read states."""
        return (states + self.read(states, mask)) * mask[..., None].to(states.dtype)
