"""The GAN: same interface as the diffusion pipeline, reproducible, word attention maps, and a tiny training run."""

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from ml_engine.cli import pipeline_cmd
from ml_engine.models.gan import GANDiscriminator, GANGenerator, sentence_embedding
from ml_engine.pipelines import load_pipeline
from ml_engine.pipelines.base import GenerationCancelled
from ml_engine.pipelines.tiny import build_tiny_gan_pipeline, save_tiny_gan_pipeline


@pytest.fixture(scope="module")
def gan():
    return build_tiny_gan_pipeline()


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_same_seed_gives_the_same_pixels_and_each_image_reproduces_alone(gan):
    batch = gan(["a red circle", "two squares"], seed=5, num_images_per_prompt=2)
    assert batch.seeds == [5, 6, 7, 8] and len(batch.images) == 4
    again = gan("two squares", seed=7)
    assert np.array_equal(pixels(again.images[0]), pixels(gan("two squares", seed=7).images[0]))
    # alone vs inside a batch: CPU kernels may round differently per batch size (as for the diffusion model)
    assert np.abs(pixels(batch.images[2]) - pixels(again.images[0])).max() <= 2
    other = gan("two squares", seed=8)
    assert np.abs(pixels(again.images[0]) - pixels(other.images[0])).max() > 10


def test_bfloat16_decoding_draws_the_same_picture_and_is_saved_with_the_model(gan, tmp_path):
    exact = pixels(gan("a red circle", seed=3).images[0])
    gan.register_to_config(bf16_decode=True)
    try:
        gan.precision = "bfloat16"  # where it was timed faster
        fast = pixels(gan("a red circle", seed=3).images[0])
        gan.precision = "float32"  # where it was not
        assert np.array_equal(pixels(gan("a red circle", seed=3).images[0]), exact)
        gan.save_pretrained(tmp_path / "gan")
    finally:
        gan.register_to_config(bf16_decode=False)
    assert not np.array_equal(exact, fast) and np.abs(exact - fast).max() <= 4
    assert load_pipeline(tmp_path / "gan").bf16_decode


def test_the_step_callback_fires_once_with_a_preview_and_can_cancel(gan):
    seen = []
    gan("a circle", seed=0, num_inference_steps=20, callback_on_step_end=seen.append)
    assert [(s.step, s.total) for s in seen] == [(1, 1)]
    assert seen[0].preview().size == (64, 64)

    def cancel(info):
        raise GenerationCancelled

    with pytest.raises(GenerationCancelled):
        gan("a circle", seed=0, callback_on_step_end=cancel)


def test_word_attention_maps_name_each_word_and_are_normalised(gan):
    result = gan(["a red cross above two blue circles"], seed=1, return_attention=True)
    (maps,) = result.attention
    assert maps.words == ["a", "red", "cross", "above", "two", "blue", "circles"]
    assert maps.maps.shape == (7, 64, 64) and maps.maps.dtype == np.float32
    assert maps.maps.min() >= 0 and np.allclose(maps.maps.reshape(7, -1).max(axis=1), 1.0)
    assert gan("a circle", seed=1).attention is None


def test_bad_arguments_raise_clear_errors(gan):
    with pytest.raises(ValueError, match="64x64"):
        gan("a circle", height=128, width=128)
    with pytest.raises(ValueError, match="negative prompt"):
        gan("a circle", negative_prompt="blue")
    with pytest.raises(ValueError, match="prompt must not be empty"):
        gan([])


def test_a_saved_gan_loads_by_folder_and_gives_the_same_image(gan, tmp_path):
    folder = save_tiny_gan_pipeline(str(tmp_path / "gan"))
    loaded = load_pipeline(folder)
    assert type(loaded).__name__ == "ShapesGANPipeline"
    assert np.array_equal(pixels(loaded("a circle", seed=3).images[0]), pixels(gan("a circle", seed=3).images[0]))


@pytest.fixture(scope="module")
def ranked():
    """The tiny GAN with a tiny discriminator, so that it can rank candidates."""
    from ml_engine.pipelines.gan import ShapesGANPipeline

    plain = build_tiny_gan_pipeline()
    torch.manual_seed(1)
    disc = GANDiscriminator(widths=(16, 32), spectral_norm=False).eval()
    return ShapesGANPipeline(plain.generator, plain.autoencoder, discriminator=disc, text_encoder=plain.text)


def test_each_image_is_its_best_candidate_as_the_discriminator_ranks_them(ranked):
    from ml_engine.pipelines.base import candidate_seed

    prompts, seeds, k = ["a red circle", "two squares", "a cross above a circle"], [4, 9, 2], 3
    chosen = ranked(
        prompts, generator=[torch.Generator().manual_seed(s) for s in seeds], candidates=k, output_type="pt"
    )
    states, mask = ranked.text(prompts)
    scores, images = [], []
    for j in range(k):  # every candidate on its own: a one-candidate call with the candidate's seed draws it
        candidate_seeds = [candidate_seed(s, j) for s in seeds]
        latents = ranked.generator(ranked.noise(candidate_seeds), states, mask)
        scores.append(ranked.discriminator(latents, sentence_embedding(states, mask), states, mask))
        generators = [torch.Generator().manual_seed(s) for s in candidate_seeds]
        images.append(ranked(prompts, generator=generators, output_type="pt").images)
    best = torch.stack(scores).argmax(dim=0)
    winners = torch.stack([images[int(j)][i] for i, j in enumerate(best)])
    assert best.tolist() != [0, 0, 0]  # some image is not its own seed's first draw
    # one batch of all candidates against a batch per candidate: CPU kernels may round differently per batch size
    assert (chosen.images - winners).abs().max() < 1e-4
    assert chosen.seeds == seeds  # an image keeps its own seed: the same call again draws the same picture
    assert candidate_seed(4, 0) == 4 and len({candidate_seed(4, j) for j in range(8)}) == 8


def test_one_candidate_is_the_plain_image_and_ranking_needs_a_discriminator(ranked, gan):
    from ml_engine.pipelines.gan import ShapesGANPipeline

    one = ranked("two squares", seed=3, candidates=1, output_type="pt").images
    assert torch.equal(one, gan("two squares", seed=3, output_type="pt").images)
    with pytest.raises(ValueError, match="candidates must be 1"):
        gan("two squares", seed=3, candidates=2)
    with pytest.raises(ValueError, match="candidates must be 1"):
        ranked("two squares", seed=3, candidates=0)
    with pytest.raises(ValueError, match="needs the discriminator"):
        ShapesGANPipeline(gan.generator, gan.autoencoder, text_encoder=gan.text, candidates=4)


def test_the_discriminator_and_the_number_of_candidates_are_saved_with_the_model(ranked, tmp_path):
    ranked.register_to_config(candidates=3)
    ranked.save_pretrained(str(tmp_path / "ranked"), safe_serialization=True)
    ranked.register_to_config(candidates=1)
    loaded = load_pipeline(str(tmp_path / "ranked"))
    assert loaded.candidates == 3 and isinstance(loaded.discriminator, GANDiscriminator)
    assert loaded.sampler_name == "GAN (best of 3, ranked by its discriminator)"
    expected = ranked("a circle", seed=5, candidates=3, output_type="pt").images
    assert torch.equal(loaded("a circle", seed=5, output_type="pt").images, expected)


def test_word_attention_only_spreads_over_real_tokens():
    generator = GANGenerator(noise_dim=8, widths=(16, 16, 16), cond_dim=8)
    words, mask = torch.randn(2, 6, 384), torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    latents, maps = generator(torch.randn(2, 8), words, mask, return_attention=True)
    assert latents.shape == (2, 16, 8, 8)
    for weights in maps:
        assert torch.allclose(weights.sum(-1), torch.ones(2, 64))
        assert weights[0, :, 3:].abs().max() == 0  # padding gets no attention


def test_sentence_embedding_ignores_padding_and_is_unit_length():
    states = torch.randn(1, 4, 384)
    padded = sentence_embedding(states, torch.tensor([[1, 1, 0, 0]]))
    assert torch.allclose(padded, sentence_embedding(states[:, :2], torch.ones(1, 2)))
    assert torch.allclose(padded.norm(dim=-1), torch.ones(1))


def test_the_discriminator_scores_each_pair():
    disc = GANDiscriminator(widths=(16, 32))
    assert disc(torch.randn(3, 16, 8, 8), torch.randn(3, 384)).shape == (3,)


def test_tiny_gan_training_checkpoints_resumes_and_saves_a_loadable_pipeline(tmp_path, monkeypatch):
    from ml_engine.pipelines.tiny import save_tiny_pipeline
    from ml_engine.training.gan import train_gan

    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr("ml_engine.training.data.CACHE_ROOT", str(tmp_path / "cache"))
    autoencoder = save_tiny_pipeline(str(tmp_path / "tiny-dm"))  # a pipeline folder: its autoencoder is used
    config = dataclasses.replace(
        pipeline_cmd.tiny_gan_config(str(tmp_path), autoencoder),
        name="gan-test",
        hard_negative_prob=0.5,
        near_miss_margin=1.0,
        max_steps=6,
        checkpoint_every=3,
        log_every=2,
        mlflow=False,
        output_dir=str(tmp_path / "gan"),
    )
    train_gan(dataclasses.replace(config, max_steps=3))
    output = train_gan(config)  # resumes from the step-3 checkpoint
    with open(os.path.join(output, "training.json")) as f:
        summary = json.load(f)
    assert summary["step"] == 6 and summary["images_seen"] == 6 * config.batch_size
    assert summary["curve"][-1]["step"] == 6 and "overall" in summary["curve"][-1]
    assert all(np.isfinite(d) and np.isfinite(g) for _, d, g in summary["loss_curve"])
    assert load_pipeline(output)("two circles", seed=0).images[0].size == (64, 64)

    # a fresh machine restarts the game from the committed weights, generator and discriminator both;
    # with no steps to take, what it saves is exactly what it started from
    restarted = dataclasses.replace(config, name="gan-test-2", init_from=output, max_steps=0, output_dir="")
    again = train_gan(restarted)
    for part, load in (("generator", GANGenerator), ("discriminator", GANDiscriminator)):
        shipped = load.from_pretrained(output, subfolder=part).state_dict()
        resumed = load.from_pretrained(again, subfolder=part).state_dict()
        assert shipped.keys() == resumed.keys() and all(torch.equal(shipped[k], resumed[k]) for k in shipped)
