"""The latent critic and panels of judges: what the critic reads, the terms it can be given, and how judges
rank together."""

import pytest
import torch

from ml_engine.models.critic import LatentCritic
from ml_engine.pipelines.base import candidate_seed
from ml_engine.pipelines.tiny import build_tiny_ranked_pipeline


@pytest.fixture(scope="module")
def ranked():
    """The tiny diffusion pipeline with a tiny critic, so that it can rank candidates."""
    return build_tiny_ranked_pipeline()


@pytest.mark.parametrize(
    "extras",
    [
        {},
        {"relative_bias": True, "word_positions": True},
        {"caption_reader": True, "relation_heads": 2},
    ],
)
def test_the_critic_reads_every_word_but_not_the_padding(extras):
    critic = LatentCritic(width=32, layers=2, heads=2, **extras).eval()
    for extra in (critic.offset_bias, critic.word_order):
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


def test_offset_biases_and_word_order_are_added_to_a_trained_critic(tmp_path):
    from ml_engine.training.critic import continued_critic

    torch.manual_seed(3)
    LatentCritic(width=32, layers=2, heads=2).eval().save_pretrained(str(tmp_path / "plain"))
    plain = LatentCritic.from_pretrained(str(tmp_path / "plain")).eval()
    biased = continued_critic(str(tmp_path / "plain"), relative_bias=True).eval()
    assert biased.config.relative_bias and biased.offset_bias.shape == (2, 15 * 15)
    latents, words, mask = torch.randn(3, 16, 8, 8), torch.randn(3, 4, 384), torch.ones(3, 4)
    assert torch.allclose(biased(latents, words, mask), plain(latents, words, mask), atol=1e-5)
    biased.train()
    biased(latents, words, mask).sum().backward()
    assert biased.offset_bias.grad.abs().sum() > 0  # it is on the path: training moves it
    ordered = continued_critic(str(tmp_path / "plain"), word_positions=True).eval()
    assert torch.allclose(ordered.word_order.norm(dim=-1), torch.full((1, 32), 3.0))  # at the words' own scale
    assert torch.equal(ordered.head.weight, plain.head.weight)  # and the rest carried over
    biased.save_pretrained(str(tmp_path / "biased"))
    assert continued_critic(str(tmp_path / "biased"), relative_bias=True).offset_bias is not None  # kept as it is
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
