"""Word-level attention maps shared by both generators.

A model attends over MiniLM word pieces ([CLS] a red cross ##es ...). People read words, so the
piece maps of one word are summed into a word map, each word map is upsampled to the image size
and scaled to [0, 1] by its own maximum (DAAM, Tang et al., 2023, normalises the same way).
Special tokens and padding get no map.

    words, piece_index = prompt_words(tokenizer, "two red crosses")   # ["two", "red", "crosses"], [[1], [2], [3, 4]]
    maps = word_maps(piece_maps, words, piece_index, size=64)         # AttentionMaps(words, [3, 64, 64])
    maps.to_sprite()                                                  # how the studio stores them: one PNG
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass
class AttentionMaps:
    words: list[str]  # the prompt's words, in order
    maps: np.ndarray  # [len(words), H, W] float32, each map scaled to [0, 1] by its maximum

    def to_json(self) -> dict:
        """Compact form kept with a generated image: maps quantised to 0..255 per pixel."""
        quantised = np.round(self.maps * 255).astype(np.uint8)
        flat = quantised.reshape(len(self.words), -1).tolist()
        return {"words": self.words, "size": list(self.maps.shape[1:]), "maps": flat}

    @classmethod
    def from_json(cls, data: dict) -> AttentionMaps:
        h, w = data["size"]
        maps = np.asarray(data["maps"], dtype=np.float32).reshape(len(data["words"]), h, w) / 255.0
        return cls(list(data["words"]), maps)

    def to_sprite(self) -> Image.Image:
        """The maps as one grayscale image (0..255), word i in rows i*H..(i+1)*H: a few KB as a PNG."""
        if not self.words:
            raise ValueError("no words, no maps to draw")
        quantised = np.round(np.clip(self.maps, 0, 1) * 255).astype(np.uint8)
        return Image.fromarray(quantised.reshape(-1, quantised.shape[-1]))  # uint8, 2-D: mode "L"

    @classmethod
    def from_sprite(cls, words: list[str], sprite: Image.Image) -> AttentionMaps:
        pixels = np.asarray(sprite.convert("L"), dtype=np.float32) / 255.0
        if not words or pixels.shape[0] % len(words):
            raise ValueError(f"a {pixels.shape[1]}x{pixels.shape[0]} sprite does not hold {len(words)} maps")
        return cls(list(words), pixels.reshape(len(words), -1, pixels.shape[1]))


def supports_attention(pipe) -> bool:
    """Whether a pipeline can return per-word attention maps: what it declares (`makes_attention_maps`, for a
    wrapper whose model may or may not cross-attend to the prompt's tokens), else whether its `__call__` takes
    `return_attention`."""
    declared = getattr(pipe, "makes_attention_maps", None)
    if declared is not None:
        return bool(declared)
    try:
        return "return_attention" in inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):  # no signature to read
        return False


def prompt_words(tokenizer, prompt: str, max_tokens: int) -> tuple[list[str], list[list[int]]]:
    """The prompt's words and, for each, the positions of its word pieces in the encoded sequence."""
    encoded = tokenizer(prompt, truncation=True, max_length=max_tokens, return_offsets_mapping=True)
    spans: list[list[int]] = []  # [start, end] character span of each word
    index: list[list[int]] = []
    last_word = None
    for position, (word_id, (start, end)) in enumerate(zip(encoded.word_ids(), encoded["offset_mapping"], strict=True)):
        if word_id is None:  # [CLS], [SEP]
            continue
        if word_id != last_word:
            spans.append([start, end])
            index.append([position])
        else:  # another piece of the same word ("cross", "##es")
            spans[-1][1] = end
            index[-1].append(position)
        last_word = word_id
    return [prompt[a:b] for a, b in spans], index


def map_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) of a map: an int is a square's side."""
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def word_maps(
    piece_maps: torch.Tensor, words: list[str], piece_index: list[list[int]], size: int | tuple[int, int]
) -> AttentionMaps:
    """piece_maps [tokens, h, w] (non-negative attention mass per word piece) -> AttentionMaps at `size` (H, W; an
    int: square)."""
    size = map_size(size)
    if not words:
        return AttentionMaps([], np.zeros((0, *size), np.float32))
    grouped = torch.stack([piece_maps[idx].sum(0) for idx in piece_index]).float()
    upsampled = F.interpolate(grouped[:, None], size=size, mode="bicubic", align_corners=False)[:, 0]
    upsampled = upsampled.clamp(min=0)
    peak = upsampled.flatten(1).max(dim=1).values.clamp(min=1e-12)
    return AttentionMaps(list(words), (upsampled / peak[:, None, None]).cpu().numpy().astype(np.float32))


def prompt_word_maps(
    tokenizer, prompts, piece_maps: torch.Tensor, max_tokens: int, size: int | tuple[int, int]
) -> list[AttentionMaps]:
    """Per image: piece_maps[i] ([tokens, h, w], image i's attention per word piece) -> prompts[i]'s word maps."""
    if len(prompts) != len(piece_maps):
        raise ValueError(f"{len(prompts)} prompts for {len(piece_maps)} images' maps")
    result = []
    for prompt, maps in zip(prompts, piece_maps, strict=True):
        words, index = prompt_words(tokenizer, prompt, max_tokens)
        result.append(word_maps(maps, words, index, size))
    return result
