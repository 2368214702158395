"""Generation jobs (the database is the source of truth for their life) and the images they produce."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    prompt = models.OneToOneField("prompts.TextPrompt", on_delete=models.CASCADE, related_name="job")
    model_version = models.ForeignKey("modelops.ModelVersion", on_delete=models.PROTECT, related_name="jobs")
    # named no model: the worker runs whichever version holds the champion alias when the job starts (and
    # records it here), so a promotion reaches queued jobs too; a named version (or a re-run) is pinned
    follows_champion = models.BooleanField(default=False)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)  # 0..1, denoising steps done / total
    step = models.PositiveSmallIntegerField(default=0)
    total_steps = models.PositiveSmallIntegerField(default=0)
    preview = models.TextField(blank=True)  # latest preview as a data: URL, for late joiners
    cancel_requested = models.BooleanField(default=False)  # the worker's step callback polls this
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # claims by a worker; capped (T2I_JOB_MAX_ATTEMPTS)
    # the lease of the worker running the job (generation.leases): who (host:pid:token) and until when; the step
    # callback renews it, and every write a worker makes is conditioned on it, so a worker that lost it stops
    # a re-run of an image made in a shared call runs in that call's layout: `layout_rows` rows (0: any layout,
    # shared freely), its image at row `layout_row` (generation.batching)
    layout_rows = models.PositiveSmallIntegerField(default=0)
    layout_row = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=160, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # when its latest run message was sent: the reconciler sends another only when that one is gone
    enqueued_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def queue_seconds(self) -> float | None:
        return (self.started_at - self.created_at).total_seconds() if self.started_at else None

    @property
    def run_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


def image_upload_to(image: "GeneratedImage", filename: str) -> str:
    return f"images/{image.user_id}/{filename}"


class GeneratedImage(models.Model):
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="images")
    prompt = models.ForeignKey("prompts.TextPrompt", on_delete=models.CASCADE, related_name="images")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    model_version = models.ForeignKey("modelops.ModelVersion", on_delete=models.PROTECT, related_name="images")
    file = models.FileField(upload_to=image_upload_to)  # PNG in default storage, with an infotext chunk
    index = models.PositiveSmallIntegerField(default=0)  # position within its job
    seed = models.BigIntegerField()  # re-running with this seed, in the same layout, reproduces the image
    # the pipeline call that made it: `batch_rows` images (of one or several jobs), this one at `batch_row`
    batch_rows = models.PositiveSmallIntegerField(default=1)
    batch_row = models.PositiveSmallIntegerField(default=0)
    width = models.PositiveSmallIntegerField()
    byte_size = models.PositiveIntegerField(default=0)  # the PNG and its attention maps: the stored-bytes quota
    height = models.PositiveSmallIntegerField()
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    # per-image scores, computed by the worker as the image is made (ml_engine.evaluation.image_scores), for Shapes
    # images: the realism score against the real renders' manifold (>= 1: inside it) and the ranking judge's
    # calibrated chance that the image shows its prompt; `scores` adds the realism percentile and the judge
    realism_score = models.FloatField(null=True, blank=True)
    alignment_score = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    # what each prompt word attended to (ml_engine.attention), when the model gives it: the words in order,
    # and their heat maps as one grayscale PNG with word i in rows i*h..(i+1)*h (AttentionMaps.to_sprite)
    attention_words = models.JSONField(default=list, blank=True)
    attention_maps = models.FileField(upload_to=image_upload_to, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "index"]
        indexes = [models.Index(fields=["visibility", "-created_at"]), models.Index(fields=["user", "-created_at"])]
        # exactly-once results: however often a job is delivered or retried, it has one image per index
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="generation_image_one_per_job_index")]

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def has_attention(self) -> bool:
        return bool(self.attention_words and self.attention_maps)

    def __str__(self) -> str:
        return f"image {self.pk} of job {self.job_id}"
