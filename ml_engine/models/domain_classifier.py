"""A small CNN that reads Shapes renders: the domain feature extractor for FID, KID, IS and precision/recall.

ImageNet's Inception knows little about 64x64 scenes of coloured shapes (and its weights cannot be
fetched offline), so the default extractor is a classifier trained on the domain itself, as
domain-specific FIDs do (e.g. a digit classifier's features for MNIST generators). A stem
and three stride-2 stages (64 -> 8 px) end in a 4x4 grid of average-pooled features, so the embedding
still knows where things are, beside a global max pool, which keeps a small object's evidence from
being averaged away; a linear layer makes the `embed_dim` embedding, and linear heads on it read the
scene:
- `largest`: softmax over the (shape, colour) of the largest object, 4 x 8 = 32 classes (the IS classes);
- `presence`: each (shape, colour) pair present (32 sigmoids);
- `large`: each (shape, colour) pair present as a large object (32 sigmoids);
- `count`: the number of objects, 1-4 (softmax);
- `layout`: an object centre in each cell of a 4x4 grid (16 sigmoids).
The auxiliary heads make the embedding describe the whole scene, not just its largest object. The
metrics' feature is the embedding standardized by its mean and standard deviation on fresh renders
(buffers set after training): each dimension has unit variance on real data, so FID is in those
units and KID's kernel sees x.y / d of order 1, as with Inception's features; a raw embedding's
arbitrary scale would inflate both.

    model = DomainClassifier.from_pretrained("ml_engine/weights/domain_classifier")
    out = model(pixels_255)  # [B, 3, 64, 64] floats in 0..255 -> {"embedding", "features", "largest", ...}

Trained by ml_engine/training/domain_classifier.py. Weights are safetensors beside a config.json.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ml_engine.data import spec

PAIRS = [(shape, color) for shape in spec.SHAPES for color in spec.COLORS]  # class i = PAIRS[i]
LAYOUT_GRID = 4
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class DomainClassifierConfig:
    widths: tuple[int, ...] = (32, 64, 128, 192)  # channels of the stem (64 px) and of each stride-2 stage
    pooled_grid: int = 4  # the last feature map is average-pooled to this grid before the embedding
    embed_dim: int = 256  # the feature that FID/KID/precision-recall use
    heads: dict[str, int] = field(
        default_factory=lambda: {
            "largest": len(PAIRS),
            "presence": len(PAIRS),
            "large": len(PAIRS),
            "count": spec.MAX_OBJECTS - spec.MIN_OBJECTS + 1,
            "layout": LAYOUT_GRID * LAYOUT_GRID,
        }
    )


def _conv(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class DomainClassifier(nn.Module):
    def __init__(self, config: DomainClassifierConfig | None = None):
        super().__init__()
        self.config = config or DomainClassifierConfig()
        widths = self.config.widths
        layers = [_conv(3, widths[0], 1)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [_conv(c_in, c_out, 2), _conv(c_out, c_out, 1)]
        self.trunk = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(self.config.pooled_grid)
        self.embed = nn.Linear(widths[-1] * (self.config.pooled_grid**2 + 1), self.config.embed_dim)
        self.heads = nn.ModuleDict({name: nn.Linear(self.config.embed_dim, n) for name, n in self.config.heads.items()})
        self.register_buffer("feature_mean", torch.zeros(self.config.embed_dim))
        self.register_buffer("feature_std", torch.ones(self.config.embed_dim))

    def embedding(self, pixels_255: torch.Tensor) -> torch.Tensor:
        """[B, 3, 64, 64] pixel values 0..255 -> [B, embed_dim]."""
        if pixels_255.shape[1:] != (3, spec.CANVAS, spec.CANVAS):
            raise ValueError(f"expected [B, 3, {spec.CANVAS}, {spec.CANVAS}] images, got {tuple(pixels_255.shape)}")
        x = self.trunk(pixels_255 / 127.5 - 1)
        return self.embed(torch.cat([self.pool(x).flatten(1), x.amax(dim=(2, 3))], dim=1))

    def forward(self, pixels_255: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.embedding(pixels_255)
        heads = {name: head(embedding) for name, head in self.heads.items()}
        return {"embedding": embedding, "features": (embedding - self.feature_mean) / self.feature_std, **heads}

    def save_pretrained(self, folder: str, extra: dict | None = None, dtype: torch.dtype = torch.float16) -> None:
        """Weights as safetensors (float16 by default: half the size; they load back as float32) and the
        config (plus `extra`: how it was trained, its accuracy) as JSON."""
        os.makedirs(folder, exist_ok=True)
        state = {
            k: (v.to(dtype) if v.is_floating_point() else v).detach().contiguous().cpu()
            for k, v in self.state_dict().items()
        }
        save_file(state, os.path.join(folder, WEIGHTS_FILE))
        with open(os.path.join(folder, CONFIG_FILE), "w") as f:
            json.dump({"model": asdict(self.config), **(extra or {})}, f, indent=2)
            f.write("\n")

    @classmethod
    def from_pretrained(cls, folder: str) -> DomainClassifier:
        weights = os.path.join(folder, WEIGHTS_FILE)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"no domain classifier weights at {weights}")
        with open(os.path.join(folder, CONFIG_FILE)) as f:
            fields = json.load(f)["model"]
        fields["widths"] = tuple(fields["widths"])
        model = cls(DomainClassifierConfig(**fields))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in load_file(weights).items()})
        return model.eval()
