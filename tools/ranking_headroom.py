"""How much can ranking a diffusion model's candidates buy, and how much of it does each critic get?

For every prompt of a fresh canonical set (seeded like `evaluate`), the model denoises K candidate latents,
each from its own seed. Per category it prints: the pass rate of one draw (candidate 0), of the candidate each
critic ranks first, and of the best candidate (the oracle: any of the K passes), plus each critic's accuracy
on the pairs of one prompt's candidates where one passes and one fails. The evaluator only measures here,
as it does in `evaluate`; the critics never see it.

    .venv/bin/python tools/ranking_headroom.py --critics ml_engine/weights/gan/discriminator[,PATH] [--ks 2,4,8]
        [--reads latents,reencoded]

`--reads reencoded` scores each critic on the candidates re-encoded from their decoded pictures as well, which
puts them back on the clean renders' latent manifold; its rows are then named CRITIC/reencoded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def critic_name(folder: str) -> str:
    """A short name: the folder's, or its run's for a run's `final` folder."""
    parts = os.path.normpath(folder).split(os.sep)
    return parts[-2] if parts[-1] == "final" and len(parts) > 1 else parts[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion")
    parser.add_argument("--critics", required=True, help="comma-separated critic folders (LatentCritic or GAN D)")
    parser.add_argument("--ks", default="4", help="candidate counts to report (the first k candidates of the largest)")
    parser.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    parser.add_argument("--per-category", type=int, default=25)
    parser.add_argument("--prompt-seed", type=int, default=2)
    parser.add_argument("--reads", default="latents", help="what the critics judge: latents, reencoded or both")
    parser.add_argument("--panel", help="the judges (as named in the rows) ranked together (default: all of them)")
    parser.add_argument("--json", help="where to write the figures")
    args = parser.parse_args()

    from ml_engine.cli.attach_critic_cmd import critic_class
    from ml_engine.data import spec
    from ml_engine.evaluation.parse import detect_objects
    from ml_engine.evaluation.prompts import prompt_set
    from ml_engine.evaluation.rules import passes
    from ml_engine.images import to_pil
    from ml_engine.pipelines import load_pipeline
    from ml_engine.pipelines.base import candidate_seed

    pipe = load_pipeline(args.model)
    ks = sorted(int(k) for k in args.ks.split(","))
    most = ks[-1]
    folders = args.critics.split(",")
    reads = args.reads.split(",")
    critics = {critic_name(f): critic_class(f).from_pretrained(f).eval() for f in folders}
    judges = {(name if read == "latents" else f"{name}/{read}"): (critic, read) for name, critic in critics.items()
              for read in reads}  # fmt: skip
    prompts = prompt_set(args.per_category, seed=args.prompt_seed)
    report: dict[str, dict] = {}
    with torch.no_grad():
        for category, group in itertools.groupby(prompts, key=lambda p: p.requirement.category):
            group = list(group)
            texts = [p.text for p in group]
            states, mask = pipe.text(texts)
            passed = np.zeros((most, len(texts)), bool)
            scores = {name: np.zeros((most, len(texts))) for name in judges}
            for j in range(most):
                generators = [torch.Generator().manual_seed(candidate_seed(1000 + i, j)) for i in range(len(texts))]
                options = {"num_inference_steps": args.steps} if args.steps else {}
                latents = pipe(texts, generator=generators, candidates=1, output_type="latent", **options).images
                pictures = pipe.decode_latents(latents)
                images = to_pil(pictures)
                passed[j] = [passes(p.requirement, detect_objects(im)) for p, im in zip(group, images, strict=True)]
                reencoded = pipe.autoencoder.normalize(pipe.autoencoder.encode(pictures))
                for name, (critic, read) in judges.items():
                    judged = reencoded if read == "reencoded" else latents
                    scores[name][j] = critic.score(judged, states, mask).float().numpy()
            panel = args.panel.split(",") if args.panel else list(scores)
            if len(panel) > 1:  # the judges together: each one's scores standardised over a prompt's candidates
                standard = [(scores[name] - scores[name].mean(0)) / (scores[name].std(0) + 1e-6) for name in panel]
                scores["together"] = sum(standard)
            columns = np.arange(len(texts))
            row = {"one draw": passed[0].mean()}
            for k in ks:
                row[f"oracle@{k}"] = passed[:k].any(0).mean()
                for name, s in scores.items():
                    row[f"{name}@{k}"] = passed[:k][s[:k].argmax(0), columns].mean()
            for name, s in scores.items():
                pairs = [
                    s[a, i] > s[b, i]
                    for i in columns
                    for a in range(most)
                    for b in range(most)
                    if passed[a, i] and not passed[b, i]
                ]
                row[f"{name} pair accuracy"] = float(np.mean(pairs)) if pairs else float("nan")
            report[category] = {k: round(float(v), 3) for k, v in row.items()}
            print(f"{category:14s} " + "  ".join(f"{k} {v:.2f}" for k, v in report[category].items()), flush=True)
    keys = [k for k in next(iter(report.values())) if "pair" not in k]
    report["overall"] = {k: round(float(np.mean([report[c][k] for c in spec.CORE_CATEGORIES])), 3) for k in keys}
    print("overall        " + "  ".join(f"{k} {v:.3f}" for k, v in report["overall"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "ks": ks,
                    "steps": args.steps or pipe.default_steps,
                    "per_category": args.per_category,
                    "critics": folders,
                    "scores": report,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
