"""Model versions: which weights produced an image. Promotion (champion/challenger) comes in a later issue."""

from django.db import models


class ModelVersion(models.Model):
    version_name = models.CharField(max_length=100, unique=True)  # what the API's "model" field names
    source = models.CharField(max_length=500)  # a bundled name (ml_engine/weights/<name>) or a folder
    accuracy = models.FloatField(null=True, blank=True)  # prompt-following score from the evaluator, 0..1
    loss = models.FloatField(null=True, blank=True)  # final training loss
    created_at = models.DateTimeField(auto_now_add=True)
    is_current = models.BooleanField(default=False)  # the version used when a request names none
    # read from the pipeline at registration, so the web process validates sizes without loading torch
    supported_sizes = models.JSONField(default=list)  # [[width, height], ...]
    default_steps = models.PositiveSmallIntegerField(default=20)
    default_guidance = models.FloatField(default=4.0)
    sampler_name = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-is_current", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=models.Q(is_current=True), name="one_current")
        ]

    def supports(self, width: int, height: int) -> bool:
        return [width, height] in [list(size) for size in self.supported_sizes]

    @property
    def sizes_label(self) -> str:
        return ", ".join(f"{w}x{h}" for w, h in self.supported_sizes)

    def __str__(self) -> str:
        return self.version_name
