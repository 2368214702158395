"""`python -m ml_engine attention-iou [--model NAME|PATH] [--renders N] [--generated-per-category M]`

How well a model's per-word attention heat maps find the objects the words name (ml_engine.attention.iou):
DAAM maps on N fresh renders against the renderer's true object masks (diffusion models), and the
model's own maps on its images for M fresh canonical prompts per category against the objects the
evaluator parses (any pipeline that takes `return_attention=True`, the GAN included). Prints mean IoU
per word kind (shape noun, colour, size) at each threshold, the pointing game and the baselines, and
writes everything as JSON (default docs/eval/attention-iou-<model>.json).
"""

from __future__ import annotations

import json
import os
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("attention-iou", help="IoU of word attention maps with the objects they name")
    p.add_argument("--model", default=None, help="a bundled model name (default: diffusion) or a folder")
    p.add_argument("--renders", type=int, default=200, help="fresh captioned renders (diffusion models only)")
    p.add_argument("--generated-per-category", type=int, default=10, help="generated prompts per category (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes, the noise and the generations")
    p.add_argument("--steps", type=int, help="sampler steps for generated images (default: the model's)")
    p.add_argument("--guidance", type=float, help="guidance scale for generated images (default: the model's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", help="where to write the report (default docs/eval/attention-iou-<model>.json)")
    p.add_argument("--words", action="store_true", help="also write every scored word's figures")
    p.set_defaults(func=run)


def format_table(title: str, summary: dict) -> str:
    rows = [
        title,
        f"{'words':<7}{'n':>5}{'IoU@0.5':>9}{'best t':>8}{'IoU@t':>7}{'point':>7}{'chance':>8}{'all-fg':>8}",
    ]
    for kind, s in summary.items():
        if kind == "by_category":
            continue
        rows.append(
            f"{kind:<7}{s['words']:>5}{s['iou_at_headline']:>9.3f}{s['best_threshold']:>8.1f}{s['iou_at_best']:>7.3f}"
            f"{s['pointing']:>7.3f}{s['pointing_chance']:>8.3f}{s['baseline_all_foreground']:>8.3f}"
        )
    return "\n".join(rows)


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from ml_engine.attention.iou import HEADLINE_THRESHOLD, THRESHOLDS, generated_iou, render_iou, summarize
    from ml_engine.pipelines import load_pipeline

    torch.manual_seed(args.seed)
    model = str(args.model or "diffusion")
    pipe = load_pipeline(args.model, device=args.device)
    report: dict = {
        "model": model,
        "thresholds": list(THRESHOLDS),
        "headline_threshold": HEADLINE_THRESHOLD,
        "seed": args.seed,
        "note": "IoU of a word's map thresholded at t x its maximum with the mask of the object(s) its noun "
        "phrase names; point: share of words whose map peaks on the object (chance: the object's share of "
        "the canvas); all-fg: IoU of the mask of every object (a map lighting all objects equally)",
    }
    tables = []
    can_daam_renders = hasattr(pipe, "unet") and hasattr(pipe, "autoencoder")
    if args.renders and can_daam_renders:
        from ml_engine.attention.daam import REAL_IMAGE_TIMESTEPS

        with tqdm(total=args.renders, desc="renders", unit="img", file=sys.stderr) as bar:
            records = render_iou(pipe, args.renders, seed=args.seed, batch_size=args.batch_size, progress=bar.update)
        summary = summarize(records)
        report["renders"] = {
            "images": args.renders,
            "maps": "DAAM on the render: encoded, noised at each timestep, one UNet call per timestep",
            "timesteps": list(REAL_IMAGE_TIMESTEPS),
            "summary": summary,
            **({"words": records} if args.words else {}),
        }
        tables.append(format_table(f"renders ({args.renders}), true masks", summary))
    elif args.renders:
        print(f"{type(pipe).__name__} has no UNet and autoencoder: no DAAM on renders", file=sys.stderr)
    if args.generated_per_category:
        steps = args.steps or getattr(pipe, "default_steps", 20)
        guidance = getattr(pipe, "default_guidance", 4.0) if args.guidance is None else args.guidance
        with tqdm(desc="generated", unit="img", file=sys.stderr) as bar:
            records, missing = generated_iou(
                pipe,
                args.generated_per_category,
                seed=args.seed,
                steps=steps,
                guidance=guidance,
                batch_size=args.batch_size,
                progress=bar.update,
            )
        summary = summarize(records)
        report["generated"] = {
            "per_category": args.generated_per_category,
            "steps": steps,
            "guidance": guidance,
            "maps": "the pipeline's own (return_attention=True); objects from the evaluator's parse",
            "items_not_drawn": missing,
            "summary": summary,
            **({"words": records} if args.words else {}),
        }
        tables.append(format_table(f"generated ({missing} named objects not drawn), parsed regions", summary))
    print("\n\n".join(tables))
    path = args.json or os.path.join("docs", "eval", f"attention-iou-{os.path.basename(model.rstrip('/'))}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {path}")
    return 0
