"""Per-image scores: the realism score as Kynkäänniemi et al. (2019) define it, its shipped manifold, the
alignment judge's calibration, and the scorer on real renders with their true captions and with wrong ones."""

import numpy as np
import pytest
import torch
from PIL import Image

from ml_engine.evaluation.image_scores import Calibration, ImageScorer, logistic_fit, rank_auc
from ml_engine.evaluation.realism import RealismManifold


def test_the_realism_score_is_eq_3_over_the_balls_at_most_the_median():
    # five real points on a line; k = 1: radii 1, 1, 2, 2, 4 (the last is an outlier, pruned)
    real = np.array([[0.0], [1.0], [3.0], [5.0], [9.0]])
    manifold = RealismManifold.of_real_features(real, extractor="test", k=1)
    assert sorted(manifold.radii.tolist()) == [1.0, 1.0, 2.0, 2.0]  # radius 4 > median 2 is dropped
    # max over kept r of radius(r) / |g - r|: at 2.0, the ball around 3 (radius 2, distance 1) gives 2
    assert manifold.scores(np.array([[2.0]]))[0] == pytest.approx(2.0)
    assert manifold.scores(np.array([[9.0]]))[0] == pytest.approx(0.5)  # the pruned outlier's own place: 2 / 4
    assert manifold.scores(np.array([[100.0]]))[0] < 0.05


def test_the_manifold_and_its_reference_survive_a_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    manifold = RealismManifold.of_real_features(rng.normal(size=(64, 4)), extractor="test").with_reference(
        rng.normal(size=(32, 4))
    )
    manifold.save(tmp_path / "m.safetensors", command="a test")
    again = RealismManifold.load(tmp_path / "m.safetensors")
    query = rng.normal(size=(8, 4))
    assert np.allclose(again.scores(query), manifold.scores(query), rtol=1e-2)  # features are stored in float16
    assert (again.extractor, again.k, again.real_count) == ("test", 3, 64)
    percentiles = again.percentiles(np.array([-1.0, 1e9]))
    assert percentiles.tolist() == [0.0, 100.0]


def test_rank_auc_and_the_logistic_fit_recover_what_made_the_data():
    assert rank_auc(np.array([3, 2, 1, 0]), np.array([1, 1, 0, 0])) == 1.0
    assert rank_auc(np.array([0, 1, 2, 3]), np.array([1, 1, 0, 0])) == 0.0
    assert rank_auc(np.array([1, 1]), np.array([1, 0])) == 0.5
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=20000)
    passed = rng.random(20000) < 1 / (1 + np.exp(-(0.7 * logits - 0.4)))
    slope, intercept = logistic_fit(logits, passed)
    assert slope == pytest.approx(0.7, abs=0.05) and intercept == pytest.approx(-0.4, abs=0.05)
    assert Calibration("x", slope=0.0, intercept=0.0)(np.array([5.0]))[0] == 0.5


@pytest.fixture(scope="module")
def scorer():
    return ImageScorer.load()


@pytest.fixture(scope="module")
def renders():
    from ml_engine.evaluation.distribution.report import real_images_and_prompts

    images, prompts = real_images_and_prompts(48, seed=424242)
    return [Image.fromarray(image) for image in images], prompts


def test_real_renders_are_more_realistic_than_noise_on_the_shipped_manifold(scorer, renders):
    images, prompts = renders
    rng = np.random.default_rng(2)
    noise = [Image.fromarray(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)) for _ in images]
    real_scores = [s.realism for s in scorer(images, prompts)]
    noise_scores = [s.realism for s in scorer(noise, prompts)]
    assert rank_auc(np.array(real_scores + noise_scores), np.array([1] * 48 + [0] * 48)) > 0.95
    assert np.median(real_scores) > 0.5 and np.median(noise_scores) < 0.5


def test_the_judge_is_more_confident_in_a_renders_own_caption_than_in_anothers(scorer, renders):
    images, prompts = renders
    true = np.array([s.alignment for s in scorer(images, prompts)])
    shifted = prompts[1:] + prompts[:1]  # each image under the next scene's caption
    wrong = np.array([s.alignment for s in scorer(images, shifted)])
    assert ((true > wrong).mean()) > 0.75, (true.round(2), wrong.round(2))
    assert all(0.0 <= value <= 1.0 for value in np.concatenate([true, wrong]))


def test_only_shapes_canvases_are_scored(scorer):
    assert not ImageScorer.scores_image(Image.new("RGB", (512, 512)))
    with pytest.raises(ValueError, match="64x64"):
        scorer([Image.new("RGB", (512, 512))], ["a red circle"])
    with torch.no_grad():
        assert scorer([], []) == []
