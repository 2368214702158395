"""The GAN ships beside the diffusion model: bootstrap registers it as the challenger, so the arena pits the two
families against each other, and export_judgements hands the human verdict to `python -m ml_engine compare`."""

import json

import pytest
from django.core.management import call_command

from modelops.models import ArenaMatch, ModelVersion
from modelops.services import arena_match_create, arena_match_render, arena_vote_record, model_version_bootstrap


@pytest.fixture
def both_families(db, tiny_model_dir, tmp_path_factory, settings):
    from ml_engine.pipelines.tiny import save_tiny_gan_pipeline

    gan = save_tiny_gan_pipeline(str(tmp_path_factory.mktemp("models") / "tiny-gan"))
    settings.T2I_MODEL_PATHS = {"diffusion": str(tiny_model_dir), "gan": gan}
    model_version_bootstrap()
    return ModelVersion.objects.get(version_name="diffusion"), ModelVersion.objects.get(version_name="gan")


def test_bootstrap_registers_the_gan_as_challenger_beside_the_diffusion_champion(both_families):
    diffusion, gan = both_families
    assert diffusion.is_current and diffusion.aliases == ["champion"]
    assert gan.registry_version is not None and gan.aliases == ["challenger"] and not gan.is_current
    assert gan.sampler_name == "GAN (one pass)" and gan.default_steps == 1
    model_version_bootstrap()  # idempotent: nothing registered twice
    assert ModelVersion.objects.filter(registry_version__isnull=False).count() == 2


def test_arena_votes_between_the_families_reach_the_comparison_export(both_families, alice, tmp_path):
    diffusion, gan = both_families
    match = arena_match_render(match=arena_match_create(user=alice))
    assert match.status == ArenaMatch.Status.READY and match.challenger == gan
    gan_side = "right" if match.champion_on_left else "left"
    arena_vote_record(match=match, user=alice, choice=gan_side)

    out = tmp_path / "judgements.json"
    call_command("export_judgements", out=str(out))
    data = json.loads(out.read_text())
    (pair,) = data["arena"]
    assert (pair["champion"], pair["challenger"], pair["votes"], pair["challenger_wins"]) == ("diffusion", "gan", 1, 1)
    assert data["models"]["gan"]["rating_count"] == 0 and "diffusion" in data["models"]


def test_a_fresh_database_beside_the_registry_keeps_one_row_per_model(both_families):
    from modelops.models import ModelChange

    ModelChange.objects.all().delete()
    ModelVersion.objects.all().delete()  # the registry keeps versions 1 and 2 and their aliases

    model_version_bootstrap()

    rows = {row.version_name: row for row in ModelVersion.objects.all()}
    assert set(rows) == {"diffusion", "gan"}  # not a second "shapes-diffusion-v1" beside "diffusion"
    assert rows["diffusion"].is_current and rows["diffusion"].aliases == ["champion"]
    assert rows["gan"].aliases == ["challenger"] and rows["gan"].source.startswith("registry:")
