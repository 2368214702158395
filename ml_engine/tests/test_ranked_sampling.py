"""Ranked sampling in the diffusion pipeline: each image the best of its candidates as the critic ranks them,
pruned along the way on their predicted x0, and saved with the model."""

import pytest
import torch

from ml_engine.models.critic import LatentCritic
from ml_engine.pipelines import load_pipeline
from ml_engine.pipelines.base import candidate_seed
from ml_engine.pipelines.tiny import build_tiny_pipeline, build_tiny_ranked_pipeline


@pytest.fixture(scope="module")
def ranked():
    """The tiny diffusion pipeline with a tiny critic, so that it can rank candidates."""
    return build_tiny_ranked_pipeline()


def test_each_image_is_its_best_candidate_as_the_critic_ranks_them(ranked):
    prompts, seeds, k = ["a red circle", "two squares", "a cross above a circle"], [4, 9, 2], 3
    chosen = ranked(
        prompts,
        seed=None,
        generator=[torch.Generator().manual_seed(s) for s in seeds],
        candidates=k,
        num_inference_steps=3,
        output_type="pt",
    )
    states, mask = ranked.text(prompts)
    scores, images = [], []
    for j in range(k):  # every candidate on its own: a one-candidate call with the candidate's seed draws it
        generators = [torch.Generator().manual_seed(candidate_seed(s, j)) for s in seeds]
        alone = ranked(prompts, generator=generators, num_inference_steps=3, output_type="latent")
        scores.append(ranked.critic(alone.images, states, mask))
        images.append(ranked.decode_latents(alone.images))
    best = torch.stack(scores).argmax(dim=0)
    winners = torch.stack([images[int(j)][i] for i, j in enumerate(best)])
    assert best.tolist() != [0, 0, 0]  # some image is not its own seed's first draw
    # one batch of 9 rows against three batches of 3: CPU kernels may round differently per batch size
    assert (chosen.images - winners).abs().max() < 1e-3
    assert chosen.seeds == seeds


def test_one_candidate_is_the_plain_image_and_ranking_needs_a_critic(ranked, tiny_pipeline):
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    one = ranked("two squares", seed=3, candidates=1, num_inference_steps=3, output_type="pt").images
    plain = build_tiny_pipeline()("two squares", seed=3, num_inference_steps=3, output_type="pt").images
    assert torch.equal(one, plain)
    with pytest.raises(ValueError, match="candidates must be 1"):
        tiny_pipeline("two squares", seed=3, candidates=2)
    with pytest.raises(ValueError, match="candidates must be 1"):
        ranked("two squares", seed=3, candidates=0)
    with pytest.raises(ValueError, match="needs a critic"):
        ShapesDiffusionPipeline(
            ranked.autoencoder, ranked.unet, ranked.scheduler, text_encoder=ranked.text, candidates=2
        )


def test_the_critic_and_the_number_of_candidates_are_saved_with_the_model(ranked, tmp_path):
    ranked.register_to_config(candidates=2)
    try:
        ranked.save_pretrained(str(tmp_path / "ranked"), safe_serialization=True)
    finally:
        ranked.register_to_config(candidates=1)
    loaded = load_pipeline(str(tmp_path / "ranked"))
    assert loaded.candidates == 2 and isinstance(loaded.critic, LatentCritic)
    assert loaded.sampler_name.endswith("best of 2 ranked by a critic")
    expected = ranked("a circle", seed=5, candidates=2, num_inference_steps=3, output_type="pt").images
    assert torch.equal(loaded("a circle", seed=5, num_inference_steps=3, output_type="pt").images, expected)
    attention = loaded("a circle", seed=5, num_inference_steps=3, return_attention=True).attention
    assert len(attention) == 1 and "circle" in attention[0].words


def test_a_scheduler_keeps_the_rows_a_sampler_goes_on_with():
    from ml_engine import schedulers

    scheduler = schedulers.sampling_scheduler(schedulers.training_scheduler(1000, "squaredcos_cap_v2", "v_prediction"))
    model = torch.nn.Conv2d(4, 4, 1)  # any function of the sample stands in for the UNet
    start = torch.randn(5, 4, 3, 3, generator=torch.Generator().manual_seed(0))

    def run(keep_after: int | None):
        scheduler.set_timesteps(6)
        latents = start.clone()
        for i, t in enumerate(scheduler.timesteps):
            with torch.no_grad():
                out = model(latents)
            if i + 1 == keep_after:
                rows = torch.tensor([3, 0])
                schedulers.keep_rows(scheduler, rows, batch=latents.shape[0])
                latents, out = latents[rows], out[rows]
            latents = scheduler.step(out, t, latents).prev_sample
        return latents

    full, kept = run(None), run(3)
    assert kept.shape[0] == 2
    assert (kept - full[[3, 0]]).abs().max() < 1e-5  # the order-2 solver's memory of earlier steps went with them
    assert scheduler.timesteps.shape[0] == 6  # its tables were left alone


def test_pruned_candidates_are_judged_on_their_predicted_x0_and_the_best_finish_as_if_drawn_alone(ranked, monkeypatch):
    prompts, seeds, k = ["a red circle", "two squares", "a cross above a circle"], [4, 9, 2], 4
    judged = []
    rank = ranked.top_candidates

    def spy(latents, states, mask, n, keep=1):
        kept = rank(latents, states, mask, n, keep)
        judged.append((latents.shape[0], keep, kept.tolist()))
        return kept

    monkeypatch.setattr(ranked, "top_candidates", spy)
    options = {"candidates": k, "num_inference_steps": 5, "pruning": "2@1,1@3"}
    chosen = ranked(prompts, generator=[torch.Generator().manual_seed(s) for s in seeds], output_type="pt", **options)
    n = len(prompts)
    # judged twice along the way: 4 candidates an image after step 1, the 2 kept after step 3; not at the end
    assert [(rows, keep) for rows, keep, _ in judged] == [(k * n, 2), (2 * n, 1)]
    first, second = judged[0][2], judged[1][2]
    picked = [first[row] // n for row in second]  # the second verdict's rows index the first one's kept rows
    for i, (seed, j) in enumerate(zip(seeds, picked, strict=True)):  # each finished as if it had been drawn alone
        alone = ranked(prompts[i], generator=torch.Generator().manual_seed(candidate_seed(seed, j)),
                       num_inference_steps=5, output_type="pt").images  # fmt: skip
        assert (chosen.images[i] - alone[0]).abs().max() < 1e-3
    attention = ranked(prompts, generator=[torch.Generator().manual_seed(s) for s in seeds], output_type="pt",
                       return_attention=True, **options)  # fmt: skip
    assert torch.equal(attention.images, chosen.images) and len(attention.attention) == n
    assert "cross" in attention.attention[2].words
    judged.clear()  # kept to 2, they are ranked on the finished latents
    ranked(prompts, seed=0, candidates=k, num_inference_steps=5, pruning="2@1")
    assert [(rows, keep) for rows, keep, _ in judged] == [(k * n, 2), (2 * n, 1)]


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [("2@1,2@3", "keeps fewer"), ("2@3,1@1", "keeps fewer"), ("0@1", "at least 1"), ("two@1", "reads like")],
)
def test_a_pruning_schedule_that_does_not_narrow_is_refused(ranked, schedule, problem):
    with pytest.raises(ValueError, match=problem):
        ranked("a circle", seed=0, candidates=4, pruning=schedule)


def test_pruning_is_saved_with_the_model(ranked, tmp_path):
    from ml_engine.pipelines.pruning import rows_steps

    ranked.register_to_config(candidates=4, pruning=[[2, 1], [1, 2]])
    try:
        ranked.save_pretrained(str(tmp_path / "pruned"), safe_serialization=True)
    finally:
        ranked.register_to_config(candidates=1, pruning=[])
    loaded = load_pipeline(str(tmp_path / "pruned"))
    assert loaded.pruning == ((2, 1), (1, 2))
    assert loaded.sampler_name.endswith("best of 4 ranked by a critic, pruned 2@1,1@2 (keep@step)")
    expected = ranked("a circle", seed=5, candidates=4, pruning="2@1,1@2", num_inference_steps=4, output_type="pt")
    assert torch.equal(loaded("a circle", seed=5, num_inference_steps=4, output_type="pt").images, expected.images)
    assert rows_steps(16, loaded.pruning, 8) == 16 + 2 + 6  # 16 for a step, 2 for one more, 1 for the last six
    assert rows_steps(16, ((8, 1), (2, 3), (1, 5)), 8) == 16 + 16 + 4 + 3
