"""How often do the scene graph's captions still hold once the diffusion model redraws a scene?

training/redrawn.py labels redrawn latents with the original scene's captions. This measures how far that holds:
fresh scenes, each with a caption drawn from its graph (weighted to the pair and counting categories), redrawn
from the sampler's step s, decoded and checked by the evaluator (a measurement, as in `evaluate`).

    .venv/bin/python tools/redrawn_labels.py [--scenes 256] [--starts 2,3,4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion")
    parser.add_argument("--scenes", type=int, default=256)
    parser.add_argument("--starts", default="2,3,4")
    args = parser.parse_args()

    from ml_engine.data.captions import training_requirement
    from ml_engine.evaluation.parse import detect_objects
    from ml_engine.evaluation.rules import passes
    from ml_engine.images import to_pil
    from ml_engine.pipelines import load_pipeline
    from ml_engine.training.data import ScenePool
    from ml_engine.training.redrawn import redraw

    pipe = load_pipeline(args.model)
    with tempfile.TemporaryDirectory() as cache:
        pool = ScenePool.build(pipe.autoencoder, args.scenes, seed=99, cache_dir=cache)
    rng = np.random.default_rng(0)
    weights = {"single_object": 0.1, "two_object": 1, "counting": 1, "position": 1, "color_attr": 1}
    requirements = [training_requirement(scene, rng, weights) for scene in pool.scenes]

    def pass_rates(latents) -> str:
        images = to_pil(pipe.decode_latents(latents))
        flags = [passes(r, detect_objects(im)) for r, im in zip(requirements, images, strict=True)]
        by_category: dict[str, list[bool]] = {}
        for req, ok in zip(requirements, flags, strict=True):
            by_category.setdefault(req.category, []).append(ok)
        return f"{np.mean(flags):.3f} " + " ".join(f"{c} {np.mean(v):.2f}" for c, v in sorted(by_category.items()))

    print("encoded, not redrawn:", pass_rates(pool.latents))
    for start in (int(s) for s in args.starts.split(",")):
        print(
            f"redrawn from step {start} of {pipe.default_steps}:", pass_rates(redraw(pipe, pool.latents, start, seed=1))
        )


if __name__ == "__main__":
    main()
