"""The whole loop with a real Celery worker: a tiny model is trained and registered as challenger by the
pipeline command, evaluated by the worker, promoted through the staff API, and the next job records it."""

import pytest
from PIL import Image

from generation.models import GenerationJob
from modelops.models import ModelVersion
from modelops.runtime import registry_client

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_trained_registered_evaluated_promoted_version_serves_the_next_job(
    held_enqueue, worker, api_as, staff, alice, wait, settings, tmp_path, monkeypatch
):
    from ml_engine.cli.pipeline_cmd import PipelineConfig, pipeline_run, tiny_autoencoder_config, tiny_diffusion_config
    from modelops.services import model_version_bootstrap, model_version_sync

    model_version_bootstrap()  # a fresh install: the bundled (tiny) model is version 1, champion
    first = ModelVersion.objects.get(is_current=True)
    assert first.registry_version == 1

    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.MLFLOW_TRACKING_URI)  # pipeline_run sets it; restored after
    out = str(tmp_path / "pipeline")
    result = pipeline_run(
        PipelineConfig(
            out=out,
            diffusion=tiny_diffusion_config(out, ""),
            autoencoder=tiny_autoencoder_config(out),
            data_images=8,
            eval_per_category=1,
            tracking_uri=settings.MLFLOW_TRACKING_URI,
        )
    )
    assert result.version == 2 and registry_client().alias_version("challenger").version == 2

    model_version_sync()
    trained = ModelVersion.objects.get(registry_version=2)
    assert trained.aliases == ["challenger"] and trained.run_id == result.training_run_id

    for version in (first, trained):  # the evaluation job runs on the worker
        assert api_as(staff).post(f"/api/models/{version.pk}/evaluate/").status_code == 202
    wait(lambda: ModelVersion.objects.filter(evaluated_at__isnull=False).count() == 2, timeout=120)
    trained.refresh_from_db()
    assert "overall" in trained.alignment and trained.accuracy == trained.alignment["overall"]
    assert "eval_run_id" in registry_client().version(2).tags  # stored in MLflow too
    assert list((settings.T2I_TENSORBOARD_DIR / "eval-shapes-diffusion-v2").glob("events.out.tfevents.*"))

    def submit(**extra) -> int:
        body = {"prompt": "a red circle", "steps": 2, **extra}
        return api_as(alice).post("/api/jobs/", body, format="json").data["id"]

    queued_before = submit()  # queued while the old champion serves; runs after the promotion
    pinned = submit(model=first.version_name)  # names its version: stays on it

    # both tiny models score near zero; a wide margin keeps this test about the loop (the gate has its own tests)
    settings.T2I_PROMOTION_MARGIN = 1.0
    response = api_as(staff).post(f"/api/models/{trained.pk}/promote/", {"reason": "pipeline run"}, format="json")
    assert response.status_code == 200, response.data
    assert registry_client().alias_version("champion").version == 2

    submitted_after = submit()
    held_enqueue.release()
    for job_id in (queued_before, pinned, submitted_after):
        wait(lambda job_id=job_id: GenerationJob.objects.get(pk=job_id).is_finished, timeout=60)
    jobs = {job.pk: job for job in GenerationJob.objects.filter(pk__in=[queued_before, pinned, submitted_after])}
    assert all(job.status == GenerationJob.Status.SUCCEEDED for job in jobs.values()), [j.error for j in jobs.values()]
    # the worker followed the promotion without a restart, loading v2 from its hash-checked registry copy
    assert jobs[submitted_after].model_version == trained and jobs[queued_before].model_version == trained
    assert jobs[pinned].model_version == first
    for job_id, version in ((submitted_after, trained), (pinned, first)):
        image = jobs[job_id].images.get()
        assert image.model_version == version
        with image.file.open("rb") as f:
            assert f"Model: {version.version_name}" in Image.open(f).text["parameters"]
