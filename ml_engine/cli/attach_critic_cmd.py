"""`python -m ml_engine attach-critic --model DIR --critic DIR --candidates K [--pruning S] [--steps N]
[--bf16-candidates] [--out DIR]`: give a diffusion model a trained critic (a LatentCritic, `train --config
configs/critic-v9-counts.json`, or a GAN's discriminator, or several ranking together) and the number of candidates
it ranks by default, on the finished latents or pruned on their predicted x0 along the way (`--pruning 8@1,2@3,1@5`:
keep 8 after step 1, 2 after step 3, 1 after step 5; pipelines/pruning.py).

The critic is saved as the folder's `critic` component; `candidates`, `pruning` and, when given, the default sampler
steps (`--steps`) and `bf16_candidates` go into its model_index.json, so the studio, `generate`, `evaluate` and the
benchmark all sample the ranked way from then on; `--candidates 1` keeps the critic but samples one latent an image.
What ships (v4):

    python -m ml_engine attach-critic --model ml_engine/weights/diffusion --candidates 10 --pruning 1@4 \
        --steps 8 --bf16-candidates \
        --critic ml_engine/weights/gan/discriminator,~/.cache/t2i/runs/critic-v9-counts/final:relation+count=3
"""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    p = sub.add_parser("attach-critic", help="ship a trained latent critic with a diffusion model, to rank candidates")
    p.add_argument("--model", required=True, help="a ShapesDiffusionPipeline folder")
    p.add_argument(
        "--critic",
        required=True,
        help="a trained critic folder, or several (comma-separated) that rank together; FOLDER:relation=S puts in "
        "that critic's relation term alone, its raw score times S (likewise FOLDER:count=S, FOLDER:relation+count=S)",
    )
    p.add_argument("--candidates", type=int, required=True, help="latents denoised per image by default")
    p.add_argument(
        "--pruning",
        default="",
        help="keep@step stages, e.g. 8@1,2@3,1@5: after each step only the best `keep` candidates go on "
        "(default: rank the finished latents)",
    )
    p.add_argument("--steps", type=int, help="the sampler steps a request gets by default (default: as saved)")
    p.add_argument(
        "--bf16-candidates",
        action=argparse.BooleanOptionalAction,
        help="run the candidates' steps before the last pruning under bf16 autocast where it pays (default: as saved)",
    )
    p.add_argument("--out", help="where to save (default: the model folder itself)")
    p.set_defaults(func=run)


def critic_class(folder: str):
    """The class a saved critic folder names: a LatentCritic, or a GAN's discriminator (same latent space)."""
    import json

    from ml_engine.models.critic import JudgePanel, judge_classes

    classes = {**judge_classes(), "JudgePanel": JudgePanel}
    with open(os.path.join(folder, "config.json")) as f:
        name = json.load(f).get("_class_name")
    if name not in classes:
        raise SystemExit(f"{folder} holds a {name}, not a critic ({' or '.join(classes)})")
    return classes[name]


def judges_from(spec: str):
    """ "FOLDER[,FOLDER:relation+count=S...]" -> the critic, or the JudgePanel of several, that ranks (eval mode)."""
    from ml_engine.models.critic import JudgePanel

    critics, raw_scales = [], []
    for entry in spec.split(","):
        folder, _, terms = entry.partition(":")  # FOLDER:relation+count=S: those terms alone, raw x S
        folder = os.path.expanduser(folder)
        critic = critic_class(folder).from_pretrained(folder).eval()
        scale = 0.0
        if terms:
            terms, _, scale = terms.partition("=")
            scale = float(scale or 1)
            for term in terms.split("+"):
                if term not in ("relation", "count") or getattr(critic, term, None) is None:
                    raise ValueError(f"{folder} has no {term} term (a LatentCritic's relation_heads, count_shapes)")
            critic.register_to_config(judged_by=terms)
        critics.append(critic)
        raw_scales.append(scale)
    if len(critics) == 1 and raw_scales[0]:
        raise ValueError("a critic's relation or count term judges only beside another critic")
    return critics[0] if len(critics) == 1 else JudgePanel.of(critics, raw_scales).eval()


def run(args) -> int:
    from ml_engine.pipelines.pruning import parse_pruning
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    if args.candidates < 1:
        raise SystemExit("--candidates must be at least 1")
    if args.steps is not None and args.steps < 1:
        raise SystemExit("--steps must be at least 1")
    try:
        pruning = parse_pruning(args.pruning)
    except ValueError as error:
        raise SystemExit(f"--pruning: {error}") from None
    try:
        critic = judges_from(args.critic)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    pipe = ShapesDiffusionPipeline.from_pretrained(args.model)
    pipe.register_modules(critic=critic)
    pipe.register_to_config(candidates=args.candidates, pruning=[list(stage) for stage in pruning])
    if args.steps is not None:
        pipe.register_to_config(default_steps=args.steps)
    if args.bf16_candidates is not None:
        pipe.register_to_config(bf16_candidates=args.bf16_candidates)
    out = args.out or args.model
    pipe.save_pretrained(out, safe_serialization=True)
    print(f"saved {out}: {pipe.sampler_name}")
    return 0
