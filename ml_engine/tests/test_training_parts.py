"""The pieces a training run is made of: the learning-rate clock and parameter groups, min-SNR loss weights, EMA
weights, caption states on an accelerator and the scene pool's parallel rendering."""

import numpy as np
import pytest
import torch
from torch import nn

from ml_engine.config import CriticConfig
from ml_engine.data.render import render
from ml_engine.data.scene import sample_scene
from ml_engine.text.cache import CaptionStateCache, DeviceCaptionStates
from ml_engine.training import data as training_data
from ml_engine.training.common import EMA, lr_at, schedule_step, set_scheduled_lr


def test_schedule_runs_by_steps_unless_told_to_run_by_time():
    assert schedule_step(500, 100, 1000, elapsed_minutes=9, max_minutes=10, by_time=False) == 500
    assert schedule_step(500, 100, 1000, elapsed_minutes=9, max_minutes=0, by_time=True) == 500


def test_decay_by_time_follows_whichever_budget_is_further_spent():
    # 90% of the minutes gone at step 500 of 1000: the schedule reads step 900
    assert schedule_step(500, 100, 1000, elapsed_minutes=9, max_minutes=10, by_time=True) == 900
    # more steps done than time spent: the steps lead
    assert schedule_step(950, 100, 1000, elapsed_minutes=1, max_minutes=10, by_time=True) == 950
    # past the time budget the schedule sits at its end, the lowest learning rate
    at = schedule_step(10, 5, 1000, elapsed_minutes=12, max_minutes=10, by_time=True)
    assert at == 1000
    assert lr_at(at, 1e-3, 5, 1000, 0.1) == pytest.approx(1e-4)


def test_warm_up_counts_real_steps_even_when_the_decay_runs_by_time():
    assert schedule_step(50, 200, 30_000, elapsed_minutes=3, max_minutes=6, by_time=True) == 50
    assert lr_at(50, 1e-3, 200, 30_000, 0.05) == pytest.approx(1e-3 * 51 / 200)


def test_ema_moves_each_float_tensor_toward_the_model_and_copies_the_rest():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    ema = EMA(model, decay=0.9)
    before = {k: v.clone() for k, v in ema.shadow.items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.train()(torch.randn(8, 4))  # moves the running statistics and bumps the integer counter
    ema.update(model, step=1000)  # past the warm start: decay is 0.9
    state = model.state_dict()
    for key, value in state.items():
        if value.dtype.is_floating_point:
            expected = before[key] + 0.1 * (value.float() - before[key])
            assert torch.allclose(ema.shadow[key], expected, atol=1e-6), key
        else:
            assert torch.equal(ema.shadow[key], value), key


def test_ema_warm_start_follows_the_model_closely_at_first():
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # decay min(0.999, 1/10) = 0.1: the shadow moves 90% of the way
    assert torch.all(ema.shadow["weight"] > 0.8)


class _FakeEncoder:
    max_tokens = 4

    def __init__(self):
        self.calls = []

    def __call__(self, captions, device="cpu"):
        self.calls.append((list(captions), device))
        states = torch.stack([torch.full((4, 384), float(len(c))) for c in captions]).to(device)
        mask = torch.tensor([[1, 1, 0, 0]] * len(captions)).to(device)
        return states, mask


def test_device_caption_states_encode_each_batch_where_the_model_trains():
    encoder = _FakeEncoder()
    states = DeviceCaptionStates(encoder, "cpu")
    out, mask = states.lookup(["a red circle", ""])
    assert encoder.calls == [(["a red circle", ""], "cpu")]
    assert out.shape == (2, 4, 384) and out[0, 0, 0] == len("a red circle") and out[1, 0, 0] == 0
    assert mask.dtype == torch.bool and mask.tolist() == [[True, True, False, False]] * 2
    states.lookup(["a red circle"])
    assert len(encoder.calls) == 2  # no cache: encoded again
    states.save("unused")
    states.load("unused")  # nothing kept, nothing to restore


def test_device_caption_states_give_what_the_cache_gives():
    encoder = _FakeEncoder()
    cached, mask_cached = CaptionStateCache(encoder).lookup(["two squares", "a blue cross"])
    direct, mask_direct = DeviceCaptionStates(encoder, "cpu").lookup(["two squares", "a blue cross"])
    assert torch.equal(cached, direct) and torch.equal(mask_cached, mask_direct)


def test_pool_rendering_in_worker_processes_matches_rendering_inline(monkeypatch):
    rng = np.random.default_rng(5)
    scenes = [sample_scene(rng) for _ in range(600)]
    monkeypatch.setattr(training_data, "PARALLEL_FROM", 0)
    chunks = list(training_data.rendered_chunks(scenes, workers=2))
    assert [len(c) for c in chunks] == [256, 256, 88]
    rendered = np.concatenate(chunks)
    assert rendered.dtype == np.uint8 and rendered.shape == (600, 64, 64, 3)
    assert all(np.array_equal(rendered[i], render(scenes[i])) for i in (0, 255, 256, 599))
    inline = np.concatenate(list(training_data.rendered_chunks(scenes, workers=1)))
    assert np.array_equal(rendered, inline)


def test_a_parameter_group_can_learn_faster_than_the_rest():
    config = CriticConfig(lr=1e-3, warmup_steps=0, max_steps=100, min_lr_ratio=0.1)
    optimizer = torch.optim.AdamW(
        [{"params": [nn.Parameter(torch.zeros(1))]}, {"params": [nn.Parameter(torch.zeros(1))], "lr_scale": 3.0}]
    )
    base = set_scheduled_lr(optimizer, config, 40, started=0.0)
    assert base == pytest.approx(lr_at(40, 1e-3, 0, 100, 0.1))
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([base, 3 * base])


def test_min_snr_weights_clip_the_x0_weight_at_gamma_for_a_v_target():
    from ml_engine.schedulers import min_snr_weights, training_scheduler

    scheduler = training_scheduler(1000, "squaredcos_cap_v2", "v_prediction")
    t = torch.tensor([100, 500, 900, 999])
    weights = min_snr_weights(scheduler, t, 5.0, "v_prediction")
    alpha_bar = scheduler.alphas_cumprod[t]
    snr = alpha_bar / (1 - alpha_bar)
    # by hand: x0-space weight min(SNR, 5), over SNR + 1 for a v target
    assert torch.allclose(weights, snr.clamp(max=5.0) / (snr + 1))
    assert weights[3] < 1e-6  # the noisiest step weighs almost nothing
    assert torch.equal(min_snr_weights(scheduler, t, 0.0, "v_prediction"), torch.ones(4))  # gamma 0: unweighted


def test_after_step_evaluates_checkpoints_and_stops_on_schedule():
    from types import SimpleNamespace

    from ml_engine.training.common import after_step

    config = SimpleNamespace(eval_every=2, checkpoint_every=3, max_steps=7, max_minutes=0.0)
    calls = []
    for step in range(1, 8):
        stop = after_step(step, config, 0.0, lambda: calls.append("eval"), lambda thorough: calls.append(thorough))
        assert not stop
    # evaluations at 2, 4, 6; checkpoints at 3, 6 and the last step (7), which alone is thorough
    assert calls == ["eval", False, "eval", "eval", False, True]
    spent = SimpleNamespace(eval_every=100, checkpoint_every=100, max_steps=1000, max_minutes=1e-9)
    saved = []
    assert after_step(5, spent, 0.0, lambda: None, saved.append) and saved == [True]  # time is up: a thorough save


@pytest.mark.parametrize(
    "timings, device, pays", [((1.0, 4.7), "cpu", False), ((1.0, 0.5), "cpu", True), (None, "cuda", True)]
)
def test_bf16_autocast_only_where_it_is_timed_faster(monkeypatch, timings, device, pays):
    """An emulated bf16 matmul (4.7x float32's time on an AVX-512 Xeon without avx512_bf16) keeps autocast off."""
    from ml_engine import precision

    precision.bf16_pays.cache_clear()
    monkeypatch.setattr(precision, "timed_pair", lambda *args, **kwargs: timings)
    try:
        assert precision.bf16_pays(device) is pays
        if device == "cpu":
            with precision.autocast(device, True):
                assert torch.is_autocast_enabled("cpu") is pays
            with precision.autocast(device, False):
                assert not torch.is_autocast_enabled("cpu")
    finally:
        precision.bf16_pays.cache_clear()
