"""`python -m ml_engine evaluate [--model NAME|PATH] [--per-category N] [--seeds K] [--paraphrase]`

Generates fresh canonical prompts (N per category, each with K seeds), scores every image by the
spec's GenEval-style rules, prints the per-category table with the kinds of failure
(evaluation/failures.py) and writes both as JSON. `--paraphrase` scores rewordings outside the
canonical grammar instead; `--ceiling` scores fresh renders against their own captions (the
evaluator's check: >= 0.99 everywhere).
"""

from __future__ import annotations

import json
import os
import sys

from ml_engine.data import spec


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model's alignment per category")
    p.add_argument("--model", default=None, help="a bundled model name (default: diffusion) or a folder")
    p.add_argument("--per-category", type=int, default=25)
    p.add_argument("--seeds", type=int, default=4, help="seeds per prompt (0..K-1)")
    p.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: the model's)")
    p.add_argument(
        "--candidates",
        type=int,
        help="latents drawn per image, ranked by the model's critic (the GAN's discriminator, a diffusion critic)",
    )
    p.add_argument("--pruning", help="keep@step stages for the candidates, e.g. 8@1,2@3,1@5 (default: the model's)")
    p.add_argument("--prompt-seed", type=int, default=1, help="seed of the prompt draw")
    p.add_argument("--paraphrase", action="store_true", help="reworded prompts outside the canonical grammar")
    p.add_argument("--ceiling", action="store_true", help="score fresh renders instead of a model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", default="evaluation.json", help="where to write the scores")
    p.add_argument("--samples", help="also save a grid of the first images here (PNG)")
    p.set_defaults(func=run)


def format_table(scores: dict[str, float], counts: dict[str, int] | None = None) -> str:
    rows = [f"{'category':<15}{'score':>7}{'images':>8}"]
    for name in [*spec.CATEGORIES, "overall"]:
        if name in scores:
            count = "" if counts is None or name not in counts else str(counts[name])
            rows.append(f"{name:<15}{scores[name]:>7.3f}{count:>8}")
    return "\n".join(rows)


def run(args) -> int:
    from tqdm import tqdm

    from ml_engine.evaluation.prompts import prompt_set

    prompts = prompt_set(args.per_category, seed=args.prompt_seed, paraphrase=args.paraphrase)
    seeds = list(range(args.seeds))
    counts = {c: sum(p.requirement.category == c for p in prompts) * len(seeds) for c in spec.CATEGORIES}
    if args.ceiling:
        from ml_engine.evaluation.ceiling import ceiling_scores

        scores = ceiling_scores(per_category=args.per_category * args.seeds, seed=args.prompt_seed)
        report = {"model": "renderer (ceiling)", "scores": scores}
        counts = {c: args.per_category * args.seeds for c in spec.CATEGORIES}
    else:
        from ml_engine.evaluation.run import evaluate_pipeline
        from ml_engine.pipelines import load_pipeline
        from ml_engine.pipelines.pruning import format_pruning

        pipe = load_pipeline(args.model, device=args.device)
        steps = args.steps or pipe.default_steps
        guidance = pipe.default_guidance if args.guidance is None else args.guidance
        options = {} if args.candidates is None else {"candidates": args.candidates}
        if args.pruning is not None:
            options["pruning"] = args.pruning
        with tqdm(total=len(prompts) * len(seeds), desc="evaluating", unit="img", file=sys.stderr) as bar:
            result = evaluate_pipeline(
                pipe, prompts, seeds, steps, guidance, args.batch_size, progress=bar.update, **options
            )
        scores = result.scores
        report = {
            "model": str(args.model or "diffusion"),
            "steps": steps,
            "guidance": guidance,
            "candidates": options.get("candidates", getattr(pipe, "candidates", 1)),
            "pruning": options.get("pruning", format_pruning(getattr(pipe, "pruning", ()))),
            "paraphrase": args.paraphrase,
            "per_category": args.per_category,
            "seeds": len(seeds),
            "images": len(result.images),
            "seconds": round(result.seconds, 1),
            "scores": scores,
            "failures": result.failures,
            "prompts": [{"text": p.text, **p.requirement.to_json()} for p in prompts],
            "images_detail": [{"seed": s, "passed": ok} for s, ok in zip(result.seeds, result.flags, strict=True)],
        }
        if args.samples:
            from ml_engine.images import grid

            grid(result.images[:: len(seeds)][:64], columns=8).save(args.samples)
    print(format_table(scores, counts))
    for category, kinds in report.get("failures", {}).items():
        print(f"  {category} failures: " + ", ".join(f"{kind} {n}" for kind, n in kinds.items()))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.json}")
    return 0
