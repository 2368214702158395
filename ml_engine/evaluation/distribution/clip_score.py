"""CLIP score: how well images match their prompts, by a CLIP model from a local folder.

Hessel et al. 2021, "CLIPScore: A Reference-free Evaluation Metric for Image Captioning"; computed
as torchmetrics' CLIPScore does: 100 * max(cos(image embedding, text embedding), 0) per pair,
averaged. The model loads with transformers' CLIPModel/CLIPProcessor from a local folder only
(`local_files_only=True`), named by the argument or by T2I_CLIP_MODEL; nothing is downloaded. Only
safetensors weights are accepted. On 64x64 Shapes renders CLIP sees an upscaled, out-of-domain
image: the score ranks prompt adherence roughly and is reported beside the domain metrics, not
instead of them.

    T2I_CLIP_MODEL=/models/clip-vit-base-patch32 python -c \
        "from ml_engine.evaluation.distribution.clip_score import clip_score; print(clip_score(images, prompts))"
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ml_engine.evaluation.distribution.extractors import as_uint8_images

CLIP_ENV = "T2I_CLIP_MODEL"


def clip_model_path(model_path: str | os.PathLike | None = None) -> Path:
    raw = str(model_path) if model_path is not None else os.environ.get(CLIP_ENV, "")
    if not raw or not os.path.isdir(raw):
        raise FileNotFoundError(
            f"the CLIP score needs a local CLIP model folder (config, safetensors weights, tokenizer, processor): "
            f"pass model_path or set {CLIP_ENV} ({f'no folder at {raw!r}' if raw else 'it is unset'}). "
            "Nothing is downloaded."
        )
    folder = Path(raw)
    pickles = [p.name for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".ckpt", ".pkl"}]
    if pickles:
        raise ValueError(f"refusing to load pickle-format weights in {folder}: {pickles[:3]}")
    return folder


@lru_cache(maxsize=2)
def _load(folder: str, device: str):
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    return model.eval().requires_grad_(False).to(device), processor


@torch.no_grad()
def clip_scores(
    images, prompts: list[str], model_path: str | os.PathLike | None = None, device: str = "cpu", batch_size: int = 64
) -> np.ndarray:
    """Per-pair CLIP scores, 100 * max(cos, 0), for images[i] against prompts[i]."""
    array = as_uint8_images(images)
    if len(array) != len(prompts):
        raise ValueError(f"{len(array)} images but {len(prompts)} prompts")
    model, processor = _load(str(clip_model_path(model_path)), device)
    scores = []
    for start in range(0, len(array), batch_size):
        chunk = list(array[start : start + batch_size])
        inputs = processor(
            text=list(prompts[start : start + batch_size]),
            images=chunk,
            return_tensors="pt",
            padding=True,
            truncation=True,
        ).to(device)
        out = model(**inputs)
        image = torch.nn.functional.normalize(out.image_embeds.float(), dim=-1)
        text = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)
        scores.append((100 * (image * text).sum(-1)).clamp(min=0).double().cpu().numpy())
    return np.concatenate(scores)


def clip_score(images, prompts: list[str], model_path: str | os.PathLike | None = None, device: str = "cpu") -> float:
    """The mean CLIP score of image-prompt pairs (torchmetrics' CLIPScore)."""
    return float(clip_scores(images, prompts, model_path, device).mean())
