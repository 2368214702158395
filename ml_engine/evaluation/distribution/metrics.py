"""Distribution metrics on feature arrays: FID, KID, Inception Score, improved precision and recall.

Pure functions on NumPy arrays (float64), independent of the network that made the features:
- FID: Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium"; the Frechet distance exactly as pytorch-fid computes it (scipy sqrtm, an eps offset
  on the diagonals when the product is singular, the real part of a numerically complex root).
- KID: Binkowski et al. 2018, "Demystifying MMD GANs"; the unbiased MMD^2 with the cubic
  polynomial kernel k(x, y) = (x.y / d + 1)^3 averaged over random subsets, as clean-fid and
  torchmetrics compute it (mean and standard deviation over the subsets).
- Inception Score: Salimans et al. 2016, "Improved Techniques for Training GANs";
  exp(E_x KL(p(y|x) || p(y))), mean and standard deviation over splits.
- Precision and recall: Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models"; a sample is covered when it lies inside the k-NN ball (k = 3) of
  some sample of the other set. Distances are computed in row blocks with torch.cdist, so
  10k x 10k sets fit in memory.

Run: nothing to run; `distribution_report` (report.py) calls these on extractor features.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg
from scipy.special import xlogy


def _as_2d(features: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or len(array) < 2:
        raise ValueError(f"{name} must be a [N, D] feature array with N >= 2, got shape {array.shape}")
    return array


def feature_moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N - 1) covariance of a [N, D] feature array, as pytorch-fid."""
    features = _as_2d(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)): the Frechet distance of two Gaussians."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"mismatched moments: {mu1.shape}, {sigma1.shape} vs {mu2.shape}, {sigma2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # a singular product (fewer samples than dimensions): offset both diagonals, as pytorch-fid
        warnings.warn(f"FID: singular covariance product; adding {eps} to the diagonals", stacklevel=2)
        offset = np.eye(len(mu1)) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag))} in the matrix square root")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets: the Frechet distance of their fitted Gaussians."""
    a, b = _as_2d(features_a, "features_a"), _as_2d(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance(*feature_moments(a), *feature_moments(b))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3, the KID kernel (degree 3, gamma 1/d, coef 1)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size sets: off-diagonal means of k(x, x') and k(y, y'), minus 2 mean k(x, y)."""
    m = len(x)
    if len(y) != m or m < 2:
        raise ValueError(f"mmd2_unbiased wants two sets of the same size >= 2, got {len(x)} and {len(y)}")
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


def kid(
    features_a: np.ndarray, features_b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID: mean and std of the unbiased MMD^2 over `subsets` random subsets of min(subset_size, N_a, N_b)
    samples drawn without replacement from each set (clean-fid / torchmetrics defaults: 100 x 1000)."""
    a, b = _as_2d(features_a, "features_a"), _as_2d(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(mean_x KL(p(y|x) || p(y))) within each of `splits` consecutive parts; mean and std over parts."""
    probs = _as_2d(probs, "probs")
    if splits < 1 or splits > len(probs):
        raise ValueError(f"splits must be in 1..{len(probs)}, got {splits}")
    if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        raise ValueError("probs must be rows of class probabilities (non-negative, summing to 1)")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (xlogy(part, part) - xlogy(part, marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _blocks(n: int, block: int):
    for start in range(0, n, block):
        yield slice(start, min(start + block, n))


def knn_radii(features: torch.Tensor, k: int = 3, block: int = 1024) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the k-NN ball radius)."""
    if len(features) <= k:
        raise ValueError(f"k-NN radii need more than k = {k} samples, got {len(features)}")
    radii = torch.empty(len(features), dtype=features.dtype)
    for rows in _blocks(len(features), block):
        distances = torch.cdist(features[rows], features)
        radii[rows] = distances.kthvalue(k + 1, dim=1).values  # the 1st is the row itself, at distance 0
    return radii


def coverage_share(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, block: int = 1024) -> float:
    """Share of `queries` that lie inside (<=) the ball of at least one centre."""
    inside = 0
    for rows in _blocks(len(queries), block):
        inside += int((torch.cdist(queries[rows], centres) <= radii[None, :]).any(dim=1).sum())
    return inside / len(queries)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, block: int = 1024) -> tuple[float, float]:
    """Improved precision (share of fake samples inside the real manifold) and recall (share of real
    samples inside the fake manifold), each manifold the union of its samples' k-NN balls."""
    real_t = torch.from_numpy(_as_2d(real, "real"))
    fake_t = torch.from_numpy(_as_2d(fake, "fake"))
    if real_t.shape[1] != fake_t.shape[1]:
        raise ValueError(f"feature dims differ: {real_t.shape[1]} vs {fake_t.shape[1]}")
    precision = coverage_share(fake_t, real_t, knn_radii(real_t, k, block), block)
    recall = coverage_share(real_t, fake_t, knn_radii(fake_t, k, block), block)
    return precision, recall
