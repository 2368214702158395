"""The inference interface: determinism, seeds, callbacks, clear errors, save/load (Stable Diffusion folders:
test_diffusers_adapter.py)."""

import numpy as np
import pytest
import torch

from ml_engine.pipelines import GenerationCancelled, load_pipeline
from ml_engine.pipelines.loader import resolve_model


def pixels(image):
    return np.asarray(image)


def test_same_seed_and_parameters_give_the_same_pixels(tiny_pipeline):
    a = tiny_pipeline("a red circle", seed=7, num_inference_steps=4)
    b = tiny_pipeline("a red circle", seed=7, num_inference_steps=4)
    c = tiny_pipeline("a red circle", seed=8, num_inference_steps=4)
    assert np.array_equal(pixels(a.images[0]), pixels(b.images[0]))
    assert not np.array_equal(pixels(a.images[0]), pixels(c.images[0]))


def test_each_image_of_a_batch_reproduces_alone_from_its_seed(tiny_pipeline):
    batch = tiny_pipeline("a blue square", seed=3, num_images_per_prompt=3, num_inference_steps=4)
    assert batch.seeds == [3, 4, 5]
    alone = tiny_pipeline("a blue square", seed=5, num_inference_steps=4)
    # the same noise, so the same picture; CPU kernels may round differently for another batch size
    difference = np.abs(pixels(batch.images[2]).astype(int) - pixels(alone.images[0]).astype(int))
    assert difference.max() <= 2


def test_callback_sees_every_step_with_a_preview(tiny_pipeline):
    seen = []
    tiny_pipeline("a cross", seed=0, num_inference_steps=5, callback_on_step_end=lambda info: seen.append(info))
    assert [i.step for i in seen] == [1, 2, 3, 4, 5] and {i.total for i in seen} == {5}
    preview = seen[-1].preview()
    assert preview.size == (64, 64) and preview.mode == "RGB"


def test_a_callback_can_cancel_the_generation(tiny_pipeline):
    def stop_at_two(info):
        if info.step == 2:
            raise GenerationCancelled

    with pytest.raises(GenerationCancelled):
        tiny_pipeline("a cross", seed=0, num_inference_steps=5, callback_on_step_end=stop_at_two)


def test_negative_prompt_changes_the_result(tiny_pipeline):
    plain = tiny_pipeline("a red circle", seed=1, num_inference_steps=3)
    negative = tiny_pipeline("a red circle", negative_prompt="a blue square", seed=1, num_inference_steps=3)
    assert not np.array_equal(pixels(plain.images[0]), pixels(negative.images[0]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"height": 128, "width": 128}, "64x64"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"guidance_scale": -1}, "guidance_scale"),
        ({"num_images_per_prompt": 0}, "num_images_per_prompt"),
    ],
)
def test_bad_arguments_raise_clear_errors(tiny_pipeline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_pipeline("a circle", **kwargs)


def test_save_and_load_round_trip_keeps_the_weights_and_the_output(tiny_pipeline, tiny_pipeline_dir, tmp_path):
    tiny_pipeline.save_pretrained(tmp_path / "copy")
    copy = load_pipeline(tmp_path / "copy")
    for name, tensor in tiny_pipeline.unet.state_dict().items():
        assert torch.equal(tensor, copy.unet.state_dict()[name])
    assert (tmp_path / "copy" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    a = tiny_pipeline("a green triangle", seed=2, num_inference_steps=3).images[0]
    b = copy("a green triangle", seed=2, num_inference_steps=3).images[0]
    assert np.array_equal(pixels(a), pixels(b))


def test_diffusers_from_pretrained_loads_the_folder_as_it_is(tiny_pipeline_dir):
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    pipe = ShapesDiffusionPipeline.from_pretrained(tiny_pipeline_dir)
    assert pipe.autoencoder.config.latent_channels == 16 and pipe.unet.config.cross_attention_dim == 384


def test_pickle_weights_are_refused(tiny_pipeline_dir, tmp_path):
    import shutil

    folder = tmp_path / "with_pickle"
    shutil.copytree(tiny_pipeline_dir, folder)
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(ValueError, match="pickle"):
        load_pipeline(folder)


def test_a_folder_with_a_component_the_pipeline_does_not_take_is_refused_and_old_settings_are_not(
    tiny_pipeline_dir, tmp_path
):
    """diffusers would drop the component and draw without it; a setting saved as 0 or null changes nothing."""
    import json
    import shutil

    folder = tmp_path / "extra"
    shutil.copytree(tiny_pipeline_dir, folder)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "unguided_steps": 0, "reader": [None, None]}))
    assert load_pipeline(folder).default_steps == index["default_steps"]
    extra = {**index, "reader": ["ml_engine.models.caption_reader", "CaptionReader"]}
    (folder / "model_index.json").write_text(json.dumps(extra))
    with pytest.raises(ValueError, match="has no component reader"):
        load_pipeline(folder)


def test_a_unet_that_takes_more_than_its_latents_and_timestep_is_refused(tiny_pipeline):
    from diffusers import UNet2DConditionModel

    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    config = {k: v for k, v in tiny_pipeline.unet.config.items() if not k.startswith("_")}
    for extra in ({"in_channels": config["in_channels"] + 2}, {"time_cond_proj_dim": 64}):
        unet = UNet2DConditionModel.from_config({**config, **extra})
        with pytest.raises(ValueError, match="the UNet must take"):
            ShapesDiffusionPipeline(
                tiny_pipeline.autoencoder, unet, tiny_pipeline.scheduler, text_encoder=tiny_pipeline.text
            )


def test_unknown_model_names_say_what_exists():
    with pytest.raises(FileNotFoundError, match="no model 'nope'"):
        resolve_model("nope")


def test_a_model_ships_its_default_steps_and_guidance(tmp_path, tiny_pipeline):
    from ml_engine.pipelines.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    pipe.register_to_config(default_steps=3, default_guidance=2.5)
    pipe.save_pretrained(tmp_path / "m", safe_serialization=True)
    loaded = load_pipeline(str(tmp_path / "m"))
    assert (loaded.default_steps, loaded.default_guidance) == (3, 2.5)
    assert (tiny_pipeline.default_steps, tiny_pipeline.default_guidance) == (20, 4.0)  # the constructor defaults
    seen = []
    plain = loaded("a red circle", seed=1, callback_on_step_end=lambda info: seen.append(info.step))
    explicit = loaded("a red circle", seed=1, num_inference_steps=3, guidance_scale=2.5)
    assert seen == [1, 2, 3] and np.array_equal(pixels(plain.images[0]), pixels(explicit.images[0]))
