"""Per-image realism: how far inside the real renders' feature manifold one image lies.

The realism score of Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing Generative Models"
(NeurIPS 2019), Eq. 3: for a generated image's features g and real features r, each with the distance to its k-th
nearest real neighbour as its radius,

    realism(g) = max over r of  radius(r) / ||g - r||

computed over the real samples whose radius is at most the median (the paper drops the half with the largest
balls, which are the outliers that would let anything count as real). A score of 1 or more means g lies inside
at least one real sample's k-NN ball; the higher, the deeper inside. With half the balls dropped, fresh real
renders themselves score about 1 at the median, so the file also keeps the scores of fresh renders (a scene
stream apart from the manifold's): an image's percentile among them says what its score means.

The manifold is built once from fresh renders with the domain extractor (distribution/extractors.py) and shipped
as a small safetensors file; it is the same feature space as the model page's precision and recall.

    python -m ml_engine.evaluation.realism --n 8192 --seed 5 --reference 1000
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ml_engine.evaluation.distribution.metrics import knn_radii

MANIFOLD_PATH = Path(__file__).resolve().parents[1] / "weights" / "image_scores" / "realism_manifold.safetensors"
K = 3  # the paper's choice for precision and recall


@dataclass(frozen=True)
class RealismManifold:
    """Real samples' features [M, D] and k-NN radii [M], pruned to the radii at most the median."""

    features: torch.Tensor
    radii: torch.Tensor
    extractor: str
    k: int = K
    real_count: int = 0  # the real set the radii were measured in (twice the kept samples, about)
    reference: torch.Tensor | None = None  # sorted realism scores of fresh renders, for percentiles

    @classmethod
    def of_real_features(cls, real: np.ndarray, *, extractor: str, k: int = K) -> RealismManifold:
        features = torch.from_numpy(np.ascontiguousarray(real, dtype=np.float32))
        radii = knn_radii(features, k)
        kept = radii <= radii.median()
        return cls(features=features[kept], radii=radii[kept], extractor=extractor, k=k, real_count=len(features))

    def scores(self, features: np.ndarray, block: int = 256) -> np.ndarray:
        """Each row's realism score (float32 [N])."""
        query = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        if query.ndim != 2 or query.shape[1] != self.features.shape[1]:
            raise ValueError(f"features must be [N, {self.features.shape[1]}], got {tuple(query.shape)}")
        out = []
        for start in range(0, len(query), block):
            distances = torch.cdist(query[start : start + block], self.features).clamp_min(1e-12)
            out.append((self.radii[None, :] / distances).max(dim=1).values)
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)

    def with_reference(self, real_features: np.ndarray) -> RealismManifold:
        """This manifold, knowing the scores of fresh real renders (not those it was built from)."""
        reference = torch.from_numpy(np.sort(self.scores(real_features)))
        return RealismManifold(self.features, self.radii, self.extractor, self.k, self.real_count, reference)

    def percentiles(self, scores: np.ndarray) -> np.ndarray:
        """The share of fresh real renders (0-100) that score below each score."""
        if self.reference is None:
            raise ValueError("this manifold has no reference scores (build it with --reference)")
        below = torch.searchsorted(self.reference, torch.as_tensor(scores, dtype=torch.float32))
        return (100.0 * below / len(self.reference)).numpy()

    def save(self, path: str | Path, *, command: str = "") -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        metadata = {"extractor": self.extractor, "k": str(self.k), "real_count": str(self.real_count)}
        if command:
            metadata["command"] = command
        tensors = {"features": self.features.half().contiguous(), "radii": self.radii.float().contiguous()}
        if self.reference is not None:
            tensors["reference"] = self.reference.float().contiguous()
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path = MANIFOLD_PATH) -> RealismManifold:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        return cls(
            features=tensors["features"].float(),
            radii=tensors["radii"].float(),
            extractor=metadata.get("extractor", ""),
            k=int(metadata.get("k", K)),
            real_count=int(metadata.get("real_count", 0)),
            reference=tensors.get("reference"),
        )


def build_manifold(n: int, seed: int, *, reference: int = 1000, extractor=None) -> RealismManifold:
    """The manifold of `n` fresh renders (scene stream `seed`) in the extractor's feature space, with the scores of
    `reference` renders of the next stream."""
    from ml_engine.evaluation.distribution.extractors import load_extractor
    from ml_engine.evaluation.distribution.report import render_real_images

    extractor = extractor or load_extractor("domain")
    manifold = RealismManifold.of_real_features(
        extractor.features(render_real_images(n, seed)), extractor=extractor.name
    )
    return manifold.with_reference(extractor.features(render_real_images(reference, seed + 1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the real-render manifold of the per-image realism score.")
    parser.add_argument("--n", type=int, default=8192, help="real renders (the manifold keeps about half)")
    parser.add_argument("--seed", type=int, default=5, help="their scene stream (not the evaluation's streams)")
    parser.add_argument("--reference", type=int, default=1000, help="fresh renders scored for the percentiles")
    parser.add_argument("--out", default=str(MANIFOLD_PATH))
    args = parser.parse_args(argv)
    manifold = build_manifold(args.n, args.seed, reference=args.reference)
    command = f"python -m ml_engine.evaluation.realism --n {args.n} --seed {args.seed} --reference {args.reference}"
    manifold.save(args.out, command=command)
    fresh = manifold.reference.numpy()
    summary = {
        "kept": len(manifold.radii),
        "real_count": manifold.real_count,
        "fresh_renders_inside": round(float((fresh >= 1).mean()), 3),
        "fresh_renders_quartiles": [round(float(q), 3) for q in np.quantile(fresh, [0.25, 0.5, 0.75])],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
