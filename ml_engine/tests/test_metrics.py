"""The distribution metrics agree with hand-computed values; the extractors load, name themselves and plug in.

Hand values: FID of N(mu1, S1) and N(mu2, S2) with diagonal covariances is ||mu1 - mu2||^2 +
sum(s1 + s2 - 2 sqrt(s1 s2)); KID's unbiased MMD^2 and the Inception Score are worked out on three
vectors or two predictions below; precision/recall on points whose k-NN balls are drawn by hand.
"""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from ml_engine.data import spec
from ml_engine.data.render import render
from ml_engine.data.scene import Scene, sample_scene
from ml_engine.evaluation.distribution import metrics
from ml_engine.evaluation.distribution.extractors import (
    DOMAIN_CLASSIFIER_DIR,
    INCEPTION_ENV,
    INCEPTION_NAME,
    DomainClassifierExtractor,
    FeatureExtractor,
    InceptionV3Extractor,
    as_uint8_images,
)
from ml_engine.evaluation.distribution.report import (
    distribution_report,
    evaluate_generator,
    real_images_and_prompts,
    render_real_images,
)

MU1, MU2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
VAR1, VAR2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
# ||mu1 - mu2||^2 = 1 + 0 + 4; traces 14 and 5.25; Tr sqrt(S1 S2) = 2 + 2 + 1.5
CLOSED_FORM_FID = 5 + 14 + 5.25 - 2 * 5.5  # 13.25


# --- FID ---------------------------------------------------------------------------------------------


def test_frechet_distance_of_exact_moments_equals_the_closed_form():
    assert metrics.frechet_distance(MU1, np.diag(VAR1), MU2, np.diag(VAR2)) == pytest.approx(CLOSED_FORM_FID, abs=1e-9)


def test_frechet_distance_matches_the_symmetric_form_for_non_commuting_covariances():
    # Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), computed here through eigendecompositions
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    s1, s2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    w, v = np.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    trace_root = np.sqrt(np.linalg.eigvalsh(root1 @ s2 @ root1)).sum()
    expected = np.trace(s1) + np.trace(s2) - 2 * trace_root  # equal means
    assert metrics.frechet_distance(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(1).standard_normal((500, 16))
    assert abs(metrics.fid(features, features)) < 1e-8


def test_fid_of_samples_from_two_gaussians_approaches_the_closed_form():
    rng = np.random.default_rng(2)
    a = MU1 + np.sqrt(VAR1) * rng.standard_normal((5000, 3))
    b = MU2 + np.sqrt(VAR2) * rng.standard_normal((5000, 3))
    # the estimate's spread over seeds is ~0.15 at 5,000 samples
    assert metrics.fid(a, b) == pytest.approx(CLOSED_FORM_FID, abs=0.6)


def test_fid_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((10, 32)), rng.standard_normal((10, 32)) + 1
    value = metrics.fid(a, b)
    assert np.isfinite(value) and value > 32  # ||mu1 - mu2||^2 alone is about 32


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_a_product_without_a_square_root_takes_the_eps_offset_path():
    # [[0, 1], [0, 0]] has no square root (sqrtm gives inf); pytorch-fid then offsets both diagonals
    with pytest.warns(UserWarning, match="singular"):
        value = metrics.frechet_distance(np.zeros(2), np.array([[0.0, 1.0], [0.0, 0.0]]), np.zeros(2), np.eye(2))
    assert np.isfinite(value)


def test_fid_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="dims differ"):
        metrics.fid(np.zeros((5, 3)), np.zeros((5, 4)))


# --- KID ---------------------------------------------------------------------------------------------


def test_mmd_matches_a_hand_computed_value_on_three_vectors():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    # k(a, b) = (a.b / 2 + 1)^3. Off-diagonal k(x, x'): 1, 3.375, 3.375 (each twice) -> 15.5 / 6;
    # k(y, y'): all 1 -> 6 / 6; k(x, y) over 9 pairs: four 8s and five 1s = 37 -> 37 / 9.
    expected = 15.5 / 6 + 1 - 2 * 37 / 9  # = -167/36: the unbiased estimate may be negative
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(expected, abs=1e-12)
    mean, std = metrics.kid(x, y, subsets=5, subset_size=3)  # a full-size subset is a permutation
    assert mean == pytest.approx(expected, abs=1e-12) and std == pytest.approx(0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    same_mean, same_std = metrics.kid(a, b, subsets=20, subset_size=200)
    shifted_mean, _ = metrics.kid(a, b + 0.5, subsets=20, subset_size=200)
    more_shifted, _ = metrics.kid(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 20 * abs(same_mean) and more_shifted > shifted_mean


def test_kid_of_a_set_with_itself_is_zero_up_to_its_diagonal_terms():
    # X against itself: the within terms leave out k(x_i, x_i), the cross term keeps it, so the estimate is
    # 2 (S_off / (m^2 (m - 1)) - S_diag / m^2): O(1/m), negligible beside any real difference
    a = np.random.default_rng(5).standard_normal((300, 8))
    m, k = len(a), metrics.polynomial_kernel(a, a)
    s_diag = np.trace(k)
    expected = 2 * ((k.sum() - s_diag) / (m * m * (m - 1)) - s_diag / m**2)
    mean, _ = metrics.kid(a, a, subsets=3, subset_size=m)
    assert mean == pytest.approx(expected, rel=1e-9)
    assert abs(mean) < 0.1 * metrics.kid(a, a + 0.5, subsets=3, subset_size=m)[0]


# --- Inception Score -----------------------------------------------------------------------------------


def test_inception_score_of_confident_uniform_predictions_is_the_class_count():
    probs = np.eye(4)[np.arange(40) % 4]  # each split of 8 holds every class twice
    mean, std = metrics.inception_score(probs, splits=5)
    assert mean == pytest.approx(4.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_identical_predictions_is_one():
    probs = np.tile([0.1, 0.2, 0.3, 0.4], (30, 1))
    assert metrics.inception_score(probs, splits=3)[0] == pytest.approx(1.0, abs=1e-12)


def test_inception_score_of_two_predictions_by_hand():
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])  # marginal (0.75, 0.25)
    kl_first = np.log(1 / 0.75)
    kl_second = 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)
    assert metrics.inception_score(probs, splits=1)[0] == pytest.approx(np.exp((kl_first + kl_second) / 2))


def test_inception_score_rejects_rows_that_are_not_probabilities():
    with pytest.raises(ValueError, match="probabilities"):
        metrics.inception_score(np.array([[0.5, 0.6], [0.5, 0.5]]), splits=1)


# --- precision and recall -------------------------------------------------------------------------------

# Real: two unit squares of 4 points, at the origin and at (10, 10); each point's 3rd neighbour is the
# opposite corner, so every real ball has radius sqrt(2). Fake: three points inside the first square and
# (3, 0), 2 from the nearest real point (1, 0).
REAL_POINTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [10, 10], [11, 10], [10, 11], [11, 11]], dtype=np.float64)
FAKE_POINTS = np.array([[0.5, 0.5], [0, 0.5], [0.5, 0], [3, 0]], dtype=np.float64)


def test_knn_radii_are_the_distance_to_the_kth_other_point():
    radii = metrics.knn_radii(torch.from_numpy(REAL_POINTS), k=3)
    assert np.allclose(radii.numpy(), np.sqrt(2))


def test_precision_and_recall_on_points_worked_out_by_hand():
    # precision: (3, 0) lies outside every real ball -> 3/4. Recall: the fake balls (radii 2.5 to 3.04)
    # cover the first square's 4 points and none of the far square's -> 4/8.
    precision, recall = metrics.precision_recall(REAL_POINTS, FAKE_POINTS, k=3)
    assert precision == pytest.approx(0.75) and recall == pytest.approx(0.5)


def test_precision_and_recall_of_a_set_with_itself_are_one():
    points = np.random.default_rng(6).standard_normal((200, 5))
    assert metrics.precision_recall(points, points, k=3) == (1.0, 1.0)


def test_precision_and_recall_do_not_depend_on_the_block_size():
    rng = np.random.default_rng(7)
    real, fake = rng.standard_normal((300, 6)), rng.standard_normal((250, 6)) * 1.3 + 0.3
    assert metrics.precision_recall(real, fake, k=3, block=7) == metrics.precision_recall(real, fake, k=3)


# --- the shipped domain classifier ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def domain_extractor():
    return DomainClassifierExtractor()


def test_domain_classifier_ships_as_safetensors_with_its_training_command_and_accuracy():
    assert (DOMAIN_CLASSIFIER_DIR / "model.safetensors").is_file()
    # a model_index.json would make the model loader list the classifier as a generator
    assert not (DOMAIN_CLASSIFIER_DIR / "model_index.json").exists()
    config = json.loads((DOMAIN_CLASSIFIER_DIR / "config.json").read_text())
    assert "ml_engine.training.domain_classifier" in config["trained_by"]
    assert config["held_out"]["accuracy"]["largest"] > 0.9


def test_domain_classifier_reads_fresh_renders_as_accurately_as_measured():
    from ml_engine.models.domain_classifier import DomainClassifier
    from ml_engine.training.domain_classifier import held_out_accuracy

    model = DomainClassifier.from_pretrained(str(DOMAIN_CLASSIFIER_DIR))
    shipped = json.loads((DOMAIN_CLASSIFIER_DIR / "config.json").read_text())["held_out"]["accuracy"]
    accuracy = held_out_accuracy(model, n=300, seed=777)  # a stream that neither training nor the shipped figure used
    # 300 images: a share's standard error is at most ~1.5 points above 90%; 0.07 is over four of them
    for head in ("largest", "largest_shape", "count", "presence_exact", "layout_exact", "presence_recall_small"):
        assert accuracy[head] > shipped[head] - 0.07, head
    # the embedding must see the whole scene, small objects included, not just the largest object
    assert accuracy["count"] > 0.95 and accuracy["presence_recall_small"] > 0.9


def test_domain_extractor_gives_embeddings_and_class_probabilities(domain_extractor):
    images = render_real_images(5, seed=3)
    assert isinstance(domain_extractor, FeatureExtractor)
    feats, probs = domain_extractor.encode(images)
    assert feats.shape == (5, domain_extractor.dim) and feats.dtype == np.float64
    many = domain_extractor.features(render_real_images(200, seed=4))
    # standardized on real renders: each dimension about zero mean, unit variance (KID's kernel assumes O(1))
    assert np.abs(many.mean(0)).mean() < 0.2 and 0.8 < many.std(0).mean() < 1.2
    assert probs.shape == (5, 32) and np.allclose(probs.sum(1), 1)
    from PIL import Image

    pil = [Image.fromarray(im) for im in images]
    assert np.allclose(domain_extractor.features(pil), feats)  # PIL lists and arrays give the same features


def test_domain_extractor_refuses_images_of_another_size(domain_extractor):
    with pytest.raises(ValueError, match="64x64"):
        domain_extractor.features(np.zeros((2, 32, 32, 3), np.uint8))


def test_images_must_be_uint8_rgb():
    with pytest.raises(ValueError, match="uint8"):
        as_uint8_images(np.zeros((2, 64, 64, 3), np.float32))


# --- the report ------------------------------------------------------------------------------------------


def all_red_renders(n: int, seed: int) -> np.ndarray:
    """A colour-collapsed generator: fresh scenes with every object drawn red."""
    rng = np.random.default_rng(seed)
    red = {"color": "red", "fill": spec.PALETTE["red"]}
    return np.stack([render(Scene([replace(o, **red) for o in sample_scene(rng).objects])) for _ in range(n)])


def test_report_names_its_extractor_and_counts_and_sets_the_floor_beside(domain_extractor):
    real, floor, fake = render_real_images(200, seed=10), render_real_images(200, seed=11), all_red_renders(200, 12)
    report = distribution_report(fake, real, domain_extractor, floor, kid_subsets=10, kid_subset_size=100)
    assert report["extractor"] == domain_extractor.name and report["extractor"].startswith("shapes-domain-classifier")
    assert (report["n_fake"], report["n_real"], report["n_floor"], report["feature_dim"]) == (200, 200, 200, 256)
    for key in ("fid", "kid_mean", "kid_std", "precision", "recall", "is_mean", "is_std"):
        assert key in report and key in report["floor"]
    # all-red scenes are real scenes (high precision) that cover a sliver of the real variety (low recall);
    # FID and KID see the gap that a second set of renders does not have
    assert report["fid"] > 3 * report["floor"]["fid"]
    assert report["kid_mean"] > report["floor"]["kid_mean"] + 3 * report["kid_std"]
    assert report["precision"] > 0.6 and report["recall"] < report["floor"]["recall"] - 0.5
    assert report["floor"]["precision"] > 0.7 and report["floor"]["recall"] > 0.7
    # one colour leaves at most the 4 (shape, red) classes; renders spread over the 32
    assert report["is_mean"] < 4 < 8 < report["floor"]["is_mean"]


def test_evaluate_generator_prompts_with_the_real_scenes_captions(domain_extractor):
    class EchoRenders:
        """A stand-in generator: renders of fresh scenes, ignoring the prompt; records the prompts."""

        def __init__(self):
            self.prompts = []

        def __call__(self, prompts, generator=None, **options):
            from types import SimpleNamespace

            from PIL import Image

            self.prompts += prompts
            return SimpleNamespace(images=[Image.fromarray(im) for im in render_real_images(len(prompts), seed=99)])

    pipe = EchoRenders()
    report = evaluate_generator(pipe, domain_extractor, n=24, seed=4, batch_size=10)
    assert pipe.prompts == real_images_and_prompts(24, seed=4)[1]
    assert report["n_fake"] == report["n_real"] == report["n_floor"] == 24


# --- InceptionV3 and CLIP, from local files only -----------------------------------------------------------


def test_inception_extractor_without_weights_says_how_to_provide_them(monkeypatch):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=INCEPTION_ENV):
        InceptionV3Extractor()


def test_inception_extractor_refuses_pickled_weights(tmp_path):
    pickled = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    pickled.write_bytes(b"not read")
    with pytest.raises(ValueError, match="safetensors"):
        InceptionV3Extractor(pickled)


def test_inception_extractor_plumbing_with_random_weights(tmp_path):
    from safetensors.torch import save_file

    from ml_engine.models.fid_inception import FIDInceptionV3

    torch.manual_seed(0)
    state = FIDInceptionV3().state_dict()
    path = tmp_path / "inception.safetensors"
    save_file({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, str(path))
    extractor = InceptionV3Extractor(path)
    feats, probs = extractor.encode(render_real_images(2, seed=0))
    assert extractor.name == INCEPTION_NAME
    assert feats.shape == (2, 2048) and probs.shape == (2, 1008) and np.allclose(probs.sum(1), 1)

    save_file({"fc.weight": torch.zeros(1008, 2048)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a pytorch-fid Inception"):
        InceptionV3Extractor(tmp_path / "other.safetensors")


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A randomly initialised CLIP with a character-level tokenizer, saved like a downloaded model."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = tmp_path_factory.mktemp("clip")
    chars = list("abcdefghijklmnopqrstuvwxyz")
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    small = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 2, "num_hidden_layers": 1}
    config = CLIPConfig(
        text_config={**small, "vocab_size": len(tokens), "max_position_embeddings": 77},
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    return folder


def test_clip_score_plumbing_with_a_tiny_random_model(tiny_clip_dir):
    from ml_engine.evaluation.distribution.clip_score import clip_score, clip_scores

    images, prompts = real_images_and_prompts(3, seed=0)
    scores = clip_scores(images, prompts, tiny_clip_dir)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 100)).all()
    assert clip_score(images, prompts, tiny_clip_dir) == pytest.approx(scores.mean())
    with pytest.raises(ValueError, match="prompts"):
        clip_scores(images, prompts[:2], tiny_clip_dir)


def test_report_adds_a_clip_score_when_a_clip_model_is_given(tiny_clip_dir, domain_extractor):
    real, prompts = real_images_and_prompts(12, seed=1)
    report = distribution_report(real, real, domain_extractor, prompts=prompts, clip_model=tiny_clip_dir, is_splits=2)
    assert report["clip_model"] == tiny_clip_dir.name
    assert 0 <= report["clip_score"] <= 100 and report["floor"]["clip_score"] == pytest.approx(report["clip_score"])


def test_clip_score_without_a_model_says_how_to_provide_one(monkeypatch, tmp_path):
    from ml_engine.evaluation.distribution.clip_score import CLIP_ENV, clip_score

    monkeypatch.delenv(CLIP_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=CLIP_ENV):
        clip_score(render_real_images(1), ["a circle"])
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(ValueError, match="pickle"):
        clip_score(render_real_images(1), ["a circle"], tmp_path)
