"""Samplers by their A1111 names on the Shapes pipeline: the model's own is the default and changes nothing, each
other one runs over the model's schedule, and an ancestral sampler keeps every image independent of its batch."""

import numpy as np
import pytest
import torch

from ml_engine.pipelines.tiny import build_tiny_gan_pipeline, build_tiny_ranked_pipeline
from ml_engine.samplers import SAMPLER_NAMES, sampler_scheduler


def _pixels(result) -> np.ndarray:
    return np.stack([np.asarray(image) for image in result.images])


def _run(pipe, seeds, **kwargs):
    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    return pipe(["a red circle"] * len(seeds), num_inference_steps=4, generator=generators, **kwargs)


def test_the_models_own_sampler_comes_first_and_naming_it_changes_no_pixel(tiny_pipeline):
    own = tiny_pipeline.samplers[0]
    assert own == "UniPC" and set(tiny_pipeline.samplers) == set(SAMPLER_NAMES)
    assert np.array_equal(_pixels(_run(tiny_pipeline, [3])), _pixels(_run(tiny_pipeline, [3], sampler=own)))


@pytest.mark.parametrize("name", [n for n in SAMPLER_NAMES if n != "UniPC"])
def test_every_sampler_runs_deterministically_and_differs_from_the_default(tiny_pipeline, name):
    first, again = _pixels(_run(tiny_pipeline, [3], sampler=name)), _pixels(_run(tiny_pipeline, [3], sampler=name))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, _pixels(_run(tiny_pipeline, [3])))


def test_an_unknown_sampler_is_refused_with_the_list(tiny_pipeline):
    with pytest.raises(ValueError, match="offers UniPC, DPM"):
        _run(tiny_pipeline, [3], sampler="Heun")


def test_ancestral_noise_is_drawn_per_image_so_an_image_ignores_its_neighbours(tiny_pipeline):
    """Euler a adds fresh noise each step: drawn from each row's own generator, row 0 comes out the same whatever
    row 1's seed is (batch size fixed: CPU kernels round per batch size)."""
    with_four = _pixels(_run(tiny_pipeline, [3, 4], sampler="Euler a"))
    with_nine = _pixels(_run(tiny_pipeline, [3, 9], sampler="Euler a"))
    assert np.array_equal(with_four[0], with_nine[0]) and not np.array_equal(with_four[1], with_nine[1])


def test_ranked_candidates_pruned_mid_way_keep_their_own_noise_under_euler_a():
    pipe = build_tiny_ranked_pipeline()
    pruned = _run(pipe, [5], sampler="Euler a", candidates=4, pruning="1@2")
    assert len(pruned.images) == 1 and np.isfinite(_pixels(pruned)).all()
    assert np.array_equal(_pixels(pruned), _pixels(_run(pipe, [5], sampler="Euler a", candidates=4, pruning="1@2")))


def test_a_scheduler_is_built_over_the_models_schedule(tiny_pipeline):
    scheduler = sampler_scheduler("DPM++ 2M", tiny_pipeline.scheduler.config)
    assert scheduler.config.prediction_type == tiny_pipeline.scheduler.config.prediction_type
    assert scheduler.config.beta_schedule == tiny_pipeline.scheduler.config.beta_schedule
    assert scheduler.config.timestep_spacing == "trailing"


def test_the_gan_has_no_sampler_to_choose():
    gan = build_tiny_gan_pipeline()
    assert gan.samplers == ()
    with pytest.raises(ValueError, match="no sampler"):
        gan("a red circle", seed=0, sampler="Euler a")
