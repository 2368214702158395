"""The scores every new Shapes image carries, computed by the worker right after the model drew it.

- realism: the image's realism score against the real renders' manifold (evaluation/realism.py: Kynkäänniemi
  et al. 2019, Eq. 3, in the domain extractor's features), and its percentile among fresh real renders;
- alignment: the ranking's confidence that the image shows its prompt. The judge is the member of the shipped
  diffusion model's ranking panel that agrees best with the Shapes evaluator on finished images (chosen by
  measurement, recorded in ALIGNMENT_PATH), reading the image's own latent re-encoded by the autoencoder, so a
  GAN's picture and a diffusion model's are judged alike. Its logit becomes a probability by a logistic fit
  (Platt scaling) on one evaluation draw, checked on others: 0.9 means about nine in ten such images pass.

Neither is the Shapes evaluator's verdict (which parses the rendered scene and stays offline): both are learnt
judges, reported as what they are.

    python -m ml_engine.evaluation.image_scores draw --prompt-seed 31 --out ~/.cache/t2i-scores/draw31.npz
    python -m ml_engine.evaluation.image_scores fit ~/.cache/t2i-scores/draw31.npz     # writes ALIGNMENT_PATH
    python -m ml_engine.evaluation.image_scores check ~/.cache/t2i-scores/draw47.npz ...
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ml_engine.evaluation.realism import MANIFOLD_PATH, RealismManifold

DIFFUSION_DIR = Path(__file__).resolve().parents[1] / "weights" / "diffusion"
ALIGNMENT_PATH = MANIFOLD_PATH.parent / "alignment.json"  # the judge, its calibration and how they were chosen
SCORED_SIZE = (64, 64)  # the Shapes domain's canvas: other models' images are not scored
JUDGES = ("GANDiscriminator", "LatentCritic")


@dataclass(frozen=True)
class ImageScores:
    realism: float  # >= 1: inside the real manifold
    realism_percentile: float  # share of fresh real renders (0-100) that score lower
    alignment: float  # 0-1, the calibrated chance that the Shapes evaluator passes the image

    def as_dict(self) -> dict[str, float]:
        return {name: round(float(value), 4) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class Calibration:
    """sigmoid(slope * logit + intercept): a judge's logit as the chance that the evaluator passes the image."""

    judge: str
    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * np.asarray(logits, dtype=np.float64) + self.intercept)))

    @classmethod
    def load(cls, path: Path = ALIGNMENT_PATH) -> Calibration:
        record = json.loads(Path(path).read_text())
        return cls(record["judge"], record["slope"], record["intercept"])


def ranking_judge(name: str, folder: Path = DIFFUSION_DIR / "critic"):
    """The member of a model's ranking panel whose class is `name` (or the critic itself, if it is one)."""
    from ml_engine.models.critic import JudgePanel, judge_classes

    kind = json.loads((folder / "config.json").read_text())["_class_name"]
    if kind == "JudgePanel":
        members = JudgePanel.from_pretrained(str(folder)).members
        critic = next((member for member in members if type(member).__name__ == name), None)
        if critic is None:
            raise ValueError(f"the panel in {folder} has no {name}")
    elif kind == name:
        critic = judge_classes()[name].from_pretrained(str(folder))
    else:
        raise ValueError(f"{folder} holds a {kind}, not a {name}")
    return critic.eval().requires_grad_(False)


class ImageScorer:
    """Loads the domain extractor, the real manifold, the autoencoder, the judge and the text encoder once."""

    def __init__(self, *, manifold: RealismManifold, extractor, autoencoder, judge, calibration: Calibration, text):
        if extractor.name != manifold.extractor:
            raise ValueError(f"the manifold was built with {manifold.extractor!r}, not {extractor.name!r}")
        self.manifold, self.extractor, self.autoencoder, self.text = manifold, extractor, autoencoder, text
        self.judge, self.calibration = judge, calibration

    @classmethod
    def load(
        cls,
        *,
        manifold_path: str | Path = MANIFOLD_PATH,
        model_dir: str | Path = DIFFUSION_DIR,
        calibration: Calibration | None = None,
    ) -> ImageScorer:
        from ml_engine.evaluation.distribution.extractors import load_extractor
        from ml_engine.models.autoencoder import load_autoencoder
        from ml_engine.text.encoder import TextEncoder

        model_dir = Path(model_dir)
        calibration = calibration or Calibration.load()
        return cls(
            manifold=RealismManifold.load(manifold_path),
            extractor=load_extractor("domain"),
            autoencoder=load_autoencoder(str(model_dir)).eval().requires_grad_(False),
            judge=ranking_judge(calibration.judge, model_dir / "critic"),
            calibration=calibration,
            text=TextEncoder.load(),
        )

    @staticmethod
    def scores_image(image: Image.Image) -> bool:
        return image.size == SCORED_SIZE

    @torch.no_grad()
    def judge_logits(self, images: list[Image.Image], prompts: list[str]) -> np.ndarray:
        """The judge's raw match logit for each image's latent (re-encoded) under its prompt."""
        pixels = torch.from_numpy(np.stack([np.asarray(im.convert("RGB")) for im in images])).permute(0, 3, 1, 2)
        latents = self.autoencoder.normalize(self.autoencoder.encode(pixels.float() / 127.5 - 1))
        states, mask = self.text(prompts)
        length = int(mask.sum(dim=1).max())  # the words only, as the pipeline's ranking reads them
        return self.judge.score(latents, states[:, :length], mask[:, :length]).float().numpy()

    def __call__(self, images: list[Image.Image], prompts: list[str]) -> list[ImageScores]:
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
        if not images:
            return []
        if not all(self.scores_image(image) for image in images):
            raise ValueError(f"only {SCORED_SIZE[0]}x{SCORED_SIZE[1]} Shapes images are scored")
        realism = self.manifold.scores(self.extractor.features(images))
        percentiles = self.manifold.percentiles(realism)
        alignment = self.calibration(self.judge_logits(images, prompts))
        return [ImageScores(*values) for values in zip(realism, percentiles, alignment, strict=True)]


def rank_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """The probability that a random positive outscores a random negative (ties count half): ROC AUC."""
    scores, positives = np.asarray(scores, dtype=np.float64), np.asarray(positives, dtype=bool)
    pos, neg = scores[positives], scores[~positives]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def logistic_fit(logits: np.ndarray, passed: np.ndarray, steps: int = 100) -> tuple[float, float]:
    """(slope, intercept) of the logistic regression of `passed` on `logits` (Platt scaling), by Newton's method
    with a little ridge, which keeps a draw whose classes the logit separates finite."""
    x = torch.tensor(np.asarray(logits, dtype=np.float64))
    y = torch.tensor(np.asarray(passed, dtype=np.float64))
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    weights = torch.zeros(2, dtype=torch.float64)
    ridge = 1e-3 * torch.eye(2, dtype=torch.float64)
    for _ in range(steps):
        p = torch.sigmoid(design @ weights)
        gradient = design.T @ (p - y) + ridge @ weights
        step = torch.linalg.solve(design.T @ (design * (p * (1 - p))[:, None]) + ridge, gradient)
        weights -= step
        if float(step.abs().max()) < 1e-10:
            break
    return float(weights[0]), float(weights[1])


def _draw(path: str) -> tuple[list[Image.Image], list[str], np.ndarray]:
    draw = np.load(path)
    return [Image.fromarray(a) for a in draw["images"]], [str(t) for t in draw["texts"]], draw["flags"].astype(bool)


def _logits(scorer: ImageScorer, images: list, texts: list[str], block: int = 256) -> np.ndarray:
    return np.concatenate(
        [scorer.judge_logits(images[i : i + block], texts[i : i + block]) for i in range(0, len(texts), block)]
    )


def draw_figures(scorer: ImageScorer, path: str) -> dict:
    """On one cached draw: the evaluator's pass rate, the judge's AUC, the calibrated mean beside the pass rate and
    the Brier score, and where the draw's images fall on the realism scale."""
    images, texts, passed = _draw(path)
    logits = _logits(scorer, images, texts)
    alignment = scorer.calibration(logits)
    realism = scorer.manifold.scores(scorer.extractor.features(images))
    return {
        "draw": Path(path).name,
        "images": len(passed),
        "evaluator_pass_rate": round(float(passed.mean()), 3),
        "alignment_auc": round(rank_auc(logits, passed), 3),
        "alignment_mean": round(float(alignment.mean()), 3),
        "alignment_brier": round(float(((alignment - passed) ** 2).mean()), 4),
        "brier_of_the_pass_rate_alone": round(float(passed.mean() * (1 - passed.mean())), 4),
        "realism_inside_share": round(float((realism >= 1).mean()), 3),
        "realism_median": round(float(np.median(realism)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Calibrate and check the per-image alignment score.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("draw", help="generate an evaluation draw; cache its images, prompts and verdicts")
    make.add_argument("--model", default="diffusion")
    make.add_argument("--prompt-seed", type=int, required=True)
    make.add_argument("--per-category", type=int, default=12)
    make.add_argument("--seeds", type=int, default=2)
    make.add_argument("--out", required=True)
    fit = sub.add_parser("fit", help="choose the judge and calibrate it on one draw; writes ALIGNMENT_PATH")
    fit.add_argument("draw")
    check = sub.add_parser("check", help="the calibrated score's figures on other draws")
    check.add_argument("draws", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "draw":
        from ml_engine.evaluation.prompts import prompt_set
        from ml_engine.evaluation.run import evaluate_pipeline
        from ml_engine.pipelines.loader import load_pipeline

        pipe, seeds = load_pipeline(args.model), list(range(args.seeds))
        prompts = prompt_set(args.per_category, seed=args.prompt_seed)
        result = evaluate_pipeline(pipe, prompts, seeds, steps=pipe.default_steps, guidance=pipe.default_guidance)
        np.savez_compressed(
            args.out,
            images=np.stack([np.asarray(image.convert("RGB")) for image in result.images]),
            flags=np.asarray(result.flags),
            texts=np.asarray([p.text for p in prompts for _ in seeds]),
        )
        print(json.dumps({"draw": args.out, "model": args.model, "prompt_seed": args.prompt_seed, **result.scores}))
    elif args.command == "fit":
        images, texts, passed = _draw(args.draw)
        found = {}
        for judge in JUDGES:
            logits = _logits(ImageScorer.load(calibration=Calibration(judge)), images, texts)
            found[judge] = (rank_auc(logits, passed), logits)
        best = max(found, key=lambda judge: found[judge][0])
        slope, intercept = logistic_fit(found[best][1], passed)
        record = {
            "judge": best,
            "slope": round(slope, 6),
            "intercept": round(intercept, 6),
            "chosen_on": {
                "draw": Path(args.draw).name,
                "images": len(passed),
                "pass_rate": round(float(passed.mean()), 3),
            },
            "auc_by_judge": {judge: round(auc, 3) for judge, (auc, _) in found.items()},
            "command": f"python -m ml_engine.evaluation.image_scores fit {Path(args.draw).name}",
        }
        ALIGNMENT_PATH.write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps(record))
    else:
        scorer = ImageScorer.load()
        for path in args.draws:
            print(json.dumps(draw_figures(scorer, path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
