"""Measure one generator for the comparison report.

Alignment follows the spec's GenEval-style protocol (fresh canonical prompts, several seeds each);
distribution metrics come from ml_engine.evaluation.distribution on the captions of fresh scenes,
each beside its real-versus-real floor, naming the feature extractor and the sample counts; speed
is the median wall time of one image at the model's default steps (guidance included) and the
throughput of batches. Human judgement (mean 1-5 rating, A/B arena wins) is read from the JSON
that `manage.py export_judgements` writes, because ml_engine does not touch the web database.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from ml_engine.evaluation.distribution.extractors import available_extractors, load_extractor
from ml_engine.evaluation.distribution.report import evaluate_generator
from ml_engine.evaluation.prompts import prompt_set
from ml_engine.evaluation.run import evaluate_pipeline

TEXT_ENCODER_PARAMS_NOTE = "plus the frozen MiniLM text encoder (22.7M), shared by both"


def parameter_counts(pipe) -> dict[str, int]:
    """Trainable-model parameters per registered component (the frozen text encoder is listed apart)."""
    counts = {}
    for name, component in pipe.components.items():
        if isinstance(component, torch.nn.Module):
            counts[name] = sum(p.numel() for p in component.parameters())
    counts["total"] = sum(counts.values())
    return counts


def alignment(pipe, *, per_category: int, seeds: int, prompt_seed: int = 1) -> dict:
    prompts = prompt_set(per_category, seed=prompt_seed)
    result = evaluate_pipeline(
        pipe, prompts, list(range(seeds)), steps=pipe.default_steps, guidance=pipe.default_guidance
    )
    return {"scores": result.scores, "images": len(result.images), "per_category": per_category, "seeds": seeds}


def speed(pipe, *, repeats: int = 7, batch: int = 64, batches: int = 2) -> dict:
    options = {"num_inference_steps": pipe.default_steps, "guidance_scale": pipe.default_guidance}
    pipe("a red circle", seed=0, **options)  # warm-up
    single = []
    for i in range(repeats):
        started = time.perf_counter()
        pipe("a red circle to the left of a blue square", seed=i, **options)
        single.append(time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(batches):
        pipe(["two green triangles"] * batch, seed=1000 * i, **options)
    rate = batch * batches / (time.perf_counter() - started)
    return {
        "single_image_median_s": statistics.median(single),
        "batch_size": batch,
        "images_per_s": rate,
        "steps": pipe.default_steps,
        "guidance": pipe.default_guidance,
        "threads": torch.get_num_threads(),
    }


def distribution(pipe, *, n: int, extractors: list[str] | None = None) -> dict:
    """FID, KID, IS, precision/recall per available extractor, each with its floor and sample counts."""
    names = extractors or available_extractors()
    return {
        name: evaluate_generator(
            pipe, load_extractor(name), n=n, steps=pipe.default_steps, guidance=pipe.default_guidance
        )
        for name in names
    }


def human(judgements: dict | None, model_name: str) -> dict | None:
    """This model's ratings and arena results from an export_judgements file (matched by bundled name)."""
    if not judgements:
        return None
    names = {
        version
        for version, info in judgements.get("models", {}).items()
        if version == model_name or info.get("folder_name") == model_name
    }
    ratings = [judgements["models"][v] for v in names if judgements["models"][v].get("rating_count")]
    count = sum(r["rating_count"] for r in ratings)
    mean = sum(r["rating_avg"] * r["rating_count"] for r in ratings) / count if count else None
    arena = [m for m in judgements.get("arena", []) if m["champion"] in names or m["challenger"] in names]
    wins = sum(m["challenger_wins"] if m["challenger"] in names else m["champion_wins"] for m in arena)
    ties = sum(m["ties"] for m in arena)
    votes = sum(m["votes"] for m in arena)
    return {
        "rating_avg": mean,
        "rating_count": count,
        "arena_votes": votes,
        "arena_win_rate": (wins + 0.5 * ties) / votes if votes else None,
    }


def measure(pipe, name: str, *, per_category: int, seeds: int, n_distribution: int, judgements=None) -> dict:
    name = os.path.basename(os.path.normpath(name))  # a bundled name, or the folder's name
    return {
        "model": name,
        "class": type(pipe).__name__,
        "sampler": pipe.sampler_name,
        "parameters": parameter_counts(pipe),
        "alignment": alignment(pipe, per_category=per_category, seeds=seeds),
        "distribution": distribution(pipe, n=n_distribution),
        "speed": speed(pipe),
        "human": human(judgements, name),
    }
