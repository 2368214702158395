"""The prompt service judges every parameter against the chosen model version."""

import pytest
from django.core.exceptions import ValidationError

from modelops.tests.factories import ModelVersionFactory
from prompts.services import text_prompt_create


def test_defaults_come_from_the_current_model_version(alice, model_version):
    prompt = text_prompt_create(user=alice, text="  a red circle  ")
    assert prompt.text_content == "a red circle"  # surrounding whitespace is not part of the prompt
    assert (prompt.steps, prompt.guidance, prompt.width, prompt.height) == (5, 4.0, 64, 64)
    assert prompt.model_version == model_version


def test_a_size_the_model_cannot_make_names_only_the_wrong_dimension(alice, model_version):
    with pytest.raises(ValidationError) as error:
        text_prompt_create(user=alice, text="x", width=64, height=128)
    assert set(error.value.message_dict) == {"height"}
    assert "64x64" in error.value.message_dict["height"][0]


def test_sizes_are_checked_against_the_named_model_not_the_current_one(alice, model_version):
    ModelVersionFactory(version_name="wide", supported_sizes=[[128, 64]], is_current=False)
    assert text_prompt_create(user=alice, text="x", model="wide").width == 128
    with pytest.raises(ValidationError):
        text_prompt_create(user=alice, text="x", model="wide", width=64, height=64)


def test_no_model_at_all_is_a_clear_error(alice, db):
    with pytest.raises(ValidationError) as error:
        text_prompt_create(user=alice, text="x")
    assert "model" in error.value.message_dict


def test_every_bad_field_is_reported_at_once(alice, model_version):
    with pytest.raises(ValidationError) as error:
        text_prompt_create(user=alice, text="", steps=0, guidance=99, num_images=9, seed=-1)
    assert set(error.value.message_dict) == {"prompt", "steps", "guidance", "num_images", "seed"}


def test_a_prompt_gets_the_models_own_sampler_unless_it_names_another_it_offers(alice, model_version):
    assert text_prompt_create(user=alice, text="x").sampler == "DPM++ 2M"
    assert text_prompt_create(user=alice, text="x", sampler="Euler a").sampler == "Euler a"
    with pytest.raises(ValidationError) as error:
        text_prompt_create(user=alice, text="x", sampler="Heun")
    assert "DPM++ 2M, UniPC" in error.value.message_dict["sampler"][0]


def test_a_one_pass_model_has_no_sampler_to_name(alice, model_version):
    ModelVersionFactory(version_name="gan", samplers=[], is_current=False)
    assert text_prompt_create(user=alice, text="x", model="gan").sampler == ""
    with pytest.raises(ValidationError) as error:
        text_prompt_create(user=alice, text="x", model="gan", sampler="Euler a")
    assert "one pass" in error.value.message_dict["sampler"][0]
