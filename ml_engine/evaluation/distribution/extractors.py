"""Pluggable feature extractors for the distribution metrics: one small protocol, two networks.

- `DomainClassifierExtractor` (offline default, shipped): the 256-d embedding of a CNN trained on
  Shapes renders (models/domain_classifier.py), standardized to unit variance on real renders, and
  its 32-way softmax over the (shape, colour) of the largest object, the Inception Score's classes.
- `InceptionV3Extractor`: the 2048-d pool features and 1008-way softmax of the FID Inception network
  with pytorch-fid's `pt_inception-2015-12-05` weights, only from a local safetensors file named by
  T2I_INCEPTION_WEIGHTS (convert pytorch-fid's .pth once where torch may unpickle it:
  `save_file(torch.load(pth), "pt_inception-2015-12-05.safetensors")`). Images are resized to 299
  bilinearly, as pytorch-fid does; figures are comparable to pytorch-fid's, not to clean-fid's
  (which resizes with PIL bicubic) and not across extractors.

Every extractor has a `name` that reports carry, a feature `dim`, `features(images)` and, where it
has classes, `class_probs(images)`; `encode` returns both from one pass. Images are uint8 arrays
[N, H, W, 3] or lists of PIL images / arrays.

    extractor = load_extractor("domain")  # or "inception"
    feats, probs = extractor.encode(images)
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

from ml_engine.data import spec

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
DOMAIN_CLASSIFIER_DIR = WEIGHTS_DIR / "domain_classifier"
INCEPTION_ENV = "T2I_INCEPTION_WEIGHTS"
INCEPTION_NAME = "inception-v3 (pytorch-fid weights)"


@runtime_checkable
class FeatureExtractor(Protocol):
    name: str  # carried by every report, so that figures from different extractors are never compared
    dim: int
    num_classes: int | None  # None: no class_probs, so no Inception Score

    def features(self, images) -> np.ndarray: ...

    def class_probs(self, images) -> np.ndarray: ...

    def encode(self, images) -> tuple[np.ndarray, np.ndarray | None]: ...


def as_uint8_images(images) -> np.ndarray:
    """uint8 [N, H, W, 3] from such an array or a list of PIL images / [H, W, 3] arrays."""
    if isinstance(images, np.ndarray):
        array = images
    else:
        images = list(images)
        if not images:
            raise ValueError("no images")
        array = np.stack([np.asarray(im.convert("RGB") if isinstance(im, Image.Image) else im) for im in images])
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"images must be uint8 [N, H, W, 3], got {array.dtype} {array.shape}")
    return array


class _TorchExtractor(ABC):
    """Shared batching: subclasses implement `_forward(pixels_255 [B, 3, H, W]) -> (features, logits | None)`."""

    name: str
    dim: int
    num_classes: int | None
    batch_size: int = 256

    def __init__(self, model: torch.nn.Module, device: str):
        self.model = model.eval().requires_grad_(False).to(device)
        self.device = device

    @abstractmethod
    def _forward(self, pixels_255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    @torch.no_grad()
    def encode(self, images) -> tuple[np.ndarray, np.ndarray | None]:
        array = as_uint8_images(images)
        feats, probs = [], []
        for start in range(0, len(array), self.batch_size):
            chunk = torch.from_numpy(array[start : start + self.batch_size]).to(self.device)
            f, logits = self._forward(chunk.permute(0, 3, 1, 2).float())
            feats.append(f.double().cpu().numpy())
            if logits is not None:
                probs.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
        return np.concatenate(feats), (np.concatenate(probs) if probs else None)

    def features(self, images) -> np.ndarray:
        return self.encode(images)[0]

    def class_probs(self, images) -> np.ndarray:
        if self.num_classes is None:
            raise NotImplementedError(f"{self.name} has no classes")
        return self.encode(images)[1]


def _short_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


class DomainClassifierExtractor(_TorchExtractor):
    def __init__(self, folder: str | os.PathLike = DOMAIN_CLASSIFIER_DIR, device: str = "cpu"):
        from ml_engine.models.domain_classifier import PAIRS, WEIGHTS_FILE, DomainClassifier

        folder = Path(folder)
        super().__init__(DomainClassifier.from_pretrained(str(folder)), device)
        self.dim = self.model.config.embed_dim
        self.num_classes = len(PAIRS)
        self.class_names = [f"{color} {shape}" for shape, color in PAIRS]
        self.name = f"shapes-domain-classifier ({folder.name} {_short_hash(folder / WEIGHTS_FILE)}, {self.dim}-d)"

    def _forward(self, pixels_255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pixels_255.shape[-2:] != (spec.CANVAS, spec.CANVAS):
            raise ValueError(f"the domain classifier reads {spec.CANVAS}x{spec.CANVAS} images, got {pixels_255.shape}")
        out = self.model(pixels_255)
        return out["features"], out["largest"]


class InceptionV3Extractor(_TorchExtractor):
    batch_size = 32

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu"):
        from safetensors.torch import load_file

        from ml_engine.models.fid_inception import FEATURE_DIM, NUM_CLASSES, FIDInceptionV3

        raw = str(weights) if weights is not None else os.environ.get(INCEPTION_ENV, "")
        if not raw or not os.path.isfile(raw):
            raise FileNotFoundError(
                f"{INCEPTION_NAME} needs a local safetensors file of pytorch-fid's pt_inception-2015-12-05 state "
                f"dict: set {INCEPTION_ENV} to its path ({f'no file at {raw!r}' if raw else 'it is unset'}). "
                "Nothing is downloaded; the offline default extractor is 'domain'."
            )
        path = Path(raw)
        if path.suffix != ".safetensors":
            raise ValueError(f"refusing to load {path}: only .safetensors weights are loaded, never pickles")
        model = FIDInceptionV3()
        missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # absent from older state dicts
        if missing or unexpected:
            raise ValueError(
                f"{path} is not a pytorch-fid Inception state dict: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        super().__init__(model, device)
        self.dim, self.num_classes = FEATURE_DIM, NUM_CLASSES
        self.name = INCEPTION_NAME
        self.weights = str(path)

    def _forward(self, pixels_255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(pixels_255 / 255)


EXTRACTORS = ("domain", "inception")


def available_extractors() -> list[str]:
    """The extractors that can load here: the shipped domain classifier, Inception when its file is set."""
    names = ["domain"] if (DOMAIN_CLASSIFIER_DIR / "model.safetensors").is_file() else []
    if os.path.isfile(os.environ.get(INCEPTION_ENV, "")):
        names.append("inception")
    return names


def load_extractor(name: str = "domain", device: str = "cpu") -> FeatureExtractor:
    if name == "domain":
        return DomainClassifierExtractor(device=device)
    if name == "inception":
        return InceptionV3Extractor(device=device)
    raise ValueError(f"unknown extractor {name!r}; choose from {EXTRACTORS}")
