"""Training the latent critic: the verdicts it is taught, counterfactual scenes, and tiny training runs."""

import dataclasses
import json
import os

import numpy as np
import torch

from ml_engine.config import CriticConfig
from ml_engine.data.captions import passes
from ml_engine.models.critic import LatentCritic
from ml_engine.pipelines.tiny import build_tiny_pipeline, save_tiny_pipeline
from ml_engine.training.data import ScenePool


def test_verdicts_pair_each_caption_with_a_scene_it_is_true_of_and_two_it_is_not(tmp_path):
    from ml_engine.training.critic import verdicts_for

    autoencoder = build_tiny_pipeline().autoencoder
    pool = ScenePool.build(autoencoder, 64, seed=3, cache_dir=str(tmp_path))
    weights = {"single_object": 0.1, "counting": 1.0, "position": 1.0, "color_attr": 1.0}
    draw = pool.draw(np.random.default_rng(0), 32, 0.0, 0.0, weights, negative_prob=1.0)
    verdicts = verdicts_for(pool, draw, other_image_weight=0.5)
    kinds = {"true": 0, "near_miss": 0, "other_scene": 0}
    for i, (row, kind, target, weight) in enumerate(
        zip(verdicts.rows, verdicts.kinds, verdicts.targets, verdicts.weights, strict=True)
    ):
        scene = pool.scenes[draw.ids[row]]
        assert passes(verdicts.requirements[i], scene.objects) == (target == 1.0)  # checked against the graph
        assert weight == (0.5 if kind == "other_scene" else 1.0)
        if kind != "true":
            assert verdicts.captions[i] != draw.captions[row]
        kinds[kind] += 1
    assert kinds["true"] == 32 and kinds["near_miss"] >= 24 and kinds["other_scene"] >= 24


def test_counterfactual_verdicts_put_the_true_caption_on_its_scene_edited_until_false(tmp_path):
    from ml_engine.data.render import render
    from ml_engine.images import to_model_range
    from ml_engine.training.critic import add_counterfactuals, verdicts_for

    autoencoder = build_tiny_pipeline().autoencoder
    pool = ScenePool.build(autoencoder, 64, seed=4, cache_dir=str(tmp_path))
    weights = {"single_object": 0.1, "position": 1.0, "counting": 1.0}
    draw = pool.draw(np.random.default_rng(1), 24, 0.0, 0.0, weights, negative_prob=1.0)
    verdicts = verdicts_for(pool, draw, other_image_weight=0.5, counterfactual_weight=2.0)
    before = len(verdicts.rows)
    latents, scenes = add_counterfactuals(verdicts, pool, draw, autoencoder, np.random.default_rng(2), share=1.0)
    added = list(range(before, len(verdicts.rows)))
    assert len(added) >= 16 and latents.shape[0] == 24 + len(added)
    assert torch.equal(latents[:24], pool.latents[torch.from_numpy(draw.ids)])
    for i in added:
        about = verdicts.about[i]
        assert verdicts.kinds[i] == "counterfactual" and verdicts.targets[i] == 0.0 and verdicts.weights[i] == 2.0
        assert verdicts.captions[i] == draw.captions[about] and verdicts.rows[i] >= 24
        assert not torch.equal(latents[verdicts.rows[i]], latents[about])  # another picture, the same caption
    # the edited scenes are encoded like the pool's: a scene's own render encodes to its pool latent
    pixels = torch.from_numpy(render(pool.scenes[draw.ids[0]])).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        again = autoencoder.normalize(autoencoder.encode(to_model_range(pixels)))
    assert torch.allclose(again[0], latents[0], atol=1e-4)


def test_tiny_critic_training_checkpoints_resumes_and_saves_a_loadable_critic(tmp_path, monkeypatch):
    from ml_engine.training.critic import train_critic

    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr("ml_engine.training.data.CACHE_ROOT", str(tmp_path / "cache"))
    autoencoder = save_tiny_pipeline(str(tmp_path / "tiny-dm"))
    config = CriticConfig(
        name="critic-test",
        autoencoder=autoencoder,
        width=32,
        layers=1,
        heads=2,
        batch_size=16,
        warmup_steps=2,
        max_steps=6,
        checkpoint_every=3,
        eval_every=3,
        log_every=2,
        scene_pool=64,
        eval_scenes=32,
        redrawn_model=autoencoder,  # the tiny diffusion model redraws part of the scenes
        redrawn_scenes=24,
        redrawn_start=1,
        counterfactual_prob=1.0,
        mlflow=False,
        output_dir=str(tmp_path / "critic"),
    )
    train_critic(dataclasses.replace(config, max_steps=3))
    output = train_critic(config)  # resumes from the step-3 checkpoint
    with open(os.path.join(output, "training.json")) as f:
        summary = json.load(f)
    assert summary["step"] == 6 and [c["step"] for c in summary["curve"]] == [3, 6]
    last = summary["curve"][-1]
    assert 0.0 <= last["verdicts"] <= 1.0 and 0.0 <= last["redrawn/verdicts"] <= 1.0
    assert any(key.startswith("counterfactual/") for key in last)
    assert all(np.isfinite(loss) for _, loss in summary["loss_curve"])
    # a later run starts from the saved critic
    again = train_critic(
        dataclasses.replace(config, name="critic-test-2", init_from=output, max_steps=0, output_dir="")
    )
    assert torch.equal(
        LatentCritic.from_pretrained(again).head.weight, LatentCritic.from_pretrained(output).head.weight
    )
    critic = LatentCritic.from_pretrained(output)
    assert critic.config.width == 32 and critic(
        torch.randn(1, 16, 8, 8), torch.randn(1, 3, 384), torch.ones(1, 3)
    ).shape == (1,)


def test_a_critic_trained_with_a_count_term_learns_the_scenes_counts_beside_its_verdicts(tmp_path, monkeypatch):
    from ml_engine.training.critic import shape_counts, train_critic

    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr("ml_engine.training.data.CACHE_ROOT", str(tmp_path / "cache"))
    autoencoder = save_tiny_pipeline(str(tmp_path / "tiny-dm"))
    config = CriticConfig(
        name="critic-count-test", autoencoder=autoencoder, width=32, layers=1, heads=2, batch_size=16,
        warmup_steps=1, max_steps=2, eval_every=2, scene_pool=64, eval_scenes=32, counterfactual_prob=1.0,
        count_loss_weight=1.0, mlflow=False, output_dir=str(tmp_path / "critic"),
    )  # fmt: skip
    output = train_critic(config)
    with open(os.path.join(output, "training.json")) as f:
        last = json.load(f)["curve"][-1]
    assert 0.0 <= last["count/exact"] <= 1.0 and last["count/mae"] >= 0.0
    assert LatentCritic.from_pretrained(output).config.count_shapes == 4
    pool = ScenePool.build(build_tiny_pipeline().autoencoder, 8, seed=4, cache_dir=str(tmp_path / "pool"))
    counts = shape_counts(pool.scenes)
    assert torch.equal(counts.sum(dim=1), torch.tensor([float(len(s.objects)) for s in pool.scenes]))
