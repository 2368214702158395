"""Fixed sinusoidal position table (Vaswani et al., 2017), the starting value of learned word-order embeddings."""

from __future__ import annotations

import torch


def sinusoids(length: int, width: int) -> torch.Tensor:
    """[1, length, width], each row of unit norm."""
    position = torch.arange(length).float()[:, None]
    frequency = torch.exp(-torch.arange(0, width, 2).float() / width * torch.log(torch.tensor(10_000.0)))
    table = torch.zeros(length, width)
    table[:, 0::2], table[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
    return (table / table.norm(dim=-1, keepdim=True))[None]
