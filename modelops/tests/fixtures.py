"""Registry fixtures: the tiny model bootstrapped as version 1 (champion), a copy registered as version 2
(challenger), each with alignment scores that the tests choose."""

import shutil

import pytest


def register_copy(tiny_model_dir, tmp_path, *, name: str, scores: dict[str, float], alias: str | None = "challenger"):
    """A byte-different copy of the tiny pipeline registered in the test's store, then mirrored."""
    from modelops.runtime import registry_client
    from modelops.services import model_version_sync

    folder = tmp_path / name
    shutil.copytree(tiny_model_dir, folder)
    (folder / "notes.json").write_text(f'{{"name": "{name}"}}')  # a different artifact hash
    registry = registry_client()
    info = {"supported_sizes": [[64, 64]], "default_steps": 20, "default_guidance": 4.0, "sampler_name": "DPM++ 2M"}
    registered = registry.register_folder(
        folder, alias=alias, pipeline_info=info, tags={f"eval.{k}": str(v) for k, v in scores.items()}
    )
    model_version_sync()
    from modelops.models import ModelVersion

    return ModelVersion.objects.get(registry_version=registered.version)


CHAMPION_SCORES = {"single_object": 0.9, "counting": 0.5, "position": 0.4, "overall": 0.6}


@pytest.fixture
def champion(db, tiny_model_dir):
    """The bundled (tiny) model after a fresh install: registry version 1, alias champion, scored."""
    from modelops.models import ModelVersion
    from modelops.runtime import registry_client
    from modelops.services import model_version_bootstrap, model_version_sync

    model_version_bootstrap()
    version = ModelVersion.objects.get(is_current=True)
    registry_client().version_tag(version.registry_version, {f"eval.{k}": v for k, v in CHAMPION_SCORES.items()})
    model_version_sync()
    version.refresh_from_db()
    return version


@pytest.fixture
def challenger_factory(champion, tiny_model_dir, tmp_path):
    def make(name: str = "challenger", **scores):
        return register_copy(tiny_model_dir, tmp_path, name=name, scores={**CHAMPION_SCORES, **scores})

    return make
