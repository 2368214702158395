"""The shipped `diffusion` model: present, safetensors only, small, documented, and it generates."""

import json
from pathlib import Path

from ml_engine.pipelines import load_pipeline
from ml_engine.pipelines.loader import WEIGHTS_DIR, bundled_models

MODEL = WEIGHTS_DIR / "diffusion"


def test_the_default_model_is_bundled_as_small_safetensors_files():
    assert "diffusion" in bundled_models()
    files = [p for p in MODEL.rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix == ".safetensors"]
    assert {p.parent.name for p in weights} == {"unet", "autoencoder", "critic"}
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".ckpt", ".pkl"}]
    # 22 MB of it is the critic: the GAN's discriminator (7.6 MB) and critic v9's relation and count terms (14.7 MB,
    # 10 MB of that its frozen caption reader) ranking together (docs/shapes-model.md)
    assert sum(p.stat().st_size for p in files) < 60 * 1024 * 1024


def test_the_default_model_carries_its_config_and_training_curve():
    summary = json.loads((MODEL / "training.json").read_text())
    assert summary["config"]["kind"] == "diffusion" and summary["images_seen"] > 0
    assert "overall" in summary["curve"][-1]


def test_the_default_model_generates_a_64px_image_with_progress():
    pipe = load_pipeline("diffusion")
    steps = []
    result = pipe(
        "a red circle to the left of a blue square", seed=0, num_inference_steps=4, callback_on_step_end=steps.append
    )
    assert result.images[0].size == (64, 64) and len(steps) == 4
    # v4 ships ranked sampling: 10 candidates pruned to the best after 4 steps, judged by the GAN's discriminator and
    # critic v9's relation and count terms added raw, x 3 (docs/shapes-model.md)
    assert pipe.candidates == 10 and pipe.pruning == ((1, 4),) and pipe.critic is not None
    discriminator, critic = pipe.critic.members
    assert critic.config.judged_by == "relation+count" and critic.count is not None
    assert tuple(pipe.critic.config.raw_scales) == (0.0, 3.0)
    # the candidates' steps run in bf16 where it pays, the kept image is finished in float32
    assert pipe.bf16_candidates and pipe.default_steps == 8


def test_the_bundled_models_ship_the_alignment_their_evaluation_measured():
    """metrics.json (what the studio's model list shows as accuracy) is the overall score of the evaluation it names,
    not a hand-typed figure: the evaluation's own file must say the same."""
    root = Path(__file__).resolve().parents[2]
    for name in ("diffusion", "gan"):
        metrics = json.loads((Path(WEIGHTS_DIR) / name / "metrics.json").read_text())
        evaluation = json.loads((root / metrics["accuracy_from"]).read_text())
        if isinstance(evaluation, list):  # a comparison: one entry a model
            evaluation = next(entry["alignment"] for entry in evaluation if entry["model"] == name)
        assert metrics["accuracy"] == round(evaluation["scores"]["overall"], 3)
