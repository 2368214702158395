"""The comparison command measures every model and writes every metric, with sample counts, to Markdown and JSON."""

import json

import pytest

from ml_engine.cli import main
from ml_engine.evaluation.comparison.measure import human
from ml_engine.evaluation.distribution.extractors import available_extractors
from ml_engine.pipelines.tiny import save_tiny_gan_pipeline, save_tiny_pipeline


@pytest.mark.skipif("domain" not in available_extractors(), reason="the domain classifier is not shipped")
def test_compare_writes_every_metric_for_both_families(tmp_path):
    diffusion = save_tiny_pipeline(str(tmp_path / "tiny-diffusion"))
    gan = save_tiny_gan_pipeline(str(tmp_path / "tiny-gan"))
    judgements = {
        "models": {"tiny-gan": {"rating_avg": 4.0, "rating_count": 2, "folder_name": "tiny-gan"}},
        "arena": [
            {
                "champion": "other",
                "challenger": "tiny-gan",
                "votes": 4,
                "challenger_wins": 3,
                "champion_wins": 1,
                "ties": 0,
            }
        ],
    }
    (tmp_path / "human.json").write_text(json.dumps(judgements))
    out = tmp_path / "report"
    code = main(
        ["compare", "--models", f"{diffusion},{gan}", "--out", str(out), "--per-category", "1", "--seeds", "1",
         "--n", "24", "--human", str(tmp_path / "human.json"), "--no-mlflow"]
    )  # fmt: skip
    assert code == 0
    results = json.loads((out / "comparison.json").read_text())
    assert [r["class"] for r in results] == ["ShapesDiffusionPipeline", "ShapesGANPipeline"]
    for r in results:
        domain = r["distribution"]["domain"]
        assert domain["n_fake"] == domain["n_real"] == domain["n_floor"] == 24
        for key in ("fid", "kid_mean", "is_mean", "precision", "recall"):
            assert domain[key] is not None and domain["floor"][key] is not None
        assert r["speed"]["images_per_s"] > 0 and r["parameters"]["total"] > 0
        assert set(r["alignment"]["scores"]) >= {"overall", "counting", "composite"}
    assert results[1]["human"] == {"rating_avg": 4.0, "rating_count": 2, "arena_votes": 4, "arena_win_rate": 0.75}
    markdown = (out / "README.md").read_text()
    for needle in ("FID", "KID", "Inception Score", "precision", "recall", "real-vs-real floor", "images/s",
                   "24 generated vs 24 real", "mean rating", "alignment.png", "distribution.png"):  # fmt: skip
        assert needle in markdown
    assert (out / "alignment.png").stat().st_size > 0


def test_human_judgement_counts_ties_as_half_and_skips_unrated_models():
    judgements = {
        "models": {"gan": {"rating_avg": None, "rating_count": 0, "folder_name": "gan"}},
        "arena": [
            {"champion": "gan", "challenger": "x", "votes": 4, "challenger_wins": 1, "champion_wins": 1, "ties": 2}
        ],
    }
    assert human(judgements, "gan") == {"rating_avg": None, "rating_count": 0, "arena_votes": 4, "arena_win_rate": 0.5}
    assert human(None, "gan") is None
