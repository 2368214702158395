"""Caption-state cache for training: encode each distinct caption once, look it up afterwards.

States are kept in bfloat16 (a 24x384 caption costs 18 KB) in a buffer that doubles when full,
and can be saved to / loaded from a safetensors file keyed by caption text, so a resumed run
does not re-encode.
"""

from __future__ import annotations

import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ml_engine.text.encoder import HIDDEN, TextEncoder


class CaptionStateCache:
    def __init__(self, encoder: TextEncoder, batch_size: int = 256, capacity: int = 4096):
        self.encoder, self.batch_size = encoder, batch_size
        self.index: dict[str, int] = {}
        self._states = torch.zeros(capacity, encoder.max_tokens, HIDDEN, dtype=torch.bfloat16)
        self._mask = torch.zeros(capacity, encoder.max_tokens, dtype=torch.bool)

    def __len__(self) -> int:
        return len(self.index)

    def _grow(self, needed: int) -> None:
        capacity = self._states.shape[0]
        while capacity < needed:
            capacity *= 2
        if capacity != self._states.shape[0]:
            n = len(self.index)
            states = torch.zeros(capacity, *self._states.shape[1:], dtype=self._states.dtype)
            mask = torch.zeros(capacity, self._mask.shape[1], dtype=torch.bool)
            states[:n], mask[:n] = self._states[:n], self._mask[:n]
            self._states, self._mask = states, mask

    def add(self, captions: list[str]) -> None:
        new = list(dict.fromkeys(c for c in captions if c not in self.index))
        self._grow(len(self.index) + len(new))
        for start in range(0, len(new), self.batch_size):
            chunk = new[start : start + self.batch_size]
            states, mask = self.encoder(chunk)
            n = len(self.index)
            self._states[n : n + len(chunk)] = states.to(torch.bfloat16)
            self._mask[n : n + len(chunk)] = mask.to(torch.bool)
            for offset, caption in enumerate(chunk):
                self.index[caption] = n + offset

    def lookup(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(states float32 [B, T, 384], mask bool [B, T]) for the captions, encoding any unseen ones."""
        self.add(captions)
        ids = torch.tensor([self.index[c] for c in captions], dtype=torch.long)
        return self._states[ids].float(), self._mask[ids]

    def save(self, path: str) -> None:
        n = len(self.index)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        order = json.dumps(sorted(self.index, key=self.index.get))
        tensors = {"states": self._states[:n].contiguous(), "mask": self._mask[:n].to(torch.uint8).contiguous()}
        save_file(tensors, path, metadata={"captions": order})

    def load(self, path: str) -> None:
        with safe_open(path, "pt") as f:
            captions = json.loads(f.metadata()["captions"])
        tensors = load_file(path)
        self.index = {c: i for i, c in enumerate(captions)}
        self._states, self._mask = tensors["states"], tensors["mask"].to(torch.bool)
        self._grow(len(captions) + 1)


class DeviceCaptionStates:
    """The cache's interface without the cache, for training on an accelerator: each batch's captions are
    encoded where the model trains. There the encoder costs a few milliseconds a batch, and a run's millions
    of distinct captions (18 KB each) would not fit a cache in memory."""

    def __init__(self, encoder: TextEncoder, device: str):
        self.encoder, self.device = encoder, device

    def lookup(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = self.encoder(captions, device=self.device)
        return states, mask.to(torch.bool)

    def save(self, path: str) -> None:
        """Nothing to keep."""

    def load(self, path: str) -> None:
        """Nothing to restore."""
