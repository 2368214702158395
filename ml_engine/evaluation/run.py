"""Generate images for an evaluation prompt set and score them.

python -m ml_engine evaluate --model diffusion --per-category 25 --seeds 4
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ml_engine.evaluation.failures import failure_counts
from ml_engine.evaluation.parse import detect_objects
from ml_engine.evaluation.prompts import EvalPrompt
from ml_engine.evaluation.rules import passes
from ml_engine.evaluation.scoring import summarize


@dataclass
class EvaluationResult:
    scores: dict[str, float]
    images: list  # PIL images, prompt-major then seed
    flags: list[bool]
    prompts: list[EvalPrompt]
    seeds: list[int]  # the seed of each image
    seconds: float
    failures: dict[str, dict[str, int]]  # per category, failed images by kind (evaluation/failures.py)


def evaluate_pipeline(
    pipe,
    prompts: list[EvalPrompt],
    seeds: list[int],
    steps: int,
    guidance: float,
    batch_size: int = 64,
    progress=None,
    **call_options,
) -> EvaluationResult:
    """Each prompt with each seed; a batch holds several prompts (each image keeps its own seed).
    A repeated prompt (see prompts.prompt_set) runs with seeds offset by 1000 per repeat.
    `call_options` go to every pipeline call (the GAN's `candidates`)."""
    jobs = [(p, s + 1000 * p.repeat) for p in prompts for s in seeds]
    images, started = [], time.time()
    used_seeds = [s for _, s in jobs]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        generators = _generators([s for _, s in chunk])
        texts = [p.text for p, _ in chunk]
        out = pipe(texts, num_inference_steps=steps, guidance_scale=guidance, generator=generators, **call_options)
        images.extend(out.images)
        if progress is not None:
            progress(len(chunk))
    requirements = [p.requirement for p, _ in jobs]
    detections = [detect_objects(np.asarray(image)) for image in images]  # parsed once: verdicts and failure kinds
    flags = [passes(req, found) for req, found in zip(requirements, detections, strict=True)]
    seconds = time.time() - started
    failures = failure_counts(requirements, detections)
    return EvaluationResult(summarize(flags, requirements), images, flags, prompts, used_seeds, seconds, failures)


def _generators(seeds: list[int]):
    import torch

    return [torch.Generator("cpu").manual_seed(s) for s in seeds]
