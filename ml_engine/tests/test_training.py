"""Tiny training runs: the loss falls, checkpoints resume where they stopped, the result loads."""

import dataclasses
import json
import os

import pytest
import torch

from ml_engine import pipeline_cmd
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
    assert pipe.default_steps == 2 and pipe.caption_reader is None  # sampled as its curve was measured
    assert pipe("a red circle", seed=0).images[0].size == (64, 64)


def test_a_run_adds_a_caption_reader_ranks_near_misses_and_a_continued_run_trains_it_on(tmp_path, trained_autoencoder):
    from ml_engine.models.caption_reader import CaptionReader
    from ml_engine.training.diffusion import train_diffusion

    first = tiny_diffusion_config(
        tmp_path, trained_autoencoder, max_steps=20, caption_reader_layers=1, near_miss_prob=0.5,
        output_dir=str(tmp_path / "a"),
    )  # fmt: skip
    output = train_diffusion(first)
    added = load_pipeline(output).caption_reader
    assert isinstance(added, CaptionReader) and added.project.weight.abs().sum() > 0  # it grew from zero
    with open(os.path.join(output, "training.json")) as f:
        ranked_right = [share for _, share in json.load(f)["near_miss_curve"]]
    assert len(ranked_right) == 4 and all(0 <= share <= 1 for share in ranked_right)  # logged every 5 steps
    continued = tiny_diffusion_config(
        tmp_path, trained_autoencoder, name="dm-test-on", init_from=str(tmp_path / "a"), max_steps=10,
        output_dir=str(tmp_path / "b"),
    )  # fmt: skip
    trained_on = load_pipeline(train_diffusion(continued)).caption_reader
    assert trained_on.config.layers == 1 and not torch.equal(trained_on.project.weight, added.project.weight)


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


def guided_error(student, teacher, latents, states, mask, empty_states, empty_mask, scale: float) -> float:
    """How far the student's one pass at `scale` is from the teacher's classifier-free guidance at it."""
    from ml_engine.models.unet import unet_output

    t = torch.linspace(100, 900, len(latents)).long()
    noisy = 0.6 * latents + 0.8 * torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cond, uncond = (unet_output(teacher, noisy, t, s, m) for s, m in ((states, mask), (empty_states, empty_mask)))
        guided = unet_output(student, noisy, t, states, mask, torch.tensor([scale]))
    return float(((guided - (uncond + scale * (cond - uncond))) ** 2).mean())


def test_guidance_distillation_teaches_one_pass_the_teachers_guided_prediction(tmp_path, trained_autoencoder):
    from ml_engine.training.diffusion import train_diffusion

    small = {"block_out_channels": (64,), "attention_head_dim": 32}  # two channels a norm group (see the next file)
    teacher = train_diffusion(tiny_diffusion_config(tmp_path, trained_autoencoder, max_steps=20,
                                                    output_dir=str(tmp_path / "teacher"), **small))  # fmt: skip
    distilled = tiny_diffusion_config(
        tmp_path, trained_autoencoder, name="dm-distilled", init_from=teacher, teacher=teacher, max_steps=60,
        distill_scales=(1.0, 6.0), output_dir=str(tmp_path / "student"), **small,
    )  # fmt: skip
    student_folder = train_diffusion(distilled)
    with open(os.path.join(student_folder, "training.json")) as f:
        curve = json.load(f)["loss_curve"]
    assert mean_loss(curve, slice(-3, None)) < 0.8 * mean_loss(curve, slice(0, 3))
    teacher_pipe, student = load_pipeline(teacher), load_pipeline(student_folder)
    assert student.guidance_distilled and not teacher_pipe.guidance_distilled
    prompts = ["two red circles", "a blue square left of a cross", "three small triangles", "a green circle"] * 2
    states, mask = teacher_pipe.encode_prompts(prompts)
    empty_states, empty_mask = teacher_pipe.encode_prompts([""] * len(prompts))
    latents = torch.randn(len(prompts), 16, 8, 8, generator=torch.Generator().manual_seed(1))
    inputs = (latents, states, mask, empty_states, empty_mask, 4.0)
    # the student began as the teacher's conditional prediction, which is (w - 1)(c - u) from the guided one
    before = guided_error(teacher_pipe.unet, teacher_pipe.unet, *inputs)
    assert guided_error(student.unet, teacher_pipe.unet, *inputs) < 0.7 * before
    assert student("a red circle", seed=0).images[0].size == (64, 64)
    # the same on the sampler's own path: 8 captions a batch, each taught at both of its 2 sampling steps
    on_path = dataclasses.replace(distilled, name="dm-on-path", distill_trajectories=True, distill_student_share=0.25,
                                  output_dir=str(tmp_path / "on-path"))  # fmt: skip
    with open(os.path.join(train_diffusion(on_path), "training.json")) as f:
        curve = json.load(f)["loss_curve"]
    assert mean_loss(curve, slice(-3, None)) < 0.8 * mean_loss(curve, slice(0, 3))


def test_distillation_can_teach_only_the_samplers_own_steps():
    from ml_engine.config import DiffusionConfig
    from ml_engine.schedulers import training_scheduler
    from ml_engine.training.diffusion import distillation_loss

    seen = []

    def unet(noisy, t, states, mask, scale=None):  # a stand-in teacher and student that record the steps taught
        seen.append(t.tolist())
        return noisy * 0.5

    config = DiffusionConfig(distill_timesteps=(999, 624, 124), distill_scales=(1.0, 6.0))
    latents, states, mask = torch.randn(64, 16, 8, 8), torch.randn(64, 24, 384), torch.ones(64, 24)
    args = (training_scheduler(1000, "squaredcos_cap_v2", "v_prediction"), config, latents, states, mask, states, mask)
    loss = distillation_loss(unet, unet, *args)
    assert torch.isfinite(loss) and set(seen[-1]) == {999, 624, 124}  # the student's rows, only the listed steps
    config.distill_timesteps = ()
    distillation_loss(unet, unet, *args)
    assert len(set(seen[-1])) > 20  # uniformly over all 1,000


def test_trajectory_distillation_teaches_the_states_the_sampler_meets():
    from ml_engine.config import DiffusionConfig
    from ml_engine.schedulers import sampling_scheduler, training_scheduler
    from ml_engine.training.trajectories import sample_trajectories, trajectory_distillation_loss

    calls = []

    def teacher(noisy, t, states, mask, scale=None):  # conditional rows say 1, the empty caption's 0
        calls.append(("teacher", noisy.shape[0], sorted(set(t.tolist()))))
        return states[:, :1, :1].reshape(-1, 1, 1, 1).expand_as(noisy) * 1.0

    def student(noisy, t, states, mask, scale=None):
        calls.append(("student", noisy.shape[0], sorted(set(t.tolist()))))
        return torch.zeros_like(noisy) + 0.0 * scale.view(-1, 1, 1, 1)

    config = DiffusionConfig(eval_steps=4, batch_size=12, distill_scales=(2.0, 2.0), distill_trajectories=True)
    captions, noise = 3, training_scheduler(1000, "squaredcos_cap_v2", "v_prediction")
    states, mask = torch.ones(captions, 24, 384), torch.ones(captions, 24)
    empty, empty_mask = torch.zeros(captions, 24, 384), torch.ones(captions, 24)
    sampler = sampling_scheduler(noise)
    rows = sample_trajectories(student, teacher, sampler, config, states, mask, empty, empty_mask,
                               torch.full((captions,), 2.0), (16, 8, 8), torch.Generator().manual_seed(0))  # fmt: skip
    # one row per caption and sampler step, labelled u + w (c - u) = 0 + 2 (1 - 0), at the sampler's own steps
    assert rows.noisy.shape == (12, 16, 8, 8) and torch.allclose(rows.target, torch.full_like(rows.target, 2.0))
    assert sorted(set(rows.t.tolist())) == sorted(int(t) for t in sampler.timesteps)
    assert rows.caption_rows.tolist() == [0, 1, 2] * 4 and not any(c[0] == "student" for c in calls)
    # the states differ step by step: each follows the sampler along its trajectory
    assert not torch.allclose(rows.noisy[:3], rows.noisy[3:6])
    calls.clear()
    config.distill_student_share = 1.0  # every trajectory driven by the student, still labelled by the teacher
    loss = trajectory_distillation_loss(student, teacher, noise, config, states, mask, empty, empty_mask, (16, 8, 8),
                                        sampler)  # fmt: skip
    assert torch.isfinite(loss) and loss > 0
    assert [c[:2] for c in calls if c[0] == "student"] == [("student", 3)] * 4 + [("student", 12)]


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
