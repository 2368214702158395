"""Registering model versions from pipeline folders."""

import json

from modelops.models import ModelVersion
from modelops.services import model_version_bootstrap, model_version_make_current


def test_bootstrap_registers_configured_models_from_the_pipeline_itself(db, tiny_model_dir):
    created = model_version_bootstrap()

    version = ModelVersion.objects.get(version_name="diffusion")
    assert version in created and version.is_current
    assert version.supported_sizes == [[64, 64]]  # read from the loaded pipeline, not assumed
    assert (version.default_steps, version.sampler_name) == (20, "UniPC")
    assert model_version_bootstrap() == []  # idempotent


def test_metrics_beside_the_weights_fill_accuracy_and_loss(db, tiny_model_dir, settings, tmp_path):
    import shutil

    folder = tmp_path / "scored"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "metrics.json").write_text(json.dumps({"accuracy": 0.41, "loss": 0.083}))
    settings.T2I_MODEL_PATHS = {"diffusion": str(tiny_model_dir), "scored": str(folder)}

    model_version_bootstrap()

    scored = ModelVersion.objects.get(version_name="scored")
    assert (scored.accuracy, scored.loss) == (0.41, 0.083)
    assert ModelVersion.objects.get(is_current=True).version_name == "diffusion"  # T2I_DEFAULT_MODEL


def test_training_summary_fills_accuracy_and_loss_when_there_is_no_metrics_file(db, tiny_model_dir, settings, tmp_path):
    import shutil

    folder = tmp_path / "trained"
    shutil.copytree(tiny_model_dir, folder)
    summary = {"curve": [{"step": 10, "overall": 0.2}, {"step": 20, "overall": 0.4}], "loss_curve": [[20, 0.07]]}
    (folder / "training.json").write_text(json.dumps(summary))
    settings.T2I_MODEL_PATHS = {"trained": str(folder)}

    model_version_bootstrap()

    trained = ModelVersion.objects.get(version_name="trained")
    assert (trained.accuracy, trained.loss) == (0.4, 0.07)


def test_without_any_model_the_demo_fallback_registers_an_untrained_one(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("ml_engine.pipelines.loader.bundled_models", lambda: [])
    settings.T2I_MODEL_PATHS = {}

    model_version_bootstrap(demo_fallback_dir=str(tmp_path / "demo"))

    assert list(ModelVersion.objects.values_list("version_name", "is_current")) == [("untrained-demo", True)]


def test_only_one_version_is_current(db):
    from modelops.tests.factories import ModelVersionFactory

    first, second = ModelVersionFactory(version_name="a"), ModelVersionFactory(version_name="b", is_current=False)
    model_version_make_current(version=second)
    first.refresh_from_db()
    assert not first.is_current and ModelVersion.objects.get(is_current=True) == second


def test_a_trained_model_takes_over_from_the_demo_stand_in(db, tiny_model_dir, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("ml_engine.pipelines.loader.bundled_models", lambda: [])
    settings.T2I_MODEL_PATHS = {}
    model_version_bootstrap(demo_fallback_dir=str(tmp_path / "demo"))

    settings.T2I_MODEL_PATHS = {"diffusion": str(tiny_model_dir)}  # the bundled model has arrived
    model_version_bootstrap(demo_fallback_dir=str(tmp_path / "demo"))

    assert ModelVersion.objects.get(is_current=True).version_name == "diffusion"
    assert ModelVersion.objects.filter(version_name="untrained-demo").exists()  # its images keep their version
    from modelops.runtime import registry_client

    # the registry agrees: the demo was version 1 (champion), the trained model is version 2 and now champion
    assert registry_client().alias_version("champion").version == 2
    assert ModelVersion.objects.get(version_name="diffusion").aliases == ["champion"]
