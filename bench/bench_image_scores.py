"""What the worker's per-image scores cost: ms a call for calls of 1, 4 and 8 images (median of --runs), beside
the diffusion model's own call for one image at its defaults, measured in this process.

    .venv/bin/python bench/bench_image_scores.py [--runs 11]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_ms(call, runs: int) -> float:
    call()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()

    import torch
    from PIL import Image

    from ml_engine.evaluation.distribution.report import real_images_and_prompts
    from ml_engine.evaluation.image_scores import ImageScorer
    from ml_engine.pipelines.loader import load_pipeline

    scorer = ImageScorer.load()
    arrays, prompts = real_images_and_prompts(8, seed=99)
    images = [Image.fromarray(a) for a in arrays]
    pipe = load_pipeline("diffusion")
    model = median_ms(lambda: pipe(prompts[0], generator=torch.Generator().manual_seed(0)), args.runs)
    print(f"threads {torch.get_num_threads()}; the diffusion model alone, one image: {model:.0f} ms")
    print("| images a call | scores, ms a call | ms an image | share of one image's model call |")
    print("| --- | --- | --- | --- |")
    for n in (1, 4, 8):
        ms = median_ms(lambda n=n: scorer(images[:n], prompts[:n]), args.runs)
        print(f"| {n} | {ms:.1f} | {ms / n:.1f} | {ms / n / model:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
