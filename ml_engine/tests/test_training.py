"""Tiny training runs: the loss falls, checkpoints resume where they stopped, the result loads."""

import dataclasses
import json
import os

import pytest

from ml_engine.cli import pipeline_cmd
from ml_engine.config import AutoencoderConfig, DiffusionConfig, load_config
from ml_engine.pipelines import load_pipeline


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))


def tiny_autoencoder_config(tmp_path, **overrides) -> AutoencoderConfig:
    """The pipeline's tiny autoencoder, untracked, with its own run name and folder."""
    fields = dict(
        name="ae-test",
        max_steps=40,
        checkpoint_every=20,
        eval_images=32,
        mlflow=False,
        experiment="shapes",
        output_dir=str(tmp_path / "ae"),
    )
    return dataclasses.replace(pipeline_cmd.tiny_autoencoder_config(str(tmp_path)), **{**fields, **overrides})


def tiny_diffusion_config(tmp_path, autoencoder: str, **overrides) -> DiffusionConfig:
    """The pipeline's tiny diffusion model, untracked, with its own run name and folder."""
    fields = dict(
        name="dm-test",
        max_steps=60,
        checkpoint_every=30,
        mlflow=False,
        experiment="shapes",
        output_dir=str(tmp_path / "dm"),
    )
    return dataclasses.replace(
        pipeline_cmd.tiny_diffusion_config(str(tmp_path), autoencoder), **{**fields, **overrides}
    )


def mean_loss(curve, part: slice) -> float:
    values = [loss for _, loss in curve][part]
    return sum(values) / len(values)


@pytest.fixture(scope="module")
def trained_autoencoder(tmp_path_factory):
    from ml_engine.training.autoencoder import train_autoencoder

    tmp = tmp_path_factory.mktemp("ae")
    import ml_engine.config as config_module

    saved_root = config_module.CACHE_ROOT
    config_module.CACHE_ROOT = str(tmp / "cache")
    try:
        output = train_autoencoder(tiny_autoencoder_config(tmp))
    finally:
        config_module.CACHE_ROOT = saved_root
    return output


def test_autoencoder_training_lowers_the_loss_and_saves_latent_stats(trained_autoencoder):
    with open(os.path.join(trained_autoencoder, "training.json")) as f:
        summary = json.load(f)
    curve = summary["loss_curve"]
    assert mean_loss(curve, slice(-2, None)) < 0.7 * mean_loss(curve, slice(0, 2))
    with open(os.path.join(trained_autoencoder, "config.json")) as f:
        config = json.load(f)
    assert len(config["latent_std"]) == 16 and all(s > 0 for s in config["latent_std"])


def test_diffusion_training_lowers_the_loss_and_saves_a_loadable_pipeline(tmp_path, trained_autoencoder):
    from ml_engine.training.diffusion import train_diffusion

    output = train_diffusion(tiny_diffusion_config(tmp_path, trained_autoencoder))
    with open(os.path.join(output, "training.json")) as f:
        summary = json.load(f)
    curve = summary["loss_curve"]
    assert mean_loss(curve, slice(-3, None)) < 0.8 * mean_loss(curve, slice(0, 3))
    assert summary["curve"] and "overall" in summary["curve"][-1]  # the final evaluation is kept
    pipe = load_pipeline(output)
    assert pipe.default_steps == 2  # sampled as its curve was measured
    assert pipe("a red circle", seed=0).images[0].size == (64, 64)


def test_a_continued_run_starts_from_init_from_and_carries_its_curve_on(tmp_path, trained_autoencoder):
    """The shipped UNet is v1 continued three times by `init_from`: each run starts from the folder's UNet and its
    training.json, so the curve and the images seen run on across versions."""
    from ml_engine.training.diffusion import train_diffusion

    first = train_diffusion(tiny_diffusion_config(tmp_path, trained_autoencoder, max_steps=10,
                                                  output_dir=str(tmp_path / "a")))  # fmt: skip
    continued = tiny_diffusion_config(
        tmp_path, trained_autoencoder, name="dm-test-on", init_from=first, max_steps=10, output_dir=str(tmp_path / "b")
    )
    with open(os.path.join(train_diffusion(continued), "training.json")) as f:
        summary = json.load(f)
    assert summary["images_seen_before"] == 10 * 16 and summary["images_seen"] == 20 * 16
    assert [point["images"] for point in summary["curve"]] == [10 * 16, 20 * 16]
    assert summary["continued_from"] == first


def test_a_stopped_run_resumes_from_its_checkpoint(tmp_path, trained_autoencoder):
    from ml_engine.training.diffusion import train_diffusion

    first = tiny_diffusion_config(tmp_path, trained_autoencoder, max_steps=30, output_dir=str(tmp_path / "a"))
    train_diffusion(first)
    resumed = tiny_diffusion_config(tmp_path, trained_autoencoder, max_steps=40, output_dir=str(tmp_path / "b"))
    train_diffusion(resumed)
    with open(tmp_path / "b" / "training.json") as f:
        summary = json.load(f)
    steps = [step for step, _ in summary["loss_curve"]]
    assert steps[0] == 5 and steps[-1] == 40  # one curve across both invocations
    assert summary["images_seen"] == 40 * 16


def test_config_files_reject_unknown_fields(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"kind": "diffusion", "learning_rate": 1}))
    with pytest.raises(ValueError, match="learning_rate"):
        load_config(str(path))


def test_shipped_configs_parse():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
    for name in os.listdir(root):
        assert load_config(os.path.join(root, name)).kind in {
            "autoencoder",
            "diffusion",
            "gan",
            "critic",
            "domain_classifier",
            "caption_reader",
        }


def test_a_config_may_start_from_a_run_under_the_home_cache(tmp_path):
    path = tmp_path / "continue.json"
    path.write_text(json.dumps({"kind": "diffusion", "init_from": "~/.cache/t2i/runs/x/final", "autoencoder": "a"}))
    config = load_config(str(path))
    assert config.init_from == os.path.join(os.path.expanduser("~"), ".cache/t2i/runs/x/final")
    assert config.autoencoder == "a"


def test_training_logs_params_curves_and_sample_grids_to_mlflow(tmp_path, trained_autoencoder, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    from ml_engine.training.diffusion import train_diffusion

    monkeypatch.setattr("ml_engine.tracking.DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # empty: the local default; restored after the test
    config = tiny_diffusion_config(
        tmp_path, trained_autoencoder, max_steps=20, eval_every=10, mlflow=True, experiment="test-shapes"
    )
    train_diffusion(config)
    client = MlflowClient(tracking_uri=mlflow.get_tracking_uri())
    assert mlflow.get_tracking_uri().startswith(f"sqlite:///{tmp_path}")
    experiment = client.get_experiment_by_name("test-shapes")
    assert experiment.artifact_location.startswith(f"file://{tmp_path}")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["block_out_channels"] == "(32,)"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [5, 10, 15, 20]
    assert len(client.get_metric_history(run.info.run_id, "eval/overall")) == 2
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "samples")}
    assert logged == {"samples/step_0000010.png", "samples/step_0000020.png"}
