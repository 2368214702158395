"""The latent critic: what it is trained on, a tiny training run, and ranked sampling in the diffusion pipeline."""

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from ml_engine.config import CriticConfig
from ml_engine.data.captions import passes
from ml_engine.models.critic import LatentCritic
from ml_engine.pipelines import load_pipeline
from ml_engine.pipelines.base import candidate_seed
from ml_engine.pipelines.tiny import build_tiny_pipeline, build_tiny_ranked_pipeline, save_tiny_pipeline
from ml_engine.training.data import ScenePool


@pytest.fixture(scope="module")
def ranked():
    """The tiny diffusion pipeline with a tiny critic, so that it can rank candidates."""
    return build_tiny_ranked_pipeline()


@pytest.mark.parametrize(
    "extras",
    [
        {},
        {"relative_bias": True, "grounding_heads": 2, "word_positions": True},
        {"caption_reader": True, "relation_heads": 2},
    ],
)
def test_the_critic_reads_every_word_but_not_the_padding(extras):
    critic = LatentCritic(width=32, layers=2, heads=2, **extras).eval()
    for extra in (critic.offset_bias, critic.grounding and critic.grounding["out"].weight, critic.word_order):
        if extra is not None:  # both start as no-ops; give them weights to be tested
            torch.nn.init.normal_(extra)
    latents, words = torch.randn(2, 16, 8, 8), torch.randn(2, 5, 384)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    logits = critic(latents, words, mask)
    assert logits.shape == (2,)
    changed_padding = words.clone()
    changed_padding[0, 3:] = 100.0
    assert torch.allclose(critic(latents, changed_padding, mask)[0], logits[0], atol=1e-5)
    changed_word = words.clone()
    changed_word[0, 1] += 1.0
    assert not torch.allclose(critic(latents, changed_word, mask)[0], logits[0], atol=1e-4)


def test_without_word_order_the_critic_reads_a_caption_as_a_bag_of_words():
    """Why `word_positions` exists: the words' order reaches the critic only through the encoder's states."""
    torch.manual_seed(4)
    latents, words, mask = torch.randn(1, 16, 8, 8), torch.randn(1, 5, 384), torch.ones(1, 5)
    swapped = words[:, [0, 3, 2, 1, 4]]  # "a circle left of square" -> "a square left of circle", states unchanged
    bag = LatentCritic(width=32, layers=2, heads=2).eval()
    assert torch.allclose(bag(latents, words, mask), bag(latents, swapped, mask), atol=1e-5)
    ordered = LatentCritic(width=32, layers=2, heads=2, word_positions=True).eval()
    torch.nn.init.normal_(ordered.word_order)
    assert not torch.allclose(ordered(latents, words, mask), ordered(latents, swapped, mask), atol=1e-4)


def test_offset_biases_grounding_and_word_order_are_added_to_a_trained_critic(tmp_path):
    from ml_engine.training.critic import continued_critic

    torch.manual_seed(3)
    LatentCritic(width=32, layers=2, heads=2).eval().save_pretrained(str(tmp_path / "plain"))
    plain = LatentCritic.from_pretrained(str(tmp_path / "plain")).eval()
    biased = continued_critic(str(tmp_path / "plain"), relative_bias=True, grounding_heads=2).eval()
    assert biased.config.relative_bias and biased.offset_bias.shape == (2, 15 * 15)
    assert biased.config.grounding_heads == 2
    latents, words, mask = torch.randn(3, 16, 8, 8), torch.randn(3, 4, 384), torch.ones(3, 4)
    assert torch.allclose(biased(latents, words, mask), plain(latents, words, mask), atol=1e-5)
    biased.train()
    biased(latents, words, mask).sum().backward()
    assert biased.offset_bias.grad.abs().sum() > 0  # both are on the path: training moves them
    assert biased.grounding["out"].weight.grad.abs().sum() > 0
    ordered = continued_critic(str(tmp_path / "plain"), word_positions=True).eval()
    assert torch.allclose(ordered.word_order.norm(dim=-1), torch.full((1, 32), 3.0))  # at the words' own scale
    assert torch.equal(ordered.head.weight, plain.head.weight)  # and the rest carried over
    biased.save_pretrained(str(tmp_path / "biased"))
    assert continued_critic(str(tmp_path / "biased"), relative_bias=True).config.grounding_heads == 2
    # each offset has one bias: cells (0, 0) -> (0, 1) and (5, 5) -> (5, 6) share theirs, (0, 0) -> (1, 0) does not
    index = biased.offset_index
    assert index[0, 1] == index[5 * 8 + 5, 5 * 8 + 6] and index[0, 1] != index[0, 8]


def two_blobs_and_their_claim(n: int, generator: torch.Generator):
    """Latents with object A (channel 0) and object B (channel 1) in different columns, and two words: A's identity
    plus a side s, B's plus -s, in random order; the claim holds when A is on side s (s = 1: A left of B)."""
    latents = torch.zeros(n, 16, 8, 8)
    words = torch.zeros(n, 2, 16)
    truth = torch.zeros(n)
    for i in range(n):
        xa, xb = torch.randperm(7, generator=generator)[:2] + 0
        ya, yb = torch.randint(0, 7, (2,), generator=generator)
        latents[i, 0, ya : ya + 2, xa : xa + 2] = 1.0
        latents[i, 1, yb : yb + 2, xb : xb + 2] = 1.0
        side = 1.0 if torch.rand(1, generator=generator) < 0.5 else -1.0
        a, b = (0, 1) if torch.rand(1, generator=generator) < 0.5 else (1, 0)
        words[i, a, 0], words[i, a, 2] = 1.0, side
        words[i, b, 1], words[i, b, 2] = 1.0, -side
        truth[i] = float((xa < xb) == (side > 0))
    return latents, words, truth


def test_the_relation_term_alone_learns_which_object_is_on_which_side():
    """The verdict's summary head held at zero: only side . place can tell A-left-of-B from B-left-of-A."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    critic = LatentCritic(width=32, layers=1, heads=2, word_dim=16, relation_heads=2)
    torch.nn.init.zeros_(critic.head.weight)
    torch.nn.init.zeros_(critic.head.bias)
    critic.head.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in critic.parameters() if p.requires_grad], lr=3e-3)
    mask = torch.ones(64, 2)
    for _ in range(150):
        latents, words, truth = two_blobs_and_their_claim(64, generator)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(critic(latents, words, mask), truth)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    latents, words, truth = two_blobs_and_their_claim(256, generator)
    with torch.no_grad():
        right = ((critic(latents, words, torch.ones(256, 2)) > 0).float() == truth).float().mean()
    assert right > 0.9
    # centred sides: moving both objects together leaves the term unchanged (rolled right by one column)
    inside = latents[:, :, :, 7].abs().sum(dim=(1, 2)) == 0
    with torch.no_grad():
        here = critic(latents[inside], words[inside], torch.ones(int(inside.sum()), 2))
        moved = critic(latents[inside].roll(1, dims=3), words[inside], torch.ones(int(inside.sum()), 2))
    assert (here.sign() == moved.sign()).float().mean() > 0.9


def blobs_and_a_count_claim(n: int, generator: torch.Generator):
    """Latents with k objects of shape A (channel 0) and m of shape B (channel 1), one cell each, 1-4 of each, and
    one word: a shape (A or B) and a number n/4; the claim holds when the picture has exactly n of that shape.
    Also the count term's labels: each picture's counts [n, 2], and what the word asks for."""
    latents = torch.zeros(n, 16, 8, 8)
    words = torch.zeros(n, 1, 16)
    truth, counts, asked = torch.zeros(n), torch.zeros(n, 2), []
    for i in range(n):
        k, m = torch.randint(1, 5, (2,), generator=generator).tolist()
        cells = torch.randperm(64, generator=generator)[: k + m]
        for j, cell in enumerate(cells.tolist()):
            latents[i, 0 if j < k else 1, cell // 8, cell % 8] = 3.0  # about a real latent object's scale
        shape = int(torch.rand(1, generator=generator) < 0.5)
        have = (k, m)[shape]
        said = have if torch.rand(1, generator=generator) < 0.5 else max(1, have + (1 if have < 4 else -1))
        words[i, 0, shape], words[i, 0, 2] = 1.0, said / 4
        truth[i], counts[i] = float(said == have), torch.tensor([k, m], dtype=torch.float)
        asked.append((said, shape))
    labels = {
        "names": torch.nn.functional.one_hot(torch.tensor([shape for _, shape in asked]), 2).float(),
        "asks": torch.ones(n),
        "wanted": torch.tensor([float(said) for said, _ in asked]),
        "shape": torch.tensor([shape for _, shape in asked]),
    }
    return latents, words, truth, counts, labels


def test_the_count_term_learns_how_many_of_a_shape_there_are():
    from ml_engine.models.critic import verdict_of
    from ml_engine.training.critic import count_loss

    """The summary head reads nothing (a learnt constant): the verdict is the count term's, its density taught the
    counts. The term only takes away, (counted - asked)^2, so the constant is where a true claim stands."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    critic = LatentCritic(width=32, layers=1, heads=2, word_dim=16, count_shapes=2)
    torch.nn.init.zeros_(critic.head.weight)
    critic.head.weight.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in critic.parameters() if p.requires_grad], lr=3e-3)
    mask = torch.ones(64, 1)
    for _ in range(300):
        latents, words, truth, counts, labels = blobs_and_a_count_claim(64, generator)
        terms = critic.terms(latents, words, mask)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(verdict_of(terms), truth)
        loss = loss + count_loss(terms, counts, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    latents, words, truth, counts, _ = blobs_and_a_count_claim(256, generator)
    with torch.no_grad():
        terms = critic.terms(latents, words, torch.ones(256, 1))
    assert (terms["found"].round() == counts).all(dim=1).float().mean() > 0.8
    assert (((terms["summary"] + terms["count"]) > 0).float() == truth).float().mean() > 0.9
    assert critic.score(latents, words, torch.ones(256, 1)).shape == (256,)


def test_a_count_term_added_to_a_trained_critic_starts_nearly_silent(tmp_path):
    from ml_engine.models.critic import JudgePanel
    from ml_engine.models.gan import GANDiscriminator
    from ml_engine.training.critic import continued_critic

    torch.manual_seed(4)
    relational = LatentCritic(width=32, layers=1, heads=2, relation_heads=2, judged_by="relation").eval()
    torch.manual_seed(5)
    JudgePanel.of([GANDiscriminator(), relational], raw_scales=(0.0, 2.0)).save_pretrained(str(tmp_path / "panel"))
    counting = continued_critic(str(tmp_path / "panel"), count_shapes=4).eval()  # the panel's one LatentCritic
    assert counting.config.count_shapes == 4 and counting.config.judged_by == "verdict"
    latents, words, mask = torch.randn(3, 16, 8, 8), torch.randn(3, 4, 384), torch.ones(3, 4)
    with torch.no_grad():
        terms = counting.terms(latents, words, mask)
        before = relational.terms(latents, words, mask)
    assert torch.allclose(terms["summary"], before["summary"]) and torch.allclose(terms["relation"], before["relation"])
    assert terms["found"].shape == (3, 4) and terms["count"].abs().max() < 0.15  # and the new term nearly silent
    counting.register_to_config(judged_by="relation+count")
    assert torch.allclose(counting.score(latents, words, mask), terms["relation"] + terms["count"])


def test_a_critic_reads_through_a_frozen_caption_reader_saved_inside_it(tmp_path):
    from ml_engine.models.caption_reader import CaptionReader

    torch.manual_seed(5)
    critic = LatentCritic(width=32, layers=1, heads=2, caption_reader=True, relation_heads=2)
    reader = CaptionReader()
    torch.nn.init.normal_(reader.project.weight, std=0.02)  # a reader that adds something
    critic.reader.load_state_dict(reader.state_dict())
    assert not any(p.requires_grad for p in critic.reader.parameters())
    latents, words, mask = torch.randn(2, 16, 8, 8), torch.randn(2, 4, 384), torch.ones(2, 4)
    critic(latents, words, mask).sum().backward()
    assert critic.relation["side"].weight.grad.abs().sum() > 0 and critic.reader.project.weight.grad is None
    critic.eval().save_pretrained(str(tmp_path / "read"))
    loaded = LatentCritic.from_pretrained(str(tmp_path / "read")).eval()
    assert torch.equal(loaded.reader.project.weight, reader.project.weight)
    assert torch.allclose(loaded(latents, words, mask), critic(latents, words, mask), atol=1e-6)


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


def test_attach_critic_ships_a_trained_critic_with_a_diffusion_model(tiny_pipeline_dir, tmp_path):
    from ml_engine.cli import main

    LatentCritic(width=32, layers=1, heads=2).save_pretrained(str(tmp_path / "critic"))
    out = str(tmp_path / "ranked")
    assert main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", str(tmp_path / "critic"),
                 "--candidates", "3", "--out", out]) == 0  # fmt: skip
    loaded = load_pipeline(out)
    assert loaded.candidates == 3 and isinstance(loaded.critic, LatentCritic)
    assert load_pipeline(tiny_pipeline_dir).candidates == 1  # the source folder is left as it was
    from ml_engine.models.critic import JudgePanel

    two = f"{tmp_path / 'critic'},{tmp_path / 'critic'}"
    assert (
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", two, "--candidates", "2", "--out", out]) == 0
    )
    panel = load_pipeline(out).critic
    assert isinstance(panel, JudgePanel) and len(panel.members) == 2
    with pytest.raises(SystemExit, match="not a critic"):
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", os.path.join(tiny_pipeline_dir, "unet"),
              "--candidates", "2", "--out", str(tmp_path / "bad")])  # fmt: skip


def test_a_panel_of_judges_saves_loads_and_ranks_by_its_standardised_sum(ranked, tmp_path):
    from ml_engine.models.critic import JudgePanel
    from ml_engine.models.gan import GANDiscriminator
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    torch.manual_seed(2)
    panel = JudgePanel.of(
        [GANDiscriminator(widths=(16, 32), spectral_norm=False), LatentCritic(width=32, layers=1, heads=2)]
    )
    panel.eval().save_pretrained(str(tmp_path / "panel"))
    loaded = JudgePanel.from_pretrained(str(tmp_path / "panel")).eval()
    latents, words, mask = torch.randn(6, 16, 8, 8), torch.randn(6, 4, 384), torch.ones(6, 4)
    assert torch.equal(loaded.score(latents, words, mask), panel.score(latents, words, mask))
    assert loaded.score(latents, words, mask).shape == (2, 6)

    pipe = ShapesDiffusionPipeline(
        ranked.autoencoder, ranked.unet, ranked.scheduler, critic=loaded, text_encoder=ranked.text
    )
    prompts, seeds, k = ["two squares", "a cross above a circle"], [3, 8], 3
    states, mask = pipe.text(prompts)
    scores = []
    for j in range(k):
        generators = [torch.Generator().manual_seed(candidate_seed(s, j)) for s in seeds]
        alone = pipe(prompts, generator=generators, num_inference_steps=3, output_type="latent").images
        scores.append(loaded.score(alone, states, mask))  # [judges, images]
    scores = torch.stack(scores, dim=1)  # [judges, candidates, images]
    standard = (scores - scores.mean(1, keepdim=True)) / (scores.std(1, keepdim=True) + 1e-6)
    best = standard.sum(0).argmax(0)
    chosen = pipe(prompts, seed=None, generator=[torch.Generator().manual_seed(s) for s in seeds], candidates=k,
                  num_inference_steps=3, output_type="latent").images  # fmt: skip
    expected = [
        pipe(
            prompts[i],
            generator=[torch.Generator().manual_seed(candidate_seed(seeds[i], int(best[i])))],
            num_inference_steps=3,
            output_type="latent",
        ).images[0]  # fmt: skip
        for i in range(len(prompts))
    ]
    assert (chosen - torch.stack(expected)).abs().max() < 1e-3


def test_a_raw_judge_adds_its_scaled_score_where_a_standardised_one_adds_its_rank():
    from ml_engine.models.critic import ranking_scores

    verdict = torch.tensor([[1.0, 2.0], [3.0, 2.0], [2.0, 2.0]])  # [k = 3 candidates, n = 2 images]
    quiet = torch.tensor([[0.01, 0.0], [0.0, 0.0], [0.02, 0.0]])  # a relation term on captions without a side
    scores = torch.stack([verdict, quiet])
    standardised = ranking_scores(scores)  # the quiet judge's noise counts as much as the verdict
    assert standardised[:, 0].argmax() != verdict[:, 0].argmax()
    raw = ranking_scores(scores, (0.0, 2.0))
    assert raw[:, 0].argmax() == verdict[:, 0].argmax()
    assert torch.allclose(raw[:, 1], quiet[:, 1] * 2)  # image 1: the verdict has no preference (std 0)
    loud = torch.stack([verdict, torch.tensor([[5.0, 0.0], [0.0, 0.0], [0.0, 0.0]])])
    assert ranking_scores(loud, (0.0, 1.0))[:, 0].argmax() == 0  # where it has something to say, it is heard


def test_attach_critic_adds_a_critics_relation_term_alone_as_a_raw_judge(tiny_pipeline_dir, tmp_path):
    from ml_engine.cli import main
    from ml_engine.models.critic import JudgePanel

    torch.manual_seed(6)
    LatentCritic(width=32, layers=1, heads=2).save_pretrained(str(tmp_path / "plain"))
    LatentCritic(width=32, layers=1, heads=2, caption_reader=True, relation_heads=2).save_pretrained(
        str(tmp_path / "relational")
    )
    out = str(tmp_path / "ranked")
    judges = f"{tmp_path / 'plain'},{tmp_path / 'relational'}:relation=2.5"
    assert main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", judges, "--candidates", "2",
                 "--out", out]) == 0  # fmt: skip
    panel = load_pipeline(out).critic
    assert isinstance(panel, JudgePanel) and tuple(panel.config.raw_scales) == (0.0, 2.5)
    relational = panel.members[1]
    assert relational.config.judged_by == "relation"
    latents, words, mask = torch.randn(3, 16, 8, 8), torch.randn(3, 4, 384), torch.ones(3, 4)
    summary, relation = relational.verdict_parts(latents, words, mask)
    assert torch.equal(panel.score(latents, words, mask)[1], relation.float())
    assert torch.allclose(relational(latents, words, mask), summary + relation)  # training still sees both
    with pytest.raises(SystemExit, match="no relation term"):
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", f"{tmp_path / 'plain'},"
              f"{tmp_path / 'plain'}:relation=1", "--candidates", "2", "--out", str(tmp_path / "bad")])  # fmt: skip
    with pytest.raises(SystemExit, match="no count term"):
        judges = f"{tmp_path / 'plain'},{tmp_path / 'relational'}:relation+count=1"
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", judges, "--candidates", "2",
              "--out", str(tmp_path / "b")])  # fmt: skip
    # with a count term too, both terms judge together
    LatentCritic(width=32, layers=1, heads=2, relation_heads=2, count_shapes=4).save_pretrained(
        str(tmp_path / "counting")
    )
    judges = f"{tmp_path / 'plain'},{tmp_path / 'counting'}:relation+count=2"
    assert main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", judges, "--candidates", "2",
                 "--out", out]) == 0  # fmt: skip
    counting = load_pipeline(out).critic.members[1]
    terms = counting.terms(latents, words, mask)
    assert counting.config.judged_by == "relation+count"
    assert torch.allclose(counting.score(latents, words, mask), terms["relation"] + terms["count"])
