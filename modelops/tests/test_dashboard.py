"""The staff model page: one row per model, under its plain name, with its evaluation figures and its sampler in
words, also when a fresh database meets a registry that already holds the models."""

import re

import pytest

from modelops.models import ModelChange, ModelVersion
from modelops.runtime import registry_client
from modelops.services import model_version_bootstrap
from modelops.templatetags.model_words import sampler_in_words


@pytest.fixture
def both_families(db, tiny_model_dir, tmp_path_factory, settings):
    from ml_engine.pipelines.tiny import save_tiny_gan_pipeline

    gan = save_tiny_gan_pipeline(str(tmp_path_factory.mktemp("models") / "tiny-gan"))
    settings.T2I_MODEL_PATHS = {"diffusion": str(tiny_model_dir), "gan": gan}
    model_version_bootstrap()
    registry = registry_client()
    for name, overall in (("diffusion", 0.923), ("gan", 0.853)):  # as an evaluation tags them
        registry.version_tag(ModelVersion.objects.get(version_name=name).registry_version, {"eval.overall": overall})


def _rows(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr id="version-\d+" data-version="([^"]+)".*?>(.*?)</tr>', page, re.S))


def test_a_fresh_database_beside_the_registry_shows_each_model_once_with_its_figures(both_families, client_as, staff):
    ModelChange.objects.all().delete()
    ModelVersion.objects.all().delete()  # a new studio database; the registry keeps both versions and their tags

    model_version_bootstrap()

    rows = _rows(client_as(staff).get("/modelops/").content.decode())
    assert sorted(rows) == ["diffusion", "gan"]  # not a "shapes-diffusion-v1" copy beside "diffusion"
    assert "0.923" in rows["diffusion"] and "0.853" in rows["gan"]
    assert "one pass of the generator" in rows["gan"]


@pytest.mark.parametrize(
    ("label", "words"),
    [
        (
            "UniPC, best of 10 ranked by a critic, pruned 1@4 (keep@step)",
            "UniPC · best of 10 candidates, ranked by a critic, the best kept from step 4",
        ),
        (
            "UniPC, best of 16 ranked by a critic, pruned 2@1,1@4 (keep@step), in bf16 until then",
            "UniPC · best of 16 candidates, ranked by a critic, the best 2 kept from step 1, the best kept from step 4"
            " · in bfloat16 until then",
        ),
        (
            "GAN (best of 3, ranked by its discriminator)",
            "one pass of the generator · best of 3, ranked by its discriminator",
        ),
        ("GAN (one pass)", "one pass of the generator"),
        ("DPM++ 2M", "DPM++ 2M"),
    ],
)
def test_samplers_are_named_in_plain_words(label, words):
    assert sampler_in_words(ModelVersion(sampler_name=label)) == words


def test_a_signed_in_user_who_is_not_staff_is_told_why_the_model_pages_are_closed(client_as, alice):
    response = client_as(alice).get("/modelops/")
    assert response.status_code == 403
    assert "for the studio&#x27;s staff" in response.content.decode()
