"""`python -m ml_engine compare --models diffusion,gan [--out docs/compare] [--human judgements.json]`

Measures each model (alignment per category, FID/KID/IS/precision/recall beside the real-vs-real
floor, latency and throughput, parameters, human ratings and arena win rates when exported with
`manage.py export_judgements`), writes Markdown + charts + JSON, and logs them to MLflow.
"""

from __future__ import annotations

import json
import shlex
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="compare generators: alignment, FID/KID/IS/PR, speed, size, human judgement")
    p.add_argument("--models", default="diffusion,gan", help="comma-separated bundled names or folders")
    p.add_argument("--out", default="docs/compare", help="folder for README.md, comparison.json and charts")
    p.add_argument("--per-category", type=int, default=25, help="fresh canonical prompts per category")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--n", type=int, default=2000, help="images per set for the distribution metrics")
    p.add_argument("--human", help="JSON from `manage.py export_judgements`")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-mlflow", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ml_engine.evaluation.comparison.measure import measure
    from ml_engine.evaluation.comparison.report import write_report
    from ml_engine.pipelines import load_pipeline
    from ml_engine.tracking import Tracker

    judgements = None
    if args.human:
        with open(args.human) as f:
            judgements = json.load(f)
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        print(f"measuring {name} ...", file=sys.stderr)
        pipe = load_pipeline(name, device=args.device)
        pipe.set_progress_bar_config(disable=True)
        results.append(
            measure(
                pipe,
                name,
                per_category=args.per_category,
                seeds=args.seeds,
                n_distribution=args.n,
                judgements=judgements,
            )
        )
        del pipe
    command = "python -m ml_engine " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["compare"] else ""
    files = write_report(results, args.out, command=command)
    tracker = Tracker(not args.no_mlflow, "compare", "compare-" + "-".join(r["model"] for r in results))
    tracker.start({"models": args.models, "per_category": args.per_category, "seeds": args.seeds, "n": args.n})
    for r in results:
        tracker.metrics({f"{r['model']}/alignment_{k}": v for k, v in r["alignment"]["scores"].items()}, 0)
        for extractor, report in r["distribution"].items():
            keys = ("fid", "kid_mean", "is_mean", "precision", "recall")
            tracker.metrics({f"{r['model']}/{extractor}_{k}": report[k] for k in keys if report.get(k) is not None}, 0)
        tracker.metrics({f"{r['model']}/images_per_s": r["speed"]["images_per_s"]}, 0)
    for path in files.values():
        tracker.artifact(path, "compare")
    tracker.end()
    for r in results:
        s = r["alignment"]["scores"]
        d = r["distribution"].get("domain", {})
        print(
            f"{r['model']}: alignment {s['overall']:.3f}, FID {d.get('fid', float('nan')):.2f}, "
            f"{r['speed']['images_per_s']:.1f} img/s, one image {r['speed']['single_image_median_s'] * 1000:.0f} ms"
        )
    print(f"wrote {files['markdown']}")
    return 0
