"""`python -m ml_engine.evaluation.distribution [--model NAME|PATH] [--n N] [--extractor domain|inception]`

Without --model: the real-vs-real floor (two disjoint sets of N fresh renders). With --model: N images
generated from the captions of N fresh scenes, reported against their renders beside the floor.
Prints the report as JSON and writes it with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_engine.evaluation.distribution", description=__doc__)
    parser.add_argument("--model", help="a bundled model name or a pipeline folder (default: the floor only)")
    parser.add_argument("--n", type=int, default=2000, help="images per set")
    parser.add_argument("--extractor", default="domain", choices=["domain", "inception"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    parser.add_argument("--guidance", type=float, help="guidance scale (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)

    from ml_engine.evaluation.distribution.extractors import load_extractor
    from ml_engine.evaluation.distribution.report import evaluate_generator, real_floor_report

    started = time.time()
    extractor = load_extractor(args.extractor, device=args.device)
    if args.model:
        from ml_engine.pipelines import load_pipeline

        pipe = load_pipeline(args.model, device=args.device)
        report = evaluate_generator(
            pipe,
            extractor,
            n=args.n,
            seed=args.seed,
            steps=args.steps,
            guidance=args.guidance,
            batch_size=args.batch_size,
        )
        report["model"] = args.model
    else:
        report = {"model": "renderer (real vs real)", **real_floor_report(extractor, n=args.n, seed=args.seed)}
    report["seconds"] = round(time.time() - started, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
