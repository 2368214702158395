"""A Stable Diffusion folder behind the studio's pipeline interface (pipelines/diffusers_adapter.py): sizes,
samplers, seeds, studio.json defaults, attention maps, clear errors. The folder is a tiny random one
(pipelines/tiny.py); every call takes a fraction of a second on a CPU."""

import json
import shutil

import numpy as np
import pytest
import torch

from ml_engine.attention import supports_attention
from ml_engine.pipelines import load_pipeline
from ml_engine.pipelines.diffusers_adapter import (
    DiffusersTextToImage,
    aspect_sizes,
    read_studio_defaults,
    write_studio_defaults,
)

SAMPLERS = ("DPM++ 2M", "UniPC", "Euler a", "Euler", "DDIM")


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def tiny_sd(tiny_sd_dir):
    return load_pipeline(tiny_sd_dir)


@pytest.fixture
def sd_copy(tiny_sd_dir, tmp_path):
    folder = tmp_path / "my-sd"
    shutil.copytree(tiny_sd_dir, folder)
    return folder


def test_a_stable_diffusion_folder_loads_as_a_64px_model_with_every_sampler(tiny_sd):
    assert isinstance(tiny_sd, DiffusersTextToImage)
    assert tiny_sd.supported_sizes == ((64, 64),)  # 8 latent cells x 8: no other ratio fits at 64 px
    # SD 1.5's PNDM has no A1111 name: DPM++ 2M is the default
    assert tiny_sd.samplers == SAMPLERS and tiny_sd.sampler_name == "DPM++ 2M"
    assert (tiny_sd.default_steps, tiny_sd.default_guidance) == (20, 7.5)
    assert next(tiny_sd.pipe.unet.parameters()).dtype == torch.float32  # a CPU keeps float32
    assert supports_attention(tiny_sd)


def test_the_workers_call_draws_images_step_by_step(tiny_sd):
    """The call generation/execution.py makes, with a sampler named and attention asked for."""
    steps = []
    out = tiny_sd(
        ["a red circle", "a blue cat"],
        negative_prompt=None,
        num_inference_steps=3,
        guidance_scale=5.0,
        generator=[torch.Generator("cpu").manual_seed(seed) for seed in (4, 5)],
        callback_on_step_end=steps.append,
        height=64,
        width=64,
        return_attention=True,
        sampler="Euler a",
    )
    assert [s.step for s in steps] == [1, 2, 3] and {s.total for s in steps} == {3}
    assert steps[0].preview(1).size == (8, 8)  # the latents seen through the linear RGB approximation
    assert out.seeds == [4, 5] and out.prompts == ["a red circle", "a blue cat"]
    assert [image.size for image in out.images] == [(64, 64), (64, 64)]
    assert [maps.words for maps in out.attention] == [["a", "red", "circle"], ["a", "blue", "cat"]]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_runs_and_the_same_seed_gives_the_same_pixels(tiny_sd, sampler):
    first = tiny_sd("a red circle", seed=11, num_inference_steps=4, sampler=sampler)
    again = tiny_sd("a red circle", seed=11, num_inference_steps=4, sampler=sampler)
    other_seed = tiny_sd("a red circle", seed=12, num_inference_steps=4, sampler=sampler)
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0]))
    assert not np.array_equal(pixels(first.images[0]), pixels(other_seed.images[0]))


def test_samplers_are_different_solvers_and_none_means_the_default(tiny_sd):
    drawn = {s: pixels(tiny_sd("a red circle", seed=3, num_inference_steps=3, sampler=s).images[0]) for s in SAMPLERS}
    default = pixels(tiny_sd("a red circle", seed=3, num_inference_steps=3).images[0])
    assert np.array_equal(default, drawn["DPM++ 2M"])
    assert not np.array_equal(drawn["Euler a"], drawn["Euler"])  # the ancestral sampler adds fresh noise
    assert type(tiny_sd.scheduler_for("UniPC")).__name__ == "UniPCMultistepScheduler"
    assert tiny_sd.scheduler_for("UniPC") is tiny_sd.scheduler_for("UniPC")  # built once


def test_an_unknown_sampler_or_size_is_refused_naming_what_is_allowed(tiny_sd):
    with pytest.raises(ValueError, match="unknown sampler 'LMS': this model offers DPM\\+\\+ 2M, UniPC, Euler a"):
        tiny_sd("a red circle", seed=0, num_inference_steps=2, sampler="LMS")
    with pytest.raises(ValueError, match=r"makes 64x64 \(width x height\) images; got width=128, height=64"):
        tiny_sd("a red circle", seed=0, num_inference_steps=2, height=64, width=128)


def test_attention_maps_have_one_map_per_word_and_leave_the_pixels_alone(tiny_sd):
    processors = dict(tiny_sd.pipe.unet.attn_processors)
    for guidance in (7.5, 0.0):  # with classifier-free guidance (the prompts' half recorded) and without
        kwargs = {"seed": 2, "num_inference_steps": 3, "guidance_scale": guidance, "num_images_per_prompt": 2}
        plain = tiny_sd("the red cat on a mat", **kwargs)
        mapped = tiny_sd("the red cat on a mat", return_attention=True, **kwargs)
        assert plain.attention is None and len(mapped.attention) == 2
        for a, b in zip(plain.images, mapped.images, strict=True):
            assert np.array_equal(pixels(a), pixels(b))
        maps = mapped.attention[0]
        assert maps.words == ["the", "red", "cat", "on", "a", "mat"] and maps.maps.shape == (6, 64, 64)
        assert np.allclose(maps.maps.max(axis=(1, 2)), 1.0) and maps.maps.min() >= 0
        assert not np.allclose(maps.maps[1], maps.maps[2])  # each word has its own map
    # the recording processors are gone after the call
    assert {k: type(v) for k, v in tiny_sd.pipe.unet.attn_processors.items()} == {
        k: type(v) for k, v in processors.items()
    }


def test_studio_json_sets_the_defaults_a_request_gets(sd_copy):
    write_studio_defaults(sd_copy, default_steps=2, default_guidance=0.0)
    assert json.loads((sd_copy / "studio.json").read_text()) == {"default_steps": 2, "default_guidance": 0.0}
    write_studio_defaults(sd_copy, default_guidance=1.5)  # the steps stay
    assert read_studio_defaults(sd_copy) == {"default_steps": 2, "default_guidance": 1.5}
    pipe = load_pipeline(sd_copy)
    assert (pipe.default_steps, pipe.default_guidance) == (2, 1.5)
    steps = []
    pipe("a red circle", seed=0, callback_on_step_end=steps.append)
    assert [s.step for s in steps] == [1, 2]
    with pytest.raises(ValueError, match="num_inference_steps must be between 1 and 1000"):
        write_studio_defaults(sd_copy, default_steps=0)
    (sd_copy / "studio.json").write_text('{"default_steps": 2, "sampler": "Euler"}')
    with pytest.raises(ValueError, match="unknown keys sampler"):
        load_pipeline(sd_copy)


def test_a_folder_whose_scheduler_has_an_a1111_name_offers_it_first(sd_copy):
    """SD-Turbo ships Euler with trailing spacing: that scheduler, with its own options, is the default."""
    config = json.loads((sd_copy / "scheduler" / "scheduler_config.json").read_text())
    config.update({"_class_name": "EulerDiscreteScheduler", "timestep_spacing": "linspace"})
    (sd_copy / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    index = json.loads((sd_copy / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "EulerDiscreteScheduler"]  # diffusers picks the class named here
    (sd_copy / "model_index.json").write_text(json.dumps(index))
    pipe = load_pipeline(sd_copy)
    assert pipe.samplers == ("Euler", "UniPC", "DPM++ 2M", "Euler a", "DDIM")
    assert pipe.scheduler_for(None).config.timestep_spacing == "linspace"  # the folder's, not a rebuilt one
    assert pipe.scheduler_for("DDIM").config.timestep_spacing == "trailing"


def test_a_folder_that_is_not_text_to_image_is_refused(sd_copy):
    index = json.loads((sd_copy / "model_index.json").read_text())
    (sd_copy / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionImg2ImgPipeline"}))
    with pytest.raises(ValueError, match="StableDiffusionImg2ImgPipeline is not a text-to-image pipeline the studio"):
        load_pipeline(sd_copy)


def test_sizes_keep_the_pixel_count_at_the_usual_aspect_ratios():
    # SDXL's usual sizes at 1024 (height, width): 1:1, 4:3, 3:4, 3:2, 2:3, 16:9, 9:16
    assert aspect_sizes(1024, 64) == (
        (1024, 1024),
        (896, 1152),
        (1152, 896),
        (832, 1280),
        (1280, 832),
        (768, 1344),
        (1344, 768),
    )
    for height, width in aspect_sizes(512, 64):
        assert height % 64 == 0 and width % 64 == 0 and 0.9 <= height * width / 512**2 <= 1.1
    assert aspect_sizes(512, 64)[1] == (448, 576)  # 4:3 is wider than tall
    assert aspect_sizes(64, 64) == ((64, 64),)


def test_the_builder_is_seeded(tmp_path, tiny_sd_dir):
    from ml_engine.pipelines.tiny import save_tiny_stable_diffusion
    from ml_engine.provenance import folder_sha256

    assert folder_sha256(save_tiny_stable_diffusion(tmp_path / "again")) == folder_sha256(tiny_sd_dir)
    assert folder_sha256(save_tiny_stable_diffusion(tmp_path / "other", seed=1)) != folder_sha256(tiny_sd_dir)
    assert not [p for p in tiny_sd_dir.rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".ckpt", ".pkl"}]


def test_an_explicit_dtype_is_kept(tiny_sd_dir):
    pipe = DiffusersTextToImage.from_folder(tiny_sd_dir, dtype=torch.bfloat16)
    assert next(pipe.pipe.unet.parameters()).dtype == torch.bfloat16
