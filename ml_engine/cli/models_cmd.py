"""`python -m ml_engine models`: the bundled models, their defaults, and the precision each runs in here.

    python -m ml_engine models [--precision auto|float32|bfloat16] [--device cpu]

With auto, a model that has a bfloat16 path is timed in both precisions on this machine (once; the choice is
cached, ml_engine.precision) and the line says which was chosen and the two timings.
"""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the bundled models and the precision each runs in on this machine")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args) -> int:
    from ml_engine.pipelines import load_pipeline
    from ml_engine.pipelines.loader import bundled_models

    for name in bundled_models():
        pipe = load_pipeline(name, device=args.device, precision=args.precision)
        sizes = ", ".join(f"{w}x{h}" for h, w in pipe.supported_sizes)
        print(f"{name}: {type(pipe).__name__}, {sizes}, {pipe.default_steps} steps, guidance {pipe.default_guidance:g}")
        print(f"  sampler: {pipe.sampler_name}")
        print(f"  precision: {pipe.precision_choice.describe()}")
    return 0
