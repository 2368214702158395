"""Promotion through the evaluation gate, forced promotions with a reason, rollback, the audit trail, sync."""

import pytest

from modelops.models import ModelChange, ModelVersion
from modelops.runtime import registry_client


def _champion_in_registry() -> int:
    return registry_client().alias_version("champion").version


def test_fresh_install_registers_the_bundled_model_as_version_1_champion(champion):
    assert (champion.registry_version, champion.aliases, champion.is_current) == (1, ["champion"], True)
    assert champion.source == "registry:shapes-diffusion/1"  # workers fetch it from the registry, hash-checked
    assert champion.version_name == "diffusion"  # its images keep their name
    assert ModelChange.objects.get().action == ModelChange.Action.BOOTSTRAP


def test_sync_mirrors_aliases_scores_and_the_run(champion, challenger_factory):
    challenger = challenger_factory(counting=0.55)

    assert challenger.version_name == "shapes-diffusion-v2" and challenger.aliases == ["challenger"]
    assert challenger.alignment["counting"] == 0.55 and challenger.accuracy == 0.6
    assert challenger.run_id and len(challenger.artifact_sha256) == 64
    assert challenger.supported_sizes == [[64, 64]] and not challenger.is_current
    registered_ms = registry_client().version(2).created_ms
    assert abs(challenger.created_at.timestamp() * 1000 - registered_ms) < 1  # the registry's time


def test_staff_promotion_within_the_margin_moves_the_alias_and_records_the_gate(
    champion, challenger_factory, api_as, staff
):
    challenger = challenger_factory(counting=0.49)  # 0.01 worse: inside the 0.02 margin

    response = api_as(staff).post(f"/api/models/{challenger.pk}/promote/", {"reason": "better colours"}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["gate"]["passed"] is True and response.data["forced"] is False
    assert _champion_in_registry() == 2
    challenger.refresh_from_db()
    champion.refresh_from_db()
    assert challenger.is_current and challenger.aliases == ["champion"]  # no longer anyone's challenger
    assert not champion.is_current and champion.aliases == []
    change = ModelChange.objects.filter(action=ModelChange.Action.PROMOTE).get()
    assert (change.actor, change.from_version, change.to_version, change.reason) == (
        staff,
        champion,
        challenger,
        "better colours",
    )


def test_gate_refuses_a_category_worse_than_the_margin_with_409_naming_it(champion, challenger_factory, api_as, staff):
    challenger = challenger_factory(position=0.3, single_object=0.95)  # position 0.1 worse

    response = api_as(staff).post(f"/api/models/{challenger.pk}/promote/", {"reason": "try"}, format="json")

    assert response.status_code == 409
    assert list(response.data["failing"]) == ["position"]
    assert response.data["failing"]["position"]["drop"] == pytest.approx(0.1)
    assert _champion_in_registry() == 1 and ModelVersion.objects.get(is_current=True) == champion
    assert ModelChange.objects.filter(action=ModelChange.Action.REFUSED, to_version=challenger).exists()


def test_forced_promotion_needs_a_written_reason_and_records_it(champion, challenger_factory, api_as, staff):
    challenger = challenger_factory(position=0.1)
    url = f"/api/models/{challenger.pk}/promote/"

    assert api_as(staff).post(url, {"force": True, "reason": "  "}, format="json").status_code == 400
    response = api_as(staff).post(url, {"force": True, "reason": "users prefer it in the arena"}, format="json")

    assert response.status_code == 200 and response.data["forced"] is True
    assert response.data["gate"]["passed"] is False and "position" in response.data["gate"]["failing"]
    change = ModelChange.objects.get(action=ModelChange.Action.PROMOTE)
    assert change.forced and change.reason == "users prefer it in the arena"
    assert _champion_in_registry() == 2


def test_an_unevaluated_version_fails_the_gate(champion, tiny_model_dir, tmp_path, api_as, staff):
    from modelops.tests.fixtures import register_copy

    unevaluated = register_copy(tiny_model_dir, tmp_path, name="raw", scores={})

    response = api_as(staff).post(f"/api/models/{unevaluated.pk}/promote/", {}, format="json")
    assert response.status_code == 409 and "evaluation" in response.data["failing"]


def test_rollback_restores_the_previous_champion_and_a_second_one_goes_further_back(
    champion, challenger_factory, api_as, staff
):
    second = challenger_factory(name="second")
    api_as(staff).post(f"/api/models/{second.pk}/promote/", {"reason": "v2"}, format="json")
    third = challenger_factory(name="third")
    api_as(staff).post(f"/api/models/{third.pk}/promote/", {"reason": "v3"}, format="json")
    assert _champion_in_registry() == 3

    response = api_as(staff).post("/api/models/rollback/", {"reason": "v3 draws noise"}, format="json")
    assert response.status_code == 200 and response.data["to_version"] == second.version_name
    assert _champion_in_registry() == 2 and ModelVersion.objects.get(is_current=True) == second

    api_as(staff).post("/api/models/rollback/", {}, format="json")
    assert _champion_in_registry() == 1 and ModelVersion.objects.get(is_current=True) == champion
    rollbacks = ModelChange.objects.filter(action=ModelChange.Action.ROLLBACK).order_by("id")
    assert [(c.from_version, c.to_version) for c in rollbacks] == [(third, second), (second, champion)]
    assert rollbacks[0].reason == "v3 draws noise"


def test_rollback_without_a_previous_champion_is_400(champion, api_as, staff):
    response = api_as(staff).post("/api/models/rollback/", {}, format="json")
    assert response.status_code == 409 and _champion_in_registry() == 1  # the registry's state refuses it


def test_the_staff_page_lists_versions_and_the_change_log(champion, challenger_factory, client_as, staff):
    challenger_factory(counting=0.7)
    page = client_as(staff).get("/modelops/").content.decode()
    assert "shapes-diffusion-v2" in page and "Promote to champion" in page
    assert "counting 0.70" in page and "Registered at bootstrap" in page


def test_a_job_runs_the_version_it_recorded_from_a_hash_checked_registry_copy(champion, tmp_path, settings):
    from ml_engine.registry import RegistryError
    from modelops.runtime import model_folder, pipeline_cache_clear

    folder = model_folder(champion.source)
    assert folder.is_relative_to(settings.T2I_REGISTRY_CACHE)
    (folder / "model_index.json").write_text("{}")  # the cached copy is changed on disk
    pipeline_cache_clear()
    with pytest.raises(RegistryError, match="does not match"):
        model_folder(champion.source)


def test_a_registry_that_swaps_a_versions_files_and_hash_is_refused(champion, tiny_model_dir, tmp_path, settings):
    """Whoever can write to MLflow re-points a version's hash tag at other files: the database's pin wins."""
    import shutil

    from ml_engine.registry import RegistryError, folder_sha256
    from modelops.models import ModelVersion
    from modelops.runtime import model_folder, pipeline_cache_clear, registry_client
    from modelops.services import model_version_sync

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    (other / "notes.json").write_text('{"swapped": true}')
    registry_client().version_tag(champion.registry_version, {"sha256": folder_sha256(other)})
    model_version_sync()  # the mirror does not take the new tag as the pin
    assert ModelVersion.objects.get(pk=champion.pk).artifact_sha256 == champion.artifact_sha256
    pipeline_cache_clear()
    with pytest.raises(RegistryError, match="not the pinned"):
        model_folder(champion.source)


def test_jobs_follow_the_database_champion_not_the_mlflow_alias(champion, challenger_factory):
    from modelops.runtime import champion_source, registry_client
    from modelops.selectors import model_version_champion

    challenger = challenger_factory()
    registry_client().alias_set("champion", challenger.registry_version)  # a registry write, no promotion
    assert model_version_champion().pk == champion.pk and champion_source() == champion.source


def test_admin_action_promotes_through_the_same_gate(champion, challenger_factory, client_as, staff):
    staff.is_superuser = True  # the admin's model pages need model permissions; a superuser has them all
    staff.save()
    worse = challenger_factory(name="worse", counting=0.1)
    admin = client_as(staff)
    url = "/admin/modelops/modelversion/"

    def act(version):
        form = {"action": "promote_to_champion", "_selected_action": [version.pk], "index": 0, "select_across": 0}
        assert admin.post(url, form).status_code == 302

    act(worse)
    assert _champion_in_registry() == 1  # refused: counting dropped by 0.4
    assert ModelChange.objects.filter(action=ModelChange.Action.REFUSED, to_version=worse).exists()
    better = challenger_factory(name="better", counting=0.8)
    act(better)
    assert _champion_in_registry() == better.registry_version
    assert ModelChange.objects.get(action=ModelChange.Action.PROMOTE).actor == staff


def test_sync_command_mirrors_a_version_registered_outside_the_studio(champion, tiny_model_dir, tmp_path):
    import io

    from django.core.management import call_command

    from modelops.runtime import registry_client

    registry_client().register_folder(tiny_model_dir, alias="challenger", experiment="elsewhere")
    out = io.StringIO()
    call_command("sync_models", stdout=out)

    assert "mirrored shapes-diffusion-v2" in out.getvalue()
    assert ModelVersion.objects.get(registry_version=2).aliases == ["challenger"]


def test_a_new_database_follows_the_champion_an_existing_registry_already_has(db, tiny_model_dir, tmp_path):
    from modelops.runtime import registry_client
    from modelops.services import model_version_bootstrap

    registry = registry_client()
    registry.register_folder(tiny_model_dir, alias="champion")
    registry.register_folder(tiny_model_dir)
    registry.alias_set("champion", 2)  # e.g. a redeploy with the MLflow server kept

    model_version_bootstrap()

    current = ModelVersion.objects.get(is_current=True)
    assert current.registry_version == 2 and current.version_name == "shapes-diffusion-v2"
    assert len(registry.versions()) == 2  # nothing registered twice


def test_the_staff_page_shows_the_human_ratings_of_each_versions_images(champion, client_as, staff, alice, bob):
    from feedback.tests.factories import FeedbackFactory
    from generation.tests.factories import PublicImageFactory

    image = PublicImageFactory(user=alice)  # made by the champion ("diffusion")
    assert image.model_version == champion
    FeedbackFactory(image=image, user=alice, rating=5)
    FeedbackFactory(image=image, user=bob, rating=4)

    page = client_as(staff).get("/modelops/").content.decode()
    row = page.split(f'id="version-{champion.pk}"')[1].split("</tr>")[0]
    assert "4.50 (2)" in row
