"""Every new Shapes image carries its realism and alignment scores, recorded by the worker just after its job
succeeds, in the API and on the image page; the gallery sorts by them; they export for evaluation; a scorer that
fails never costs a picture."""

import json

from django.core.management import call_command

from generation.models import GenerationJob
from generation.services import generation_job_submit
from generation.tests.factories import GeneratedImageFactory


def _finished(job):
    job.refresh_from_db()
    return job.is_finished


def test_a_job_run_by_the_worker_scores_each_image(worker, alice, wait, client_as):
    job = generation_job_submit(user=alice, text="a red circle", steps=3, seed=5, num_images=2)
    wait(lambda: _finished(job))
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    wait(lambda: job.images.filter(realism_score__isnull=False).count() == 2)  # scored just after it succeeds
    for image in job.images.all():
        assert image.realism_score is not None and image.realism_score >= 0
        assert 0 <= image.alignment_score <= 1
        assert image.scores["realism"] == round(image.realism_score, 4)
        assert 0 <= image.scores["realism_percentile"] <= 100 and image.scores["judge"]

    image = job.images.first()
    data = client_as(alice).get(f"/api/images/{image.pk}/").json()
    assert (data["realism_score"], data["alignment_score"]) == (image.realism_score, image.alignment_score)
    html = client_as(alice).get(f"/images/{image.pk}/").content.decode()
    assert "Matches the prompt" in html and "Realism" in html and "of real renders" in html


def test_a_failing_scorer_leaves_the_scores_empty_and_the_job_succeeds(worker, alice, wait, monkeypatch):
    from generation import scoring

    class Broken:
        calibration = None

        def __call__(self, images, prompts):
            raise RuntimeError("scorer down")

    monkeypatch.setattr(scoring, "_scorer", lambda: Broken())
    job = generation_job_submit(user=alice, text="a blue square", steps=2, seed=9)
    wait(lambda: _finished(job))
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    second = generation_job_submit(user=alice, text="a green cross", steps=2, seed=3)  # the worker went on
    wait(lambda: _finished(second))
    assert second.status == GenerationJob.Status.SUCCEEDED, second.error
    image = job.images.get()
    assert (image.realism_score, image.alignment_score, image.scores) == (None, None, {})


def test_the_gallery_and_the_api_sort_by_each_score(client_as, alice, model_version):
    low = GeneratedImageFactory(user=alice, alignment_score=0.2, realism_score=1.4)
    high = GeneratedImageFactory(user=alice, alignment_score=0.9, realism_score=0.6)
    unscored = GeneratedImageFactory(user=alice)  # newest, but without scores: last when sorting by one
    client = client_as(alice)

    def order(sort):
        page = client.get(f"/images/?sort={sort}").context["page"]
        return [image.pk for image in page.object_list]

    assert order("alignment") == [high.pk, low.pk, unscored.pk]
    assert order("realism") == [low.pk, high.pk, unscored.pk]
    assert order("newest") == [unscored.pk, high.pk, low.pk]
    assert order("nonsense") == order("newest")  # an old link still shows the gallery
    api = client.get("/api/images/?sort=alignment").json()
    assert [row["id"] for row in api["results"]] == [high.pk, low.pk, unscored.pk]
    assert client.get("/api/images/?sort=nonsense").status_code == 400


def test_scores_export_as_json_lines_for_evaluation(alice, model_version, tmp_path):
    scored = GeneratedImageFactory(
        user=alice,
        realism_score=1.2,
        alignment_score=0.8,
        scores={"realism": 1.2, "realism_percentile": 61.0, "alignment": 0.8, "judge": "GANDiscriminator"},
    )
    GeneratedImageFactory(user=alice)  # not scored: not exported
    out = tmp_path / "scores.jsonl"
    call_command("export_image_scores", out=str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1
    assert rows[0]["image"] == scored.pk and rows[0]["alignment"] == 0.8 and rows[0]["realism_percentile"] == 61.0
    assert rows[0]["model"] == "diffusion" and rows[0]["rating_count"] == 0
