"""`python -m ml_engine generate`: one prompt to one PNG, or a prompts file x seeds to a folder.

    python -m ml_engine generate --prompt "a red circle to the left of a blue square" --seed 0 --steps 20 --out out.png
    python -m ml_engine generate --prompts-file prompts.txt --seeds 0,1,2,3 --out-dir DIR [--steps N]
    ... [--precision auto|float32|bfloat16]   (auto: the faster here, timed once per machine and model)

The model loads once; a prompts file is generated in batches (each image keeps its own seed; alone it comes back
within a few levels a pixel, as CPU kernels round a little differently per batch size) and DIR/manifest.json
lists {"file", "prompt", "seed"}.
"""

from __future__ import annotations

import json
import os
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate images from a prompt or a prompts file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt")
    src.add_argument("--prompts-file", help="one prompt per line (blank lines and #-comments skipped)")
    p.add_argument("--negative-prompt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default="0", help="comma-separated seeds for --prompts-file")
    p.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's)")
    p.add_argument(
        "--candidates", type=int, help="latents drawn per image and ranked by its critic (default: the model's)"
    )
    p.add_argument("--model", default=None, help="a bundled model name (default: diffusion) or a folder")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="auto (default): the model's bfloat16 path runs where it is timed faster on this machine",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", help="output PNG for --prompt")
    p.add_argument("--out-dir", help="output folder for --prompts-file")
    p.set_defaults(func=run)


def _read_prompts(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        prompts = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise SystemExit(f"{path}: no prompts")
    return prompts


def run(args) -> int:
    from tqdm import tqdm

    from ml_engine.pipelines import load_pipeline

    if args.prompt is not None and not args.out:
        raise SystemExit("--prompt needs --out")
    if args.prompts_file and not args.out_dir:
        raise SystemExit("--prompts-file needs --out-dir")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    pipe = load_pipeline(args.model, device=args.device, precision=args.precision)
    if getattr(pipe, "precision_choice", None) is not None:
        print(f"precision: {pipe.precision_choice.describe()}", file=sys.stderr)
    steps = args.steps or pipe.default_steps
    guidance = pipe.default_guidance if args.guidance is None else args.guidance
    common = {"num_inference_steps": steps, "guidance_scale": guidance, "negative_prompt": args.negative_prompt}
    if args.candidates is not None:
        common["candidates"] = args.candidates

    if args.prompt is not None:
        bar = tqdm(total=steps, desc="denoising", file=sys.stderr, dynamic_ncols=True)
        result = pipe(args.prompt, seed=args.seed, callback_on_step_end=lambda info: bar.update(1), **common)
        bar.close()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        result.images[0].save(args.out)
        print(f"wrote {args.out} (seed {result.seeds[0]}, {steps} steps, guidance {guidance})")
        return 0

    import torch

    prompts = _read_prompts(args.prompts_file)
    jobs = [(i, p, s) for i, p in enumerate(prompts) for s in seeds]
    os.makedirs(args.out_dir, exist_ok=True)
    manifest = []
    with tqdm(total=len(jobs), desc="images", unit="img", file=sys.stderr, dynamic_ncols=True) as bar:
        for start in range(0, len(jobs), args.batch_size):
            chunk = jobs[start : start + args.batch_size]
            generators = [torch.Generator("cpu").manual_seed(s) for _, _, s in chunk]
            result = pipe([p for _, p, _ in chunk], generator=generators, **common)
            for (index, prompt, seed), image in zip(chunk, result.images, strict=True):
                name = f"{index:04d}_seed{seed}.png"
                image.save(os.path.join(args.out_dir, name))
                manifest.append({"file": name, "prompt": prompt, "seed": seed})
            bar.update(len(chunk))
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest)} images and manifest.json to {args.out_dir}")
    return 0
